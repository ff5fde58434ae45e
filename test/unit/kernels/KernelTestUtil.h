//===- KernelTestUtil.h - host tensors and kernel runs for kernel tests ---===//
//
// Owning host tensors, random fills, one call to run a registered kernel,
// and the check every op test makes: the optimized kernel agrees with the
// reference on the same inputs.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_TEST_UNIT_KERNELS_KERNELTESTUTIL_H
#define ONEREC_TEST_UNIT_KERNELS_KERNELTESTUTIL_H

#include "onerec/Runtime/Kernel.h"
#include "onerec/Runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace onerec::kernels::test {

using runtime::DType;
using runtime::KernelAttrs;
using runtime::KernelVariant;
using runtime::OpCode;
using runtime::Shape;
using runtime::Status;
using runtime::TensorView;

/// An owning tensor (8-byte aligned storage); `absent` stands for an
/// optional operand that is not given.
struct HostTensor {
  DType dtype = DType::f32;
  Shape shape;
  std::vector<uint64_t> storage;
  bool absent = false;

  HostTensor() = default;
  HostTensor(DType t, Shape s) : dtype(t), shape(s) {
    size_t bytes = size_t(s.numel()) * runtime::dtypeSize(t);
    storage.assign((bytes + 7) / 8 + 1, 0);
  }
  int64_t numel() const { return shape.numel(); }
  template <typename T> T *data() {
    return reinterpret_cast<T *>(storage.data());
  }
  template <typename T> const T *data() const {
    return reinterpret_cast<const T *>(storage.data());
  }
  template <typename T> T at(int64_t i) const { return data<T>()[i]; }
  /// Element i as a double, whatever the dtype.
  double value(int64_t i) const {
    switch (dtype) {
    case DType::f32:
      return data<float>()[i];
    case DType::i64:
      return double(data<int64_t>()[i]);
    case DType::i32:
      return data<int32_t>()[i];
    case DType::bool8:
      return data<uint8_t>()[i];
    default:
      return data<uint16_t>()[i];
    }
  }
  TensorView view() const {
    TensorView v;
    v.dtype = dtype;
    v.shape = shape;
    v.data = absent ? nullptr : const_cast<uint64_t *>(storage.data());
    return v;
  }
};

inline HostTensor absentTensor() {
  HostTensor t;
  t.absent = true;
  return t;
}

inline std::mt19937_64 &rng() {
  static std::mt19937_64 g(20240611);
  return g;
}

inline HostTensor randomFloats(Shape s, float lo = -1.0f, float hi = 1.0f) {
  HostTensor t(DType::f32, s);
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = d(rng());
  return t;
}

inline HostTensor randomInts(DType dtype, Shape s, int64_t lo, int64_t hi) {
  HostTensor t(dtype, s);
  std::uniform_int_distribution<int64_t> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    int64_t v = d(rng());
    if (dtype == DType::i64)
      t.data<int64_t>()[i] = v;
    else if (dtype == DType::i32)
      t.data<int32_t>()[i] = int32_t(v);
    else
      t.data<uint8_t>()[i] = uint8_t(v);
  }
  return t;
}

inline HostTensor randomBools(Shape s, double pTrue = 0.5) {
  HostTensor t(DType::bool8, s);
  std::bernoulli_distribution d(pTrue);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<uint8_t>()[i] = d(rng());
  return t;
}

inline HostTensor floats(Shape s, std::vector<float> values) {
  HostTensor t(DType::f32, s);
  EXPECT_EQ(int64_t(values.size()), t.numel());
  std::memcpy(t.data<float>(), values.data(), values.size() * sizeof(float));
  return t;
}

inline HostTensor ints(DType dtype, Shape s, std::vector<int64_t> values) {
  HostTensor t(dtype, s);
  EXPECT_EQ(int64_t(values.size()), t.numel());
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::i64)
      t.data<int64_t>()[i] = values[i];
    else if (dtype == DType::i32)
      t.data<int32_t>()[i] = int32_t(values[i]);
    else
      t.data<uint8_t>()[i] = uint8_t(values[i]);
  }
  return t;
}

inline KernelAttrs
attrs(std::initializer_list<std::pair<std::string, KernelAttrs::Value>> list) {
  KernelAttrs a;
  for (const auto &[name, value] : list)
    a.set(name, value);
  return a;
}

inline runtime::ThreadPool &testPool() {
  static runtime::ThreadPool pool(2);
  return pool;
}

struct RunOptions {
  bool training = false;
  uint64_t seed = 0, step = 0;
  /// The pool kernels run on; testPool() (2 threads) when null.
  runtime::ThreadPool *pool = nullptr;
  /// The program of a Fused kernel (plan format 1.2).
  const plan::FusedProgram *program = nullptr;
};

/// Runs the registered kernel of `variant`; outputs are written in place.
Status runKernel(OpCode op, KernelVariant variant,
                 const KernelAttrs &attributes,
                 const std::vector<HostTensor> &inputs,
                 std::vector<HostTensor> &outputs, RunOptions options = {});

/// Expects |a - b| <= atol + rtol·|b| elementwise (exact for integers).
void expectClose(const HostTensor &actual, const HostTensor &expected,
                 double rtol, double atol, const std::string &what);

/// Runs both variants on fresh copies of `outputs` and expects them to agree.
/// Returns the reference outputs.
std::vector<HostTensor>
expectVariantsAgree(OpCode op, const KernelAttrs &attributes,
                    const std::vector<HostTensor> &inputs,
                    const std::vector<HostTensor> &outputs, double rtol = 1e-5,
                    double atol = 1e-6, RunOptions options = {});

/// Runs the optimized kernel and returns its outputs (expecting success).
std::vector<HostTensor> runOptimized(OpCode op, const KernelAttrs &attributes,
                                     const std::vector<HostTensor> &inputs,
                                     std::vector<HostTensor> outputs,
                                     RunOptions options = {});

} // namespace onerec::kernels::test

#endif // ONEREC_TEST_UNIT_KERNELS_KERNELTESTUTIL_H
