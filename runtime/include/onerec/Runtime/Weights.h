//===- Weights.h - the parameters an executor reads -------------*- C++ -*-===//
//
// A ParameterStore holds one TensorView per plan parameter. Weights start out
// pointing at the plan's own initial values (in the read-only mapping, so
// nothing is copied for serving). Optimizer state (format 1.1) is not stored
// in the plan and is allocated lazily: its view is null until makeWritable()
// or an executor of an entry that references it (a TrainStep) allocates it,
// in owned memory at its initializer (Zeros, Ones or Constant). Serving a
// training plan therefore holds no state memory. Loading a checkpoint
// replaces the parameters with owned buffers after checking that the
// checkpoint matches the plan exactly: every weight present with the plan's
// dtype and shape, nothing else but optimizer state. The plan's optimizer
// state may be missing (a weights-only checkpoint), and then restarts from
// its initializer; state of the plan's weights that the plan lacks
// (`<w>.adam_m` in an SGD plan, say) is ignored and reported.
//
// Flat buffers (1.2): the parameters a multi-tensor update
// (MultiAdamWUpdate, MultiSgdUpdate) of a TrainStep entry writes get owned
// memory back to back, in the kernel's order: one buffer for the weights,
// one per kind of optimizer state (m, v or momentum). The update then runs
// as one flat loop over each buffer. Views, checkpoints and names are per
// parameter as before; only where the bytes live changes.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_WEIGHTS_H
#define ONEREC_RUNTIME_WEIGHTS_H

#include "onerec/Runtime/HostTensor.h"
#include "onerec/Runtime/PlanFile.h"
#include "onerec/Runtime/Status.h"
#include "onerec/Runtime/Tensor.h"

#include <map>
#include <string>
#include <vector>

namespace onerec::runtime {

/// What ParameterStore::loadSafetensors did besides loading the weights.
struct CheckpointLoadReport {
  /// Optimizer-state parameters the checkpoint did not hold; they were reset
  /// to their initial values, as for a fresh optimizer.
  std::vector<std::string> stateReset;
  /// Tensors of the checkpoint named like optimizer state of a plan weight
  /// (`<w>.adam_m`, `.adam_v`, `.momentum`, `.grad_acc`) that the plan does
  /// not have; they were not loaded.
  std::vector<std::string> stateIgnored;
};

class ParameterStore {
public:
  /// Views of the plan's initial values. `plan` must outlive the store.
  explicit ParameterStore(const PlanFile &plan);

  size_t size() const { return views_.size(); }
  const std::string &name(size_t index) const { return names_[index]; }
  /// True for optimizer state (moments, momentum, accumulators).
  bool isOptimizerState(size_t index) const { return isState_[index]; }
  /// The current values of parameter `index`. Writable only after
  /// makeWritable(); until then the bytes may be a read-only mapping. Null
  /// for optimizer state not allocated yet (isStateAllocated).
  const TensorView &view(size_t index) const { return views_[index]; }
  /// True when every parameter's bytes are owned (and so writable);
  /// unallocated optimizer state counts as owned.
  bool isWritable() const;
  /// Copies the parameters still in the plan's mapping into owned buffers
  /// (training updates them in place) and allocates all optimizer state.
  Status makeWritable();
  /// Gives optimizer-state parameter `index` owned memory at its initial
  /// value unless it has some already (Executor::create calls it for the
  /// state its entry references); no-op for weights.
  void allocateOptimizerState(size_t index);
  /// True for optimizer state that has memory.
  bool isStateAllocated(size_t index) const;
  /// Bytes held by allocated optimizer state.
  size_t optimizerStateBytes() const;
  /// Sets every allocated optimizer-state parameter back to its initial
  /// value (the initializer the plan gives it: zeros for the moments).
  void resetOptimizerState();
  /// The flat buffer parameter `index` belongs to (its members' views lie
  /// back to back in it once it is allocated), or -1.
  int flatBufferOf(size_t index) const { return flatOf_[index]; }
  /// True once flat buffer `buffer` has memory (makeWritable() for weights,
  /// the first allocation of one of its members for state).
  bool isFlatBufferAllocated(int buffer) const {
    return flat_[size_t(buffer)].storage.data() != nullptr;
  }

  /// Replaces every parameter with the tensor of the same name in the
  /// safetensors file at `path`. The file must hold exactly the plan's
  /// weights with their dtypes and shapes, and may hold its optimizer state;
  /// otherwise nothing changes and the error names each offending tensor.
  /// State the file lacks is reset to its initial value and listed in
  /// `report`; state of a plan weight that the plan lacks is skipped and
  /// listed in `report` too.
  Status loadSafetensors(const std::string &path,
                         CheckpointLoadReport *report = nullptr);
  /// Writes every parameter under its plan name (optimizer state included
  /// unless `withOptimizerState` is false; state never allocated is written
  /// at its initial value).
  Status
  saveSafetensors(const std::string &path,
                  const std::map<std::string, std::string> &metadata = {},
                  bool withOptimizerState = true) const;

private:
  /// Parameters whose bytes lie back to back in one owned buffer.
  struct FlatBuffer {
    std::vector<size_t> members;
    HostTensor storage;
  };

  /// Allocates (if needed) and fills state `index` with its initial value.
  void initializeState(size_t index);
  float stateInitialValue(size_t index) const;
  /// True when parameter `index` has owned bytes (its own or a flat
  /// buffer's).
  bool hasOwnedBytes(size_t index) const;
  /// Groups the parameters of each multi-tensor update into flat buffers.
  void findFlatBuffers();
  /// Gives flat buffer `buffer` memory: members' current values are moved
  /// in (weights from the plan or a loaded checkpoint, state that was
  /// loaded), state that has none starts at its initializer.
  void allocateFlatBuffer(int buffer);

  const PlanFile &plan_;
  std::vector<std::string> names_;
  std::vector<TensorView> views_;
  std::vector<bool> isState_;
  /// Owned storage, per parameter; empty while it still views the plan,
  /// and for members of an allocated flat buffer.
  std::vector<HostTensor> owned_;
  std::vector<FlatBuffer> flat_;
  /// Per parameter: its flat buffer, or -1.
  std::vector<int> flatOf_;
};

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_WEIGHTS_H
