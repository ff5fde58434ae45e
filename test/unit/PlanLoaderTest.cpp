//===- PlanLoaderTest.cpp - the plan loader and validator -----------------===//
//
// Valid plans load; every loader check rejects the broken plan it is about
// with a message naming the place; damaged files (truncated, bit-flipped,
// wrong identifier, newer versions) fail cleanly.
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include "onerec/Runtime/PlanFile.h"

#include <gtest/gtest.h>

using namespace onerec;
using namespace onerec::test;
using runtime::PlanFile;
using runtime::Status;

namespace {

runtime::StatusOr<std::unique_ptr<PlanFile>>
load(const std::vector<uint8_t> &bytes) {
  return PlanFile::fromBytes(bytes.data(), bytes.size(), "plan.fb");
}

/// Where the parameter segment of `bytes` starts: after the FlatBuffer,
/// aligned to 64.
uint64_t segmentStart(const std::vector<uint8_t> &bytes) {
  uint64_t tableBytes =
      (bytes[0] | bytes[1] << 8 | bytes[2] << 16 | uint64_t(bytes[3]) << 24) +
      4;
  return (tableBytes + 63) / 64 * 64;
}

/// Loading `spec` fails with a message containing `expected`.
void expectInvalid(const PlanSpec &spec, const std::string &expected) {
  auto plan = load(spec.build());
  ASSERT_FALSE(plan.isOk()) << "expected an error containing: " << expected;
  EXPECT_NE(plan.status().message().find(expected), std::string::npos)
      << "message: " << plan.status().message() << "\nexpected: " << expected;
}

TEST(PlanLoader, ValidPlansLoad) {
  for (const auto &[name, spec] : allTestPlans()) {
    auto plan = load(spec.build());
    ASSERT_TRUE(plan.isOk()) << name << ": " << plan.status().message();
  }
}

TEST(PlanLoader, ReadsHeaderEntriesAndParameters) {
  auto plan = load(linearPlan().build());
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  const PlanFile &file = **plan;
  EXPECT_EQ(file.findEntry("forward"), 0);
  EXPECT_EQ(file.findEntry("train"), -1);
  EXPECT_EQ(file.parameterShape(0), (runtime::Shape{4, 3}));
  EXPECT_FLOAT_EQ(reinterpret_cast<const float *>(file.parameterData(0))[1],
                  0.2f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(file.parameterData(0)) % 64, 0u);
  const auto &entry = file.entry(0);
  EXPECT_EQ(runtime::formatTensorType(file.plan(), *entry.tensors()->Get(0)),
            "f32[B, 4]");
  EXPECT_EQ(file.entryFacts(0).dimMinimum, std::vector<int64_t>{1});
}

TEST(PlanLoader, RecordsDimMinimaFromTopK) {
  auto plan = load(semanticAttentionPlan().build());
  ASSERT_TRUE(plan.isOk()) << plan.status().message();
  // TopK's k = 2 over a static axis of 8 needs nothing of B or L.
  EXPECT_EQ((*plan)->entryFacts(0).dimMinimum, (std::vector<int64_t>{1, 1}));

  PlanSpec p;
  Ext N = p.dim("N", 16);
  EntrySpec &e = p.entry("top");
  uint32_t x = e.input("x", DType::f32, {N});
  e.kernel(OpCode::TopK, {x},
           {e.tensor("v", DType::f32, {3}), e.tensor("i", DType::i64, {3})},
           {{"k", int64_t(3)}});
  auto topk = load(p.build());
  ASSERT_TRUE(topk.isOk()) << topk.status().message();
  EXPECT_EQ((*topk)->entryFacts(0).dimMinimum, std::vector<int64_t>{3});
}

//===----------------------------------------------------------------------===//
// Damaged files
//===----------------------------------------------------------------------===//

TEST(PlanLoader, RejectsEveryTruncation) {
  std::vector<uint8_t> bytes = linearPlan().build();
  for (size_t size = 0; size < bytes.size(); ++size) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + size);
    auto plan = load(prefix);
    ASSERT_FALSE(plan.isOk())
        << "a plan truncated to " << size << " bytes loaded";
    EXPECT_EQ(plan.status().code(), Status::Code::Corrupt);
    EXPECT_EQ(plan.status().message().rfind("plan.fb: ", 0), 0u)
        << plan.status().message();
  }
  auto tiny = load({1, 2, 3});
  EXPECT_NE(tiny.status().message().find("truncated: 3 bytes"),
            std::string::npos);
  std::vector<uint8_t> half(bytes.begin(), bytes.begin() + 40);
  EXPECT_NE(
      load(half).status().message().find("truncated: the FlatBuffer needs"),
      std::string::npos)
      << load(half).status().message();
}

