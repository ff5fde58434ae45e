//===- RegistryTest.cpp - every op has both CPU kernels -------------------===//

#include "onerec/Kernels/CpuKernels.h"

#include <gtest/gtest.h>

using namespace onerec::runtime;

namespace {

bool hasBoth(const KernelRegistry &r, OpCode op, DType t) {
  return r.find(op, t, Device::Cpu, KernelVariant::Reference) &&
         r.find(op, t, Device::Cpu, KernelVariant::Optimized);
}

TEST(KernelRegistry, EveryOpHasReferenceAndOptimizedCpuKernels) {
  const KernelRegistry &r = defaultKernelRegistry();
  EXPECT_EQ(&r, &defaultKernelRegistry());
  for (OpCode op : onerec::plan::EnumValuesOpCode()) {
    bool any = false;
    for (DType t : {DType::f32, DType::f16, DType::bf16, DType::bool8,
                    DType::i32, DType::i64})
      any = any || hasBoth(r, op, t);
    EXPECT_TRUE(any) << "no CPU kernels for "
                     << onerec::plan::EnumNameOpCode(op);
  }
}

TEST(KernelRegistry, IdAndBooleanOpsAreKeyedByTheirOperandTypes) {
  const KernelRegistry &r = defaultKernelRegistry();
  struct Key {
    OpCode op;
    DType dtype;
  };
  for (Key k : {Key{OpCode::Cmp, DType::i64},
                Key{OpCode::Cmp, DType::f32},
                Key{OpCode::Select, DType::bool8},
                Key{OpCode::Cast, DType::bool8},
                Key{OpCode::Cast, DType::i64},
                Key{OpCode::Not, DType::bool8},
                Key{OpCode::And, DType::bool8},
                Key{OpCode::Or, DType::bool8},
                Key{OpCode::Gather, DType::f32},
                Key{OpCode::Gather, DType::i64},
                Key{OpCode::Hash, DType::i64},
                Key{OpCode::Hash, DType::i32},
                Key{OpCode::Iota, DType::i64},
                Key{OpCode::Iota, DType::f32},
                Key{OpCode::Constant, DType::i64},
                Key{OpCode::Constant, DType::f32},
                Key{OpCode::Constant, DType::bool8},
                Key{OpCode::Copy, DType::bf16},
                Key{OpCode::Add, DType::i64},
                Key{OpCode::TopK, DType::f32},
                Key{OpCode::ArgMax, DType::i64},
                Key{OpCode::Embedding, DType::f32}})
    EXPECT_TRUE(hasBoth(r, k.op, k.dtype))
        << onerec::plan::EnumNameOpCode(k.op) << " on " << dtypeName(k.dtype);
  EXPECT_EQ(r.findBest(OpCode::Matmul, DType::f32, Device::Cpu),
            r.find(OpCode::Matmul, DType::f32, Device::Cpu,
                   KernelVariant::Optimized));
  EXPECT_EQ(r.find(OpCode::Matmul, DType::f32, Device::Cuda,
                   KernelVariant::Optimized),
            nullptr);
}

} // namespace
