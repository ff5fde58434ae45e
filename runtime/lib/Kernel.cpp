//===- Kernel.cpp - the kernel registry -----------------------------------===//

#include "onerec/Runtime/Kernel.h"

#include <string>

namespace onerec::runtime {

const char *dtypeName(DType t) {
  switch (t) {
  case DType::f32:
    return "f32";
  case DType::f16:
    return "f16";
  case DType::bf16:
    return "bf16";
  case DType::bool8:
    return "bool";
  case DType::i32:
    return "i32";
  case DType::i64:
    return "i64";
  }
  return "?";
}

std::string Shape::toString() const {
  std::string s = "[";
  for (int i = 0; i < rank; ++i)
    s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

const char *deviceName(Device d) { return d == Device::Cpu ? "cpu" : "cuda"; }
const char *variantName(KernelVariant v) {
  return v == KernelVariant::Reference ? "reference" : "optimized";
}

Status KernelCall::fail(std::string message) const {
  std::string where =
      location.empty() ? std::string() : std::string(location) + ": ";
  return Status::error(Status::Code::InvalidArgument, where + message);
}

void KernelRegistry::add(OpCode op, DType dtype, Device device,
                         KernelVariant variant, KernelFn fn) {
  table_[{op, dtype, device, variant}] = fn;
}

KernelFn KernelRegistry::find(OpCode op, DType dtype, Device device,
                              KernelVariant variant) const {
  auto it = table_.find({op, dtype, device, variant});
  return it == table_.end() ? nullptr : it->second;
}

KernelFn KernelRegistry::findBest(OpCode op, DType dtype, Device device) const {
  if (KernelFn fn = find(op, dtype, device, KernelVariant::Optimized))
    return fn;
  return find(op, dtype, device, KernelVariant::Reference);
}

} // namespace onerec::runtime
