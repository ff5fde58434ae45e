//===- TestPlans.h - valid plans and tiny test kernels ----------*- C++ -*-===//
//
// A handful of valid plans that together use most ops (loader tests break
// them one field at a time; the plan fuzzer's corpus generator writes them
// out), and minimal f32 kernels for the ops the executor tests run:
// Matmul (rank 2), Add (same shape, or a last-axis vector), Embedding
// (plain ids), Constant and AssignAdd.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_TEST_UNIT_TESTPLANS_H
#define ONEREC_TEST_UNIT_TESTPLANS_H

#include "PlanBuilderUtil.h"

#include "onerec/Runtime/Kernel.h"

#include <string>
#include <utility>
#include <vector>

namespace onerec::test {

/// forward(x f32[B, 4]) -> y = x·w + b, with w f32[4, 3] = 0.1·(i+1) and
/// b f32[3] = {1, 2, 3}; B <= 8.
inline PlanSpec linearPlan() {
  PlanSpec p;
  Ext B = p.dim("B", 8);
  std::vector<float> w(12), b = {1, 2, 3};
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = 0.1f * float(i + 1);
  p.param("linear.w", DType::f32, {4, 3}, bytesOf(w));
  p.param("linear.b", DType::f32, {3}, bytesOf(b));
  EntrySpec &e = p.entry("forward");
  uint32_t x = e.input("x", DType::f32, {B, 4});
  uint32_t tw = e.param(0, DType::f32, {4, 3});
  uint32_t tb = e.param(1, DType::f32, {3});
  uint32_t h = e.tensor("h", DType::f32, {B, 3});
  uint32_t y = e.tensor("y", DType::f32, {B, 3});
  e.kernel(OpCode::Matmul, {x, tw}, {h}).location = "linear.rdsl:3:7";
  e.kernel(OpCode::Add, {h, tb}, {y}).location = "linear.rdsl:3:11";
  e.output("y", y);
  e.flops = 2.0 * 8 * 4 * 3 + 8 * 3;
  return p;
}

/// forward(ids i64[B, 5] (id < 10)) -> embedded f32[B, 5, 4], pooled sum.
inline PlanSpec embeddingPlan() {
  PlanSpec p;
  Ext B = p.dim("B", 4);
  std::vector<float> table(40);
  for (size_t i = 0; i < table.size(); ++i)
    table[i] = float(i);
  p.param("item.table", DType::f32, {10, 4}, bytesOf(table));
  EntrySpec &e = p.entry("forward");
  uint32_t ids = e.input("ids", DType::i64, {B, 5}, /*indexBound=*/10);
  uint32_t t = e.param(0, DType::f32, {10, 4});
  uint32_t y = e.tensor("embedded", DType::f32, {B, 5, 4});
  e.kernel(OpCode::Embedding, {t, ids}, {y});
  e.output("embedded", y);
  return p;
}

/// Semantic ids, attention, normalization and a loss: most attribute kinds.
inline PlanSpec semanticAttentionPlan() {
  PlanSpec p;
  Ext B = p.dim("B", 4);
  Ext L = p.dim("L", 16);
  p.param("sid.table", DType::f32, {3 * 8, 16});
  p.param("norm.gain", DType::f32, {16});
  p.param("out.w", DType::f32, {16, 8});
  EntrySpec &e = p.entry("forward");
  uint32_t sids = e.input("history", DType::i64, {B, L, 3}, 8);
  uint32_t labels = e.input("labels", DType::i64, {B, L}, 8);
  uint32_t mask = e.input("mask", DType::bool8, {B, L});
  uint32_t table = e.param(0, DType::f32, {24, 16});
  uint32_t gain = e.param(1, DType::f32, {16});
  uint32_t w = e.param(2, DType::f32, {16, 8});
  uint32_t x = e.tensor("x", DType::f32, {B, L, 16});
  uint32_t n = e.tensor("n", DType::f32, {B, L, 16});
  uint32_t a = e.tensor("a", DType::f32, {B, L, 16});
  uint32_t logits = e.tensor("logits", DType::f32, {B, L, 8});
  uint32_t loss = e.tensor("loss", DType::f32, {});
  uint32_t top = e.tensor("top", DType::f32, {B, L, 2});
  uint32_t topIdx = e.tensor("top_idx", DType::i64, {B, L, 2});
  e.kernel(OpCode::Embedding, {table, sids}, {x},
           {{"combine", int64_t(0)}, {"codebook", int64_t(8)}});
  e.kernel(OpCode::RmsNorm, {x, gain}, {n}, {{"eps", 1e-6}});
  e.kernel(OpCode::Attention, {n, n, n}, {a},
           {{"num_heads", int64_t(4)},
            {"num_kv_heads", int64_t(4)},
            {"causal", int64_t(1)},
            {"scale", 0.5},
            {"score_norm", int64_t(0)}});
  e.kernel(OpCode::Matmul, {a, w}, {logits});
  e.kernel(OpCode::CrossEntropy, {logits, labels, mask}, {loss},
           {{"reduction", int64_t(0)}, {"label_smoothing", 0.1}});
  e.kernel(OpCode::TopK, {logits}, {top, topIdx}, {{"k", int64_t(2)}});
  e.output("loss", loss);
  e.output("top", topIdx);
  return p;
}

/// Data movement: concat, slice, transpose, reduce, softmax, cast, select.
inline PlanSpec dataMovementPlan() {
  PlanSpec p;
  Ext B = p.dim("B", 8);
  EntrySpec &e = p.entry("shuffle");
  uint32_t a = e.input("a", DType::f32, {B, 2, 3});
  uint32_t b = e.input("b", DType::f32, {B, 4, 3});
  uint32_t c = e.tensor("c", DType::f32, {B, 6, 3});
  uint32_t s = e.tensor("s", DType::f32, {B, 3, 3});
  uint32_t t = e.tensor("t", DType::f32, {3, B, 3});
  uint32_t r = e.tensor("r", DType::f32, {B});
  uint32_t sm = e.tensor("sm", DType::f32, {B, 6, 3});
  uint32_t z = e.tensor("zero", DType::f32, {});
  uint32_t cmp = e.tensor("cmp", DType::bool8, {B, 6, 3});
  uint32_t sel = e.tensor("sel", DType::f32, {B, 6, 3});
  uint32_t ids = e.tensor("ids", DType::i32, {B, 6, 3});
  e.kernel(OpCode::Concat, {a, b}, {c}, {{"axis", int64_t(1)}});
  e.kernel(OpCode::Slice, {c}, {s},
           {{"axis", int64_t(1)}, {"start", int64_t(1)}, {"end", int64_t(4)}});
  e.kernel(OpCode::Transpose, {s}, {t},
           {{"permutation", std::vector<int64_t>{1, 0, 2}}});
  e.kernel(OpCode::ReduceSum, {s}, {r}, {{"axes", std::vector<int64_t>{1, 2}}});
  e.kernel(OpCode::Softmax, {c}, {sm}, {{"axis", int64_t(2)}});
  e.kernel(OpCode::Constant, {}, {z}, {{"value", 0.0}});
  e.kernel(OpCode::Cmp, {sm, z}, {cmp}, {{"predicate", int64_t(4)}});
  e.kernel(OpCode::Select, {cmp, sm, z}, {sel});
  e.kernel(OpCode::Cast, {sel}, {ids});
  e.output("t", t);
  e.output("r", r);
  e.output("ids", ids);
  return p;
}

/// A mixture of experts with swiglu experts.
inline PlanSpec moePlan() {
  PlanSpec p;
  Ext T = p.dim("T", 32);
  p.param("moe.gate", DType::f32, {8, 4});
  p.param("moe.bias", DType::f32, {4});
  p.param("moe.up", DType::f32, {4, 8, 16});
  p.param("moe.gate_proj", DType::f32, {4, 8, 16});
  p.param("moe.down", DType::f32, {4, 16, 8});
  EntrySpec &e = p.entry("moe");
  uint32_t x = e.input("x", DType::f32, {T, 8});
  uint32_t gate = e.param(0, DType::f32, {8, 4});
  uint32_t bias = e.param(1, DType::f32, {4});
  uint32_t up = e.param(2, DType::f32, {4, 8, 16});
  uint32_t gp = e.param(3, DType::f32, {4, 8, 16});
  uint32_t down = e.param(4, DType::f32, {4, 16, 8});
  uint32_t y = e.tensor("y", DType::f32, {T, 8});
  uint32_t load = e.tensor("load", DType::f32, {4});
  e.kernel(OpCode::Moe, {x, gate, bias, up, gp, down}, {y, load},
           {{"top_k", int64_t(2)},
            {"balance", int64_t(2)},
            {"activation", int64_t(3)}});
  e.output("y", y);
  e.output("load", load);
  return p;
}

/// A linear model y = x·w with one AdamW training step:
///   train_grad (Grad):      grad.w = WeightGrad(x, dy)
///   train_step (TrainStep): the same, GlobalNorm, AdamWUpdate(w, ...)
inline PlanSpec linearTrainPlan(int64_t maxBatch = 8) {
  PlanSpec p;
  p.formatMinor = 1;
  Ext B = p.dim("B", maxBatch);
  std::vector<float> w(12);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = 0.1f * float(i + 1);
  uint32_t pw = p.param("w", DType::f32, {4, 3}, bytesOf(w));
  p.state("w.adam_m", pw);
  p.state("w.adam_v", pw);
  {
    EntrySpec &e = p.entry("train_grad");
    e.kind = plan::EntryKind::Grad;
    uint32_t x = e.input("x", DType::f32, {B, 4});
    uint32_t dy = e.input("dy", DType::f32, {B, 3});
    uint32_t g = e.tensor("grad.w", DType::f32, {4, 3});
    e.kernel(OpCode::WeightGrad, {x, dy}, {g});
    e.output("grad.w", g);
  }
  EntrySpec &e = p.entry("train_step");
  e.kind = plan::EntryKind::TrainStep;
  uint32_t x = e.input("x", DType::f32, {B, 4});
  uint32_t dy = e.input("dy", DType::f32, {B, 3});
  uint32_t step = e.input("optimizer.step", DType::i64, {});
  uint32_t hp = e.input("optimizer.hparams", DType::f32, {8});
  e.inputs[2].role = plan::ArgRole::Control;
  e.inputs[3].role = plan::ArgRole::Control;
  uint32_t tw = e.param(0, DType::f32, {4, 3}); // tensor 4
  uint32_t tm = e.param(1, DType::f32, {4, 3}); // tensor 5
  uint32_t tv = e.param(2, DType::f32, {4, 3}); // tensor 6
  uint32_t g = e.tensor("grad.w", DType::f32, {4, 3});
  uint32_t norm = e.tensor("grad_norm", DType::f32, {});
  e.kernel(OpCode::WeightGrad, {x, dy}, {g});
  e.kernel(OpCode::GlobalNorm, {g}, {norm});
  e.kernel(OpCode::AdamWUpdate, {tw, g, tm, tv, step, hp, norm}, {},
           {{"decay", int64_t(1)}, {"decoupled", int64_t(1)}});
  e.output("grad_norm", norm);
  TrainSpec train;
  train.stages.push_back({"main", "train_step", 1, 0});
  p.train = train;
  return p;
}

/// Every plan above, named (the fuzz corpus).
inline std::vector<std::pair<std::string, PlanSpec>> allTestPlans() {
  return {{"linear", linearPlan()},
          {"embedding", embeddingPlan()},
          {"semantic-attention", semanticAttentionPlan()},
          {"data-movement", dataMovementPlan()},
          {"moe", moePlan()},
          {"linear-train", linearTrainPlan()}};
}

//===----------------------------------------------------------------------===//
// Tiny f32 kernels
//===----------------------------------------------------------------------===//

inline runtime::Status testMatmul(const runtime::KernelCall &call) {
  const runtime::TensorView &a = call.in(0), &b = call.in(1);
  int64_t m = a.shape[0], k = a.shape[1], n = b.shape[1];
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0;
      for (int64_t l = 0; l < k; ++l)
        sum += a.as<float>()[i * k + l] * b.as<float>()[l * n + j];
      call.out(0).as<float>()[i * n + j] = sum;
    }
  return runtime::Status::ok();
}