TEST(PlanLoader, SurvivesEveryBitFlip) {
  std::vector<uint8_t> bytes = semanticAttentionPlan().build();
  uint32_t tableBytes =
      bytes[0] | bytes[1] << 8 | bytes[2] << 16 | uint32_t(bytes[3]) << 24;
  int loaded = 0, rejected = 0;
  for (size_t byte = 0; byte < tableBytes + 4u; ++byte)
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> flipped = bytes;
      flipped[byte] ^= uint8_t(1 << bit);
      auto plan = load(flipped);
      (plan.isOk() ? loaded : rejected)++;
      if (!plan.isOk()) {
        ASSERT_FALSE(plan.status().message().empty());
      }
    }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(loaded, 0); // flips in names and float attributes stay valid
}

TEST(PlanLoader, RejectsWrongIdentifier) {
  std::vector<uint8_t> bytes = linearPlan().build();
  std::memcpy(bytes.data() + 8, "ONNX", 4);
  auto plan = load(bytes);
  ASSERT_FALSE(plan.isOk());
  EXPECT_EQ(
      plan.status().message(),
      "plan.fb: not a onerec plan: file identifier 'ONNX', expected 'ORPL'");
}

TEST(PlanLoader, RejectsUnverifiableFlatBuffer) {
  std::vector<uint8_t> bytes = linearPlan().build();
  // Point the root table far outside the buffer.
  bytes[4] = 0xF0;
  bytes[5] = 0xFF;
  bytes[6] = 0xFF;
  bytes[7] = 0x0F;
  auto plan = load(bytes);
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(plan.status().message().find("the FlatBuffer is malformed"),
            std::string::npos);
}

TEST(PlanLoader, RejectsNewerAndOlderFormats) {
  PlanSpec p = linearPlan();
  p.formatMajor = 2;
  auto newer = load(p.build());
  ASSERT_FALSE(newer.isOk());
  EXPECT_EQ(newer.status().code(), Status::Code::Unsupported);
  EXPECT_EQ(newer.status().message(),
            "plan.fb: plan format 2.0 is newer than this runtime "
            "reads (1.3); use a newer onerec-run");
  p.formatMajor = 1;
  p.formatMinor = 4;
  expectInvalid(p, "plan format 1.4 is newer than this runtime reads (1.3)");
  p.formatMajor = 0;
  p.formatMinor = 9;
  expectInvalid(
      p, "plan format 0.9 is older than this runtime reads (1.3); recompile");
  // 1.0 to 1.3 plans load.
  for (uint16_t minor : {0, 1, 2, 3}) {
    p.formatMajor = 1;
    p.formatMinor = minor;
    EXPECT_TRUE(load(p.build()).isOk());
  }
}

//===----------------------------------------------------------------------===//
// Header, dims, segments, parameters
//===----------------------------------------------------------------------===//

TEST(PlanValidator, RejectsUnknownRequirementBits) {
  PlanSpec p = linearPlan();
  p.requirements = 1 | (1u << 9);
  expectInvalid(p, "plan.fb: unknown requirement bits 0x200");
}

TEST(PlanValidator, RejectsBadDims) {
  PlanSpec p = linearPlan();
  p.dims[0].second = 0;
  expectInvalid(p, "plan.fb: dim 0 ('B'): has maximum 0, expected 1 to");
  p = linearPlan();
  p.dim("B", 4);
  expectInvalid(p, "dim 1 ('B'): is declared twice");
}

