//===- PassesTest.cpp - rec-infer-shapes and rec-bind-dims ----------------===//
//
// Stale result types cannot be written in a .mlir file (parsing verifies
// them), so the propagation of rec-infer-shapes is tested here: retype an
// argument, run the pass, read the types it derived.

#include "onerec/Passes/Passes.h"
#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace onerec;

namespace {
class PassesTest : public ::testing::Test {
protected:
  PassesTest() {
    context.loadDialect<rec::RecDialect, func::FuncDialect>();
    context.getDiagEngine().registerHandler([this](Diagnostic &d) {
      errors.push_back(d.str());
      return success();
    });
  }

  OwningOpRef<ModuleOp> parse(StringRef text) {
    return parseSourceString<ModuleOp>(text, &context);
  }

  std::string typeOf(Value value) {
    return rec::formatTensorType(value.getType());
  }

  MLIRContext context;
  std::vector<std::string> errors;
};

constexpr StringRef kChain = R"mlir(
func.func @f(%x: !rec.tensor<[B, 8], f32>, %w: !rec.tensor<[16, 4], f32>) -> !rec.tensor<[B], f32> {
  %0 = rec.exp %x : !rec.tensor<[B, 8], f32>
  %1 = rec.reduce_sum %0 {axes = array<i64: 1>} : (!rec.tensor<[B, 8], f32>) -> !rec.tensor<[B], f32>
  return %1 : !rec.tensor<[B], f32>
}
)mlir";
} // namespace

TEST_F(PassesTest, InferShapesPropagatesAChangedArgument) {
  OwningOpRef<ModuleOp> module = parse(kChain);
  ASSERT_TRUE(module);
  auto func = *module->getOps<func::FuncOp>().begin();
  Block &body = func.getBody().front();
  // A change made outside the shape rules: the batch becomes static.
  body.getArgument(0).setType(
      rec::RecTensorType::getStatic({4, 8}, Float32Type::get(&context)));

  PassManager pm(&context);
  pm.addPass(createRecInferShapes());
  ASSERT_TRUE(succeeded(pm.run(*module))) << errors.front();
  Operation &exp = body.front();
  Operation &sum = *std::next(body.begin());
  EXPECT_EQ(typeOf(exp.getResult(0)), "f32[4, 8]");
  EXPECT_EQ(typeOf(sum.getResult(0)), "f32[4]");
  EXPECT_EQ(rec::formatTensorType(func.getResultTypes()[0]), "f32[4]");
}

TEST_F(PassesTest, InferShapesReportsAnOpTheChangeBreaks) {
  OwningOpRef<ModuleOp> module = parse(R"mlir(
func.func @f(%x: !rec.tensor<[B, 16], f32>, %w: !rec.tensor<[16, 4], f32>) -> !rec.tensor<[B, 4], f32> {
  %0 = rec.matmul %x, %w : (!rec.tensor<[B, 16], f32>, !rec.tensor<[16, 4], f32>) -> !rec.tensor<[B, 4], f32>
  return %0 : !rec.tensor<[B, 4], f32>
}
)mlir");
  ASSERT_TRUE(module);
  auto func = *module->getOps<func::FuncOp>().begin();
  func.getBody().front().getArgument(0).setType(
      rec::RecTensorType::getStatic({4, 8}, Float32Type::get(&context)));
  PassManager pm(&context);
  pm.addPass(createRecInferShapes());
  EXPECT_TRUE(failed(pm.run(*module)));
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors.front(), "matmul: inner dimensions differ: f32[4, 8] x "
                            "f32[16, 4] contracts 8 with 16");
}

TEST_F(PassesTest, BindDimsSpecializesEveryType) {
  OwningOpRef<ModuleOp> module = parse(R"mlir(
module attributes {rec.model = "m"} {
  rec.dim @B max 16
  func.func @f(%x: !rec.tensor<[B, 8], f32>) -> !rec.tensor<[B, 8], f32> {
    %0 = rec.exp %x : !rec.tensor<[B, 8], f32>
    return %0 : !rec.tensor<[B, 8], f32>
  }
}
)mlir");
  ASSERT_TRUE(module);
  PassManager pm(&context);
  pm.addPass(createRecBindDims(RecBindDimsOptions{{"B=2"}}));
  ASSERT_TRUE(succeeded(pm.run(*module)));
  EXPECT_TRUE(module->getOps<rec::DimOp>().empty());
  auto func = *module->getOps<func::FuncOp>().begin();
  EXPECT_EQ(rec::formatTensorType(func.getArgumentTypes()[0]), "f32[2, 8]");
  EXPECT_EQ(typeOf(func.getBody().front().front().getResult(0)), "f32[2, 8]");
}