inline runtime::Status testAdd(const runtime::KernelCall &call) {
  const runtime::TensorView &a = call.in(0), &b = call.in(1);
  int64_t n = call.out(0).numel(), bn = b.numel();
  for (int64_t i = 0; i < n; ++i)
    call.out(0).as<float>()[i] =
        a.as<float>()[i % a.numel()] + b.as<float>()[i % bn];
  return runtime::Status::ok();
}

inline runtime::Status testEmbedding(const runtime::KernelCall &call) {
  const runtime::TensorView &table = call.in(0), &ids = call.in(1);
  int64_t d = table.shape[1];
  for (int64_t i = 0; i < ids.numel(); ++i) {
    int64_t id = ids.as<int64_t>()[i];
    if (id < 0 || id >= table.shape[0])
      return call.fail("id " + std::to_string(id) + " is outside the table");
    for (int64_t j = 0; j < d; ++j)
      call.out(0).as<float>()[i * d + j] = table.as<float>()[id * d + j];
  }
  return runtime::Status::ok();
}

/// AssignAdd: target (operand 0) += x, in place.
inline runtime::Status testAssignAdd(const runtime::KernelCall &call) {
  for (int64_t i = 0; i < call.in(0).numel(); ++i)
    call.in(0).as<float>()[i] += call.in(1).as<float>()[i];
  return runtime::Status::ok();
}

/// A registry with the tiny kernels, as reference kernels.
inline runtime::KernelRegistry testKernelRegistry() {
  using runtime::Device;
  using runtime::KernelVariant;
  runtime::KernelRegistry registry;
  registry.add(OpCode::Matmul, runtime::DType::f32, Device::Cpu,
               KernelVariant::Reference, testMatmul);
  registry.add(OpCode::Add, runtime::DType::f32, Device::Cpu,
               KernelVariant::Reference, testAdd);
  registry.add(OpCode::Embedding, runtime::DType::f32, Device::Cpu,
               KernelVariant::Reference, testEmbedding);
  registry.add(OpCode::AssignAdd, runtime::DType::f32, Device::Cpu,
               KernelVariant::Reference, testAssignAdd);
  return registry;
}

} // namespace onerec::test

#endif // ONEREC_TEST_UNIT_TESTPLANS_H