TEST(PlanValidator, RejectsBadSegments) {
  PlanSpec p = linearPlan();
  uint64_t start = segmentStart(p.build());
  p.segments = {{{start + 8, 64}}};
  expectInvalid(p, "segment 0: offset " + std::to_string(start + 8) +
                       " is not a multiple of the segment alignment 64");
  p.segments = {{{0, 64}}};
  expectInvalid(p, "segment 0: starts at offset 0, inside the FlatBuffer");
  p.segments = {{{start, 4096}}};
  expectInvalid(p, "lie outside the file");
  p.trailingBytes = 512;
  p.segments = {{{start + 128, 128}, {start + 192, 64}}};
  expectInvalid(p, "segment 1: overlaps segment 0");
  p = linearPlan();
  p.segmentAlignment = 48;
  expectInvalid(p, "segment_alignment is 48, expected a power of two");
}

TEST(PlanValidator, RejectsBadParameters) {
  PlanSpec p = linearPlan();
  p.params[1].offset = 128;
  p.segments = {{{segmentStart(p.build()), 128}}};
  expectInvalid(
      p, "parameter 1 ('linear.b'): bytes [128, 140) lie outside segment 0");
  p = linearPlan();
  p.params[1].offset = 52;
  expectInvalid(p, "parameter 1 ('linear.b'): starts at file offset");
  p = linearPlan();
  p.params[0].shape = {4, 0};
  expectInvalid(
      p,
      "parameter 0 ('linear.w'): has shape f32[4, 0] with an extent below 1");
  p = linearPlan();
  p.params[0].segment = 3;
  expectInvalid(p, "lives in segment 3, but the plan has 1 segment(s)");
  p = linearPlan();
  p.params[1].name = "linear.w";
  expectInvalid(p, "parameter 1 ('linear.w'): is declared twice");
}

//===----------------------------------------------------------------------===//
// Tensors and bindings
//===----------------------------------------------------------------------===//

TEST(PlanValidator, RejectsBadTensors) {
  PlanSpec p = linearPlan();
  p.entries[0].tensors[3].dtype = static_cast<DType>(9);
  expectInvalid(p,
                "plan.fb: entry 'forward' tensor 3 ('h'): has unknown dtype 9");
  p = linearPlan();
  p.entries[0].tensors[3].shape = {Ext::sym(4), 3};
  expectInvalid(
      p,
      "tensor 3 ('h'): dimension 0 refers to dim 4, but the plan declares 1");
  p = linearPlan();
  p.entries[0].tensors[3].shape[1] = Ext(0);
  expectInvalid(
      p, "tensor 3 ('h'): dimension 1 has extent 0, expected a positive one");
  p = linearPlan();
  p.entries[0].tensors[3].shape = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  expectInvalid(p, "tensor 3 ('h'): has rank 9, at most 8 is supported");
  p = linearPlan();
  p.entries[0].tensors[3].shape = {Ext(1), Ext(-5)};
  p.entries[0].tensors[3].shape[1].symbol = -7;
  expectInvalid(p, "dimension 1 has symbol -7");
  p = linearPlan();
  p.entries[0].tensors[3].indexBound = 5;
  expectInvalid(p, "tensor 3 ('h'): has index_bound 5; it must be 0, or "
                   "positive for an integer");
  p = linearPlan();
  p.entries[0].tensors[3].shape = {int64_t(1) << 30, int64_t(1) << 30};
  p.entries[0].arenaBytes = 4096;
  expectInvalid(p, "f32[1073741824, 1073741824] has more than");
}

TEST(PlanValidator, RejectsArenaRangesOutsideTheArena) {
  PlanSpec p = linearPlan();
  p.entries[0].arenaBytes = 100; // h needs 8·3·4 = 96 bytes, y another 96
  expectInvalid(p, "tensor 4 ('y'): occupies arena bytes [128, 224) at the "
                   "dims' maxima, but "
                   "the arena has 100");
  p = linearPlan();
  p.entries[0].tensors[4].offset =
      ~uint64_t(0) - 11; // aligned, but offset + bytes would wrap
  p.entries[0].arenaBytes = 4096;
  expectInvalid(p, "tensor 4 ('y'): occupies arena bytes");
  p = linearPlan();
  p.entries[0].tensors[4].offset = 127; // kernels need aligned elements
  expectInvalid(p, "tensor 4 ('y'): arena offset 127 is not aligned to its "
                   "4-byte elements");
  p = linearPlan();
  p.entries[0].arenaBytes = uint64_t(1) << 60;
  expectInvalid(p, "entry 'forward': needs an arena of");
}

