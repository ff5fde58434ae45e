//===- Weights.h - the parameters an executor reads -------------*- C++ -*-===//
//
// A ParameterStore holds one TensorView per plan parameter. Weights start out
// pointing at the plan's own initial values (in the read-only mapping, so
// nothing is copied for serving); optimizer state (format 1.1) is not stored
// in the plan and starts from its initializer (zeros) in owned, writable
// memory. Loading a checkpoint replaces the parameters with owned buffers
// after checking that the checkpoint matches the plan exactly: every weight
// present with the plan's dtype and shape, nothing else; optimizer state may
// be missing (a weights-only checkpoint), and is then reset to zeros.
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
  /// to their initial values (zeros), as for a fresh optimizer.
  std::vector<std::string> stateReset;
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
  /// makeWritable(); until then the bytes may be a read-only mapping.
  const TensorView &view(size_t index) const { return views_[index]; }
  /// True when every parameter's bytes are owned (and so writable).
  bool isWritable() const;
  /// Copies the parameters still in the plan's mapping into owned buffers
  /// (training updates them in place).
  Status makeWritable();
  /// Sets every optimizer-state parameter back to its initial value.
  void resetOptimizerState();

  /// Replaces every parameter with the tensor of the same name in the
  /// safetensors file at `path`. The file must hold exactly the plan's
  /// weights with their dtypes and shapes, and may hold its optimizer state;
  /// otherwise nothing changes and the error names each offending tensor.
  /// State the file lacks is reset to zeros and listed in `report`.
  Status loadSafetensors(const std::string &path,
                         CheckpointLoadReport *report = nullptr);
  /// Writes every parameter under its plan name (optimizer state included
  /// unless `withOptimizerState` is false).
  Status
  saveSafetensors(const std::string &path,
                  const std::map<std::string, std::string> &metadata = {},
                  bool withOptimizerState = true) const;

private:
  void initializeState(size_t index);

  const PlanFile &plan_;
  std::vector<std::string> names_;
  std::vector<TensorView> views_;
  std::vector<bool> isState_;
  /// Owned storage, per parameter; empty while it still views the plan.
  std::vector<HostTensor> owned_;
};

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_WEIGHTS_H
