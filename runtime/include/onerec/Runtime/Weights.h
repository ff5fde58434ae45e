//===- Weights.h - the parameters an executor reads -------------*- C++ -*-===//
//
// A ParameterStore holds one TensorView per plan parameter. It starts out
// pointing at the plan's own initial values (in the read-only mapping, so
// nothing is copied for serving), and loading a checkpoint replaces them with
// owned buffers after checking that the checkpoint matches the plan exactly:
// every parameter present with the plan's dtype and shape, nothing else.
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

class ParameterStore {
public:
  /// Views of the plan's initial values. `plan` must outlive the store.
  explicit ParameterStore(const PlanFile &plan);

  size_t size() const { return views_.size(); }
  const std::string &name(size_t index) const { return names_[index]; }
  /// The current values of parameter `index`. Writable only after
  /// makeWritable(); until then the bytes may be a read-only mapping.
  const TensorView &view(size_t index) const { return views_[index]; }
  /// True when every parameter's bytes are owned (and so writable).
  bool isWritable() const;
  /// Copies the parameters still in the plan's mapping into owned buffers.
  Status makeWritable();

  /// Replaces every parameter with the tensor of the same name in the
  /// safetensors file at `path`. The file must hold exactly the plan's
  /// parameters with their dtypes and shapes; otherwise nothing changes
  /// and the error names each offending tensor.
  Status loadSafetensors(const std::string &path);
  /// Writes every parameter under its plan name.
  Status saveSafetensors(
      const std::string &path,
      const std::map<std::string, std::string> &metadata = {}) const;

private:
  const PlanFile &plan_;
  std::vector<std::string> names_;
  std::vector<TensorView> views_;
  /// Owned storage, per parameter; empty while it still views the plan.
  std::vector<HostTensor> owned_;
};

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_WEIGHTS_H