TEST(PlanValidator, RejectsBadStorageIndices) {
  PlanSpec p = linearPlan();
  p.entries[0].tensors[1].index = 7;
  expectInvalid(p, "tensor 1 ('p0'): is parameter 7, but the plan has 2");
  p = linearPlan();
  p.entries[0].tensors[1].shape = {3, 4, 2};
  expectInvalid(
      p, "tensor 1 ('p0'): f32[3, 4, 2] does not view parameter 0 ('linear.w') "
         "f32[4, 3]");
  p = linearPlan();
  p.entries[0].tensors[0].index = 2;
  expectInvalid(p, "tensor 0 ('x'): is entry input 2, but the entry has 1");
  p = linearPlan();
  p.entries[0].tensor("x2", DType::f32, {4});
  p.entries[0].tensors.back().storage = Storage::Input;
  expectInvalid(
      p,
      "tensor 5: f32[4] does not view input 0 f32[B, 4] element for element");
}

TEST(PlanValidator, RejectsBadBindings) {
  PlanSpec p = linearPlan();
  p.entries[0].inputs[0].tensor = 3;
  expectInvalid(p, "entry 'forward' input 0 ('x'): is tensor 3, which is not "
                   "stored as input 0");
  p = linearPlan();
  p.entries[0].outputs[0].tensor = 40;
  expectInvalid(
      p, "entry 'forward' output 0 ('y'): is tensor 40, but the entry has 5");
  p = linearPlan();
  p.entries[0].output("y", 3);
  expectInvalid(p, "output 1 ('y'): is named twice");
  p = linearPlan();
  p.entries.push_back(p.entries[0]);
  expectInvalid(p, "plan.fb: entry 'forward' is defined twice");
}

//===----------------------------------------------------------------------===//
// Kernels: indices, signatures, attributes
//===----------------------------------------------------------------------===//

TEST(PlanValidator, RejectsBadKernelIndices) {
  PlanSpec p = linearPlan();
  p.entries[0].kernels[0].inputs[1] = 99;
  expectInvalid(p, "plan.fb: entry 'forward' kernel 0 (Matmul at "
                   "linear.rdsl:3:7): operand 1 is "
                   "tensor 99, but the entry has 5");
  p = linearPlan();
  p.entries[0].kernels[0].inputs[1] = 0xFFFFFFFF;
  expectInvalid(p, "kernel 0 (Matmul at linear.rdsl:3:7): operand 1 is absent, "
                   "but it is not "
                   "optional");
  p = linearPlan();
  p.entries[0].kernels[1].outputs[0] = 0;
  expectInvalid(
      p,
      "kernel 1 (Add at linear.rdsl:3:11): result 0 is tensor 0, which is the "
      "caller's input");
  p = linearPlan();
  p.entries[0].kernels[0].op = static_cast<OpCode>(500);
  expectInvalid(p, "kernel 0: has unknown op 500");
}

TEST(PlanValidator, RejectsWrongOperandAndResultCounts) {
  PlanSpec p = linearPlan();
  p.entries[0].kernels[1].inputs.push_back(0);
  expectInvalid(
      p, "kernel 1 (Add at linear.rdsl:3:11): has 3 operands, expected 2");
  p = linearPlan();
  p.entries[0].kernels[0].outputs.push_back(4);
  expectInvalid(
      p, "kernel 0 (Matmul at linear.rdsl:3:7): has 2 results, expected 1");
}

