//===- Kernel.h - the kernel calling convention and registry --------------===//
//
// A kernel computes one plan op on one device. It receives its operands and
// results as bound TensorViews (shapes already concrete, results already
// allocated), its attributes decoded once at load time, and the context of
// the call (thread pool, training flag, RNG position). Kernels are found in
// one registry keyed by (op, dtype, device, variant) and filled by explicit
// registration calls (registerCpuKernels ...): static initializers in static
// libraries are dropped by the linker.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_KERNEL_H
#define ONEREC_RUNTIME_KERNEL_H

#include "onerec/Runtime/Status.h"
#include "onerec/Runtime/Tensor.h"
#include "plan_generated.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

namespace onerec::runtime {

class ThreadPool;
using plan::OpCode;

/// A kernel's attributes, decoded from the plan once (see
/// docs/plan-format.md for each op's names and kinds).
class KernelAttrs {
public:
  using Value = std::variant<int64_t, double, std::vector<int64_t>>;

  void set(std::string name, Value value) {
    entries_.emplace_back(std::move(name), std::move(value));
  }
  bool has(std::string_view name) const { return find(name) != nullptr; }
  /// True when `name` is present and an integer.
  bool holdsInt(std::string_view name) const {
    const Value *v = find(name);
    return v && std::holds_alternative<int64_t>(*v);
  }
  /// The integer attribute `name`, or `fallback` when absent or not an int.
  int64_t getInt(std::string_view name, int64_t fallback = 0) const {
    const Value *v = find(name);
    return v && std::holds_alternative<int64_t>(*v) ? std::get<int64_t>(*v)
                                                    : fallback;
  }
  /// A float attribute (an integer one converts).
  double getFloat(std::string_view name, double fallback = 0) const {
    const Value *v = find(name);
    if (v && std::holds_alternative<double>(*v))
      return std::get<double>(*v);
    if (v && std::holds_alternative<int64_t>(*v))
      return static_cast<double>(std::get<int64_t>(*v));
    return fallback;
  }
  const std::vector<int64_t> &getInts(std::string_view name) const {
    static const std::vector<int64_t> empty;
    const Value *v = find(name);
    return v && std::holds_alternative<std::vector<int64_t>>(*v)
               ? std::get<std::vector<int64_t>>(*v)
               : empty;
  }
  const std::vector<std::pair<std::string, Value>> &entries() const {
    return entries_;
  }

private:
  const Value *find(std::string_view name) const {
    for (const auto &[key, value] : entries_)
      if (key == name)
        return &value;
    return nullptr;
  }
  std::vector<std::pair<std::string, Value>> entries_;
};

/// What every kernel call may use besides its operands.
struct KernelContext {
  /// Intra-op parallelism; never null during execution.
  ThreadPool *pool = nullptr;
  /// True in training entries: dropout draws masks, otherwise it is identity.
  bool training = false;
  /// Counter-based RNG position: (seed, step) plus the op's own stream.
  uint64_t seed = 0;
  uint64_t step = 0;
};

/// One kernel invocation. Absent optional operands have data == nullptr.
struct KernelCall {
  const TensorView *inputs = nullptr;
  int numInputs = 0;
  TensorView *outputs = nullptr;
  int numOutputs = 0;
  const KernelAttrs *attrs = nullptr;
  KernelContext *context = nullptr;
  /// `model.rdsl:12:7` of the op, for messages.
  std::string_view location;
  /// 1.2: the program of a Fused kernel (validated with the plan); null for
  /// every other op.
  const plan::FusedProgram *program = nullptr;

  const TensorView &in(int i) const { return inputs[i]; }
  TensorView &out(int i) const { return outputs[i]; }
  const KernelAttrs &attr() const { return *attrs; }
  /// An InvalidArgument status that names the op's location.
  Status fail(std::string message) const;
};

using KernelFn = Status (*)(const KernelCall &call);

enum class Device : uint8_t { Cpu = 0, Cuda = 1 };
/// Every op has a plain reference kernel (obviously correct) and an
/// optimized one; tests hold the optimized to the reference.
enum class KernelVariant : uint8_t { Reference = 0, Optimized = 1 };

const char *deviceName(Device d);
const char *variantName(KernelVariant v);

/// The kernels this process can run, keyed by (op, dtype, device, variant).
/// The dtype of the key is that of the kernel's first operand (of its first
/// result for ops without operands, such as Constant and Iota).
class KernelRegistry {
public:
  void add(OpCode op, DType dtype, Device device, KernelVariant variant,
           KernelFn fn);
  /// The kernel for the key, or null.
  KernelFn find(OpCode op, DType dtype, Device device,
                KernelVariant variant) const;
  /// The optimized kernel, falling back to the reference one; null if neither.
  KernelFn findBest(OpCode op, DType dtype, Device device) const;
  size_t size() const { return table_.size(); }

private:
  std::map<std::tuple<OpCode, DType, Device, KernelVariant>, KernelFn> table_;
};

/// The registry with every kernel of this build registered.
const KernelRegistry &defaultKernelRegistry();

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_KERNEL_H
