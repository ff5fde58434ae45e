//===- Executor.h - runs one entry of a plan on the CPU ---------*- C++ -*-===//
//
// An Executor is made once per (plan, entry): it resolves every kernel in the
// registry, decodes attributes and allocates the entry's arena (sized for the
// dims' maxima, 64-byte aligned, reused by every call). Each run then:
//
//   1. matches the given inputs to the entry's inputs by name, and binds the
//      symbolic dims from their shapes (dtype, rank, static extents, a
//      consistent value per symbol within [minimum, max], ids below their
//      index_bound), with an error that names the input and position;
//   2. computes every tensor's concrete shape and builds its view (arena
//      bytes, a parameter of the store, or the caller's buffer);
//   3. runs the kernels in order (each kernel checks the data-dependent
//      indices it follows: gather indices, embedding ids, labels);
//   4. copies the entry's outputs into owned tensors.
//
// Together with the validator this means no plan, weights or input can make
// a kernel touch memory outside its tensors.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_EXECUTOR_H
#define ONEREC_RUNTIME_EXECUTOR_H

#include "onerec/Runtime/HostTensor.h"
#include "onerec/Runtime/Kernel.h"
#include "onerec/Runtime/PlanFile.h"
#include "onerec/Runtime/Safetensors.h"
#include "onerec/Runtime/Status.h"
#include "onerec/Runtime/TensorIO.h"
#include "onerec/Runtime/ThreadPool.h"
#include "onerec/Runtime/Weights.h"

#include <array>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace onerec::runtime {

struct ExecutorOptions {
  /// Force one kernel variant (`--kernels=reference`); by default the
  /// optimized kernel of each op, or its reference kernel where there is none.
  std::optional<KernelVariant> variant;
  /// Intra-op threads; 0 = one per core (or ONEREC_NUM_THREADS).
  unsigned threads = 0;
  /// RNG seed; by default the plan's.
  std::optional<uint64_t> seed;
  /// Whether dropout draws masks. Unset: in Grad and TrainStep entries it
  /// does, in the others it is the identity; set, it forces either way.
  std::optional<bool> training;
  /// Time every kernel (see Executor::profile).
  bool profile = false;
};

/// Time spent in the kernels of one op kind.
struct OpProfile {
  plan::OpCode op;
  uint64_t calls = 0;
  double seconds = 0;
};

class Executor {
public:
  /// Prepares entry `entryName` of `plan`, reading parameters from `params`.
  /// `plan`, `params` and `registry` must outlive the executor.
  static StatusOr<std::unique_ptr<Executor>>
  create(const PlanFile &plan, std::string_view entryName,
         ParameterStore &params, const KernelRegistry &registry,
         const ExecutorOptions &options = {});
  ~Executor();

  const plan::Entry &entry() const { return entry_; }
  /// The dtype each entry input must have, by name (to read JSON inputs).
  DTypeByName inputDTypes() const;

  /// Runs the entry once. `inputs` are named like the entry's inputs (each
  /// given exactly once); the outputs are named like its outputs. One call
  /// at a time: the arena and the views are the executor's own (make one
  /// executor per thread to run concurrently). A TrainStep entry updates
  /// the parameter store in place, which must be writable
  /// (ParameterStore::makeWritable).
  StatusOr<std::vector<NamedTensor>>
  run(const std::vector<NamedTensorView> &inputs);

  /// The RNG step the next run uses (dropout masks are a function of seed,
  /// step and the op's stream). Each run advances it by one; a trainer sets
  /// it (to the update number, say) so that a resumed run draws the same
  /// masks as an uninterrupted one.
  void setStep(uint64_t step) { step_ = step; }
  uint64_t step() const { return step_; }
  /// Whether dropout draws masks in this executor's runs.
  bool training() const { return training_; }

  /// Kernel time per op kind over every run so far (with options.profile),
  /// the most expensive first.
  std::vector<OpProfile> profile() const;
  /// Wall time of the last run, in seconds.
  double lastRunSeconds() const { return lastRunSeconds_; }
  /// True when the last run bound every dim the entry uses to its maximum,
  /// so that Entry.flops is exactly the work it did.
  bool lastRunAtMaxima() const;

private:
  struct PreparedKernel;
  Executor(const PlanFile &plan, const plan::Entry &entry,
           ParameterStore &params, const ExecutorOptions &options);
  Status bindInputs(const std::vector<NamedTensorView> &inputs,
                    std::vector<const TensorView *> &byInput);
  Status checkIds(const plan::Binding &binding, const TensorView &view) const;
  /// A TrainStep entry needs a writable parameter store.
  Status checkWritable() const;
  void buildViews(const std::vector<const TensorView *> &byInput);
  /// For a reserved arena: fails cleanly when the bytes this binding
  /// touches beyond earlier runs exceed the available memory.
  Status checkArenaFits();
  std::string kernelWhere(uint32_t index) const;

  const PlanFile &plan_;
  const plan::Entry &entry_;
  int entryIndex_ = 0;
  ParameterStore &params_;
  ExecutorOptions options_;
  std::unique_ptr<ThreadPool> pool_;
  AlignedBuffer arena_;
  std::vector<PreparedKernel> kernels_;
  /// Per plan dim: whether the entry uses it, and its value in this run (its
  /// minimum comes from the validator's facts about the plan).
  std::vector<bool> dimUsed_;
  std::vector<int64_t> dims_;
  /// Per entry tensor: the view of the current run.
  std::vector<TensorView> views_;
  std::vector<OpProfile> profile_;
  uint64_t step_ = 0;
  /// A training entry's arena is reserved address space (see create); the
  /// most of it a run has touched so far.
  bool arenaReserved_ = false;
  uint64_t arenaTouched_ = 0;
  bool training_ = false;
  bool hasRun_ = false;
  double lastRunSeconds_ = 0;
};

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_EXECUTOR_H