TEST(PlanValidator, RejectsBadAttributes) {
  PlanSpec p = semanticAttentionPlan();
  p.entries[0].kernels[2].attrs.erase(
      p.entries[0].kernels[2].attrs.begin()); // num_heads
  expectInvalid(p, "kernel 2 (Attention at test.rdsl:1:1): missing attribute "
                   "'num_heads' (an "
                   "integer)");
  p = semanticAttentionPlan();
  p.entries[0].kernels[1].attrs[0].value = int64_t(1);
  expectInvalid(
      p,
      "kernel 1 (RmsNorm at test.rdsl:1:1): attribute 'eps' must be a float");
  p = semanticAttentionPlan();
  p.entries[0].kernels[2].attrs[2].value = int64_t(2);
  expectInvalid(p, "attribute 'causal' is 2, expected in [0, 1]");
  p = semanticAttentionPlan();
  p.entries[0].kernels[1].attrs.push_back({"epsilon", 1e-5});
  expectInvalid(p, "unknown attribute 'epsilon' (this op takes: eps)");
  p = semanticAttentionPlan();
  p.entries[0].kernels[1].attrs.push_back({"eps", 1e-5});
  expectInvalid(p, "attribute 'eps' is given twice");
  p = semanticAttentionPlan();
  p.entries[0].kernels[1].attrs[0].value = -1.0;
  expectInvalid(p, "attribute 'eps' is -1, expected a positive number");
  p = semanticAttentionPlan();
  p.entries[0].kernels[4].attrs[1].value = 1.5;
  expectInvalid(
      p, "attribute 'label_smoothing' is 1.5, expected a value in [0, 1)");
}

//===----------------------------------------------------------------------===//
// Kernels: dtypes and shapes
//===----------------------------------------------------------------------===//

TEST(PlanValidator, RejectsMatmulInnerDimensionMismatch) {
  PlanSpec p = linearPlan();
  p.params[0].shape = {5, 3};
  p.entries[0].tensors[1].shape = {5, 3};
  expectInvalid(p, "plan.fb: entry 'forward' kernel 0 (Matmul at "
                   "linear.rdsl:3:7): operand 1 has "
                   "inner dimension 5, expected 4");
}

TEST(PlanValidator, ComparesSymbolsNotValues) {
  // [B, 4] x [4, 3] -> declared [L, 3]: L may differ from B at run time.
  PlanSpec p = linearPlan();
  Ext L = p.dim("L", 8);
  p.entries[0].tensors[3].shape = {L, 3};
  expectInvalid(p, "entry 'forward' tensor 3: uses dim 'L', which no input of "
                   "the entry binds");
  p.entries[0].input("z", DType::f32, {L});
  expectInvalid(p, "result 0 (tensor 3 'h', f32[L, 3]) should be f32[B, 3]");
}

TEST(PlanValidator, RejectsOperandsThatDoNotBroadcast) {
  PlanSpec p = linearPlan();
  p.params[1].shape = {4};
  p.entries[0].tensors[2].shape = {4};
  expectInvalid(p, "kernel 1 (Add at linear.rdsl:3:11): shapes [B, 3] and [4] "
                   "do not broadcast");
}

TEST(PlanValidator, RejectsDTypeMismatch) {
  PlanSpec p = linearPlan();
  p.params[1].dtype = DType::i64;
  p.entries[0].tensors[2].dtype = DType::i64;
  expectInvalid(p, "operand 1 (tensor 2 'p1', i64[3]) and operand 0 (tensor 3 "
                   "'h', f32[B, 3]) "
                   "must have the same dtype");
  p = linearPlan();
  p.entries[0].tensors[4].dtype = DType::f16;
  expectInvalid(p, "result 0 (tensor 4 'y', f16[B, 3]) should be f32[B, 3]");
}

TEST(PlanValidator, RejectsAttentionHeadsThatDoNotDivide) {
  PlanSpec p = semanticAttentionPlan();
  p.entries[0].kernels[2].attrs[0].value = int64_t(3);
  expectInvalid(
      p, "kernel 2 (Attention at test.rdsl:1:1): 3 query heads cannot share 4 "
         "key/value heads evenly");
  p = semanticAttentionPlan();
  p.entries[0].kernels[2].attrs[0].value = int64_t(8);
  p.entries[0].kernels[2].attrs[1].value = int64_t(8);
  p.entries[0].kernels[2].attrs[0].value = int64_t(6);
  p.entries[0].kernels[2].attrs[1].value = int64_t(3);
  expectInvalid(p, "widths 16 (queries), 16 (keys), 16 (values) are not "
                   "divisible by 6 heads");
}

TEST(PlanValidator, RejectsEmbeddingTableOfTheWrongSize) {
  PlanSpec p = semanticAttentionPlan();
  p.entries[0].kernels[0].attrs[1].value = int64_t(9);
  expectInvalid(
      p,
      "kernel 0 (Embedding at test.rdsl:1:1): operand 1 (tensor 0 'history', "
      "i64[B, L, 3]) has 3 levels of 9 codes, so the table needs 27 rows, not "
      "24");
  p = embeddingPlan();
  p.entries[0].tensors[0].indexBound = 11;
  expectInvalid(p, "operand 1 (tensor 0 'ids', i64[B, 5]) holds ids below 11, "
                   "but the table has "
                   "10 entries");
}

TEST(PlanValidator, RejectsSliceAndConcatShapes) {
  PlanSpec p = dataMovementPlan();
  p.entries[0].kernels[1].attrs[2].value = int64_t(7);
  expectInvalid(
      p, "kernel 1 (Slice at test.rdsl:1:1): slice [1, 7) is empty or outside "
         "dimension 1");
  p = dataMovementPlan();
  p.entries[0].tensors[2].shape[1] = Ext(5);
  expectInvalid(p, "kernel 0 (Concat at test.rdsl:1:1): result 0 (tensor 2 "
                   "'c', f32[B, 5, 3]) "
                   "should be f32[B, 6, 3]");
  p = dataMovementPlan();
  p.entries[0].kernels[2].attrs[0].value = std::vector<int64_t>{1, 1, 2};
  expectInvalid(p, "attribute 'permutation' [1, 1, 2] is not a permutation");
  p = dataMovementPlan();
  p.entries[0].kernels[3].attrs[0].value = std::vector<int64_t>{2, 1};
  expectInvalid(p, "attribute 'axes' [2, 1] must be sorted, distinct axes");
}

TEST(PlanValidator, RejectsTopKLargerThanItsAxis) {
  PlanSpec p = semanticAttentionPlan();
  p.entries[0].kernels[5].attrs[0].value = int64_t(9);
  expectInvalid(
      p, "kernel 5 (TopK at test.rdsl:1:1): k = 9 exceeds the last dimension");
  // Over a symbolic axis, k becomes the dim's minimum, which must fit its max.
  PlanSpec q;
  Ext N = q.dim("N", 2);
  EntrySpec &e = q.entry("top");
  uint32_t x = e.input("x", DType::f32, {N});
  e.kernel(OpCode::TopK, {x},
           {e.tensor("v", DType::f32, {3}), e.tensor("i", DType::i64, {3})},
           {{"k", int64_t(3)}});
  expectInvalid(
      q, "entry 'top': needs dim 'N' to be at least 3, but its maximum is 2");
}

TEST(PlanValidator, RejectsMoeWithoutGateProjection) {
  PlanSpec p = moePlan();
  p.entries[0].kernels[0].inputs[4] = 0xFFFFFFFF;
  expectInvalid(p, "swiglu experts need a gate projection (operand 4)");
  p = moePlan();
  p.entries[0].kernels[0].attrs[0].value = int64_t(5);
  expectInvalid(p, "top_k = 5 exceeds 4 experts");
}

TEST(PlanValidator, RejectsLossShapes) {
  PlanSpec p = semanticAttentionPlan();
  p.entries[0].tensors[2].shape = {Ext::sym(0), 3};
  expectInvalid(
      p, "operand 2 (tensor 2 'mask', bool[B, 3]) must have shape [B, L]");
  p = semanticAttentionPlan();
  p.entries[0].tensors[1].indexBound = 9;
  expectInvalid(p, "holds ids below 9, but the class dimension has 8 entries");
}

TEST(PlanValidator, RejectsOverlappingResults) {
  PlanSpec p = linearPlan();
  p.entries[0].tensors[3].offset = 0;
  p.entries[0].tensors[4].offset =
      64; // y overlaps h (96 bytes) and is Add's result
  expectInvalid(
      p,
      "kernel 1 (Add at linear.rdsl:3:11): result 0 (tensor 4 'y', f32[B, 3]) "
      "overlaps operand 0 (tensor 3 'h', f32[B, 3]) without being the same "
      "bytes");
  p = linearPlan();
  p.entries[0].tensors[4].offset = 0; // exactly in place: fine for Add
  p.entries[0].tensors[3].offset = 0;
  EXPECT_TRUE(load(p.build()).isOk());
  p = semanticAttentionPlan();
  p.entries[0].tensors[7].offset = 0; // Attention's result on its operand
  p.entries[0].tensors[8].offset = 0;
  p.entries[0].tensors[6].offset = 4 * 16 * 16 * 4;
  expectInvalid(p, "this op cannot compute in place");
}

TEST(PlanValidator, NamesNonPrintableBytesSafely) {
  PlanSpec p = linearPlan();
  p.entries[0].kernels[0].location = std::string("bad\x01\xff", 5);
  p.entries[0].kernels[0].inputs[1] = 99;
  expectInvalid(p, "(Matmul at bad\\x01\\xff)");
}

} // namespace

//===----------------------------------------------------------------------===//
// 1.2: Fused kernels
//===----------------------------------------------------------------------===//

namespace {
/// y = exp(x + b) over [B, 4] with a column b [4].
PlanSpec fusedPlan() {
  PlanSpec p;
  Ext B = p.dim("B", 4);
  EntrySpec &e = p.entry("forward");
  uint32_t x = e.input("x", DType::f32, {B, 4});
  uint32_t b = e.input("b", DType::f32, {4});
  uint32_t y = e.tensor("y", DType::f32, {B, 4});
  using plan::FusedKind;
  using plan::FusedOpKind;
  FusedProgramSpec program;
  program.inputKinds = {FusedKind::Full, FusedKind::Column};
  program.registers = 3;
  program.code = {
      plan::FusedInstr(FusedOpKind::Load, FusedKind::Full, 0, 0, 0, 0, 0, 0),
      plan::FusedInstr(FusedOpKind::Load, FusedKind::Column, 0, 1, 1, 0, 0, 0),
      plan::FusedInstr(FusedOpKind::Add, FusedKind::Full, 0, 2, 0, 1, 0, 0),
      plan::FusedInstr(FusedOpKind::Exp, FusedKind::Full, 0, 0, 2, 0, 0, 0)};
  program.outputs = {0};
  program.outputKinds = {FusedKind::Full};
  e.kernel(OpCode::Fused, {x, b}, {y}).program = program;
  e.output("y", y);
  return p;
}
} // namespace

TEST(PlanValidator, ChecksFusedPrograms) {
  ASSERT_TRUE(load(fusedPlan().build()).isOk());
  PlanSpec p = fusedPlan();
  p.entries[0].kernels[0].program.reset();
  expectInvalid(p, "kernel 0 (Fused at test.rdsl:1:1): has no program");
  p = fusedPlan();
  p.entries[0].kernels[0].program->code[2] = plan::FusedInstr(
      plan::FusedOpKind::Add, plan::FusedKind::Full, 0, 2, 0, 7, 0, 0);
  expectInvalid(p, "instruction 2 (Add) reads register 7 before it is written");
  p = fusedPlan();
  p.entries[0].kernels[0].program->code[2] = plan::FusedInstr(
      plan::FusedOpKind::Add, plan::FusedKind::Row, 0, 2, 0, 1, 0, 0);
  expectInvalid(p, "instruction 2 (Add) gives a Full value but is marked Row");
  p = fusedPlan();
  p.entries[0].tensors[1].shape = {3};
  expectInvalid(p, "operand 1 (tensor 1 'b', f32[3]) is not a Column value of "
                   "iteration shape [B, 4]");
  p = fusedPlan();
  p.entries[0].kernels[0].program->registers = 2000;
  expectInvalid(p, "the program uses 2000 registers (1 to 1024 allowed)");
}
