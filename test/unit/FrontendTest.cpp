//===- FrontendTest.cpp - compileModel as a library -----------------------===//

#include "TestSource.h"

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace onerec;
using onerec::test::TestSource;

namespace {
func::FuncOp entry(ModuleOp module, StringRef name) {
  return module.lookupSymbol<func::FuncOp>(name);
}

std::string argName(func::FuncOp func, unsigned i) {
  return func.getArgAttrOfType<StringAttr>(i, rec::RecDialect::kNameAttrName)
      .getValue()
      .str();
}

std::vector<std::string> paramNames(ModuleOp module) {
  std::vector<std::string> names;
  for (auto param : module.getOps<rec::ParamOp>())
    names.push_back(param.getSymName().str());
  return names;
}

constexpr llvm::StringLiteral kModel = R"(
model m {
  const d = 8
  seed = 5
  dim B <= 16
  input a : f32[B, d]
  input b : f32[B, d]
  target y : f32[B]
  def encode(b) = linear(b, d)
  def both(h : f32[B, d]) = encode(b) + h + a
  loss l = mean((sum(encode(b), axis = -1) - y) ** 2.0)
}
)";
} // namespace

TEST(FrontendTest, EntryArgumentsFollowParametersThenInputOrder) {
  TestSource source(kModel);
  OwningOpRef<ModuleOp> module = source.compile();
  ASSERT_TRUE(module) << source.errors.front();
  func::FuncOp both = entry(*module, "both");
  ASSERT_TRUE(both);
  // The def's own parameter first, then the inputs it reads, in the order
  // they are declared (a before b), whatever order they are read in.
  ASSERT_EQ(both.getNumArguments(), 3u);
  EXPECT_EQ(argName(both, 0), "h");
  EXPECT_EQ(argName(both, 1), "a");
  EXPECT_EQ(argName(both, 2), "b");
  func::FuncOp loss = entry(*module, "l");
  ASSERT_EQ(loss.getNumArguments(), 2u);
  EXPECT_EQ(argName(loss, 0), "b");
  EXPECT_EQ(argName(loss, 1), "y");
}

TEST(FrontendTest, DefsShareWeightsWhereverCalled) {
  TestSource source(kModel);
  OwningOpRef<ModuleOp> module = source.compile();
  ASSERT_TRUE(module);
  EXPECT_EQ(paramNames(*module),
            (std::vector<std::string>{"encode.linear0.w", "encode.linear0.b"}));
}

TEST(FrontendTest, SeedsAreStableAndDependOnTheModelSeed) {
  auto seedOf = [](StringRef code) {
    TestSource source(code);
    OwningOpRef<ModuleOp> module = source.compile();
    EXPECT_TRUE(module);
    return (*module->getOps<rec::ParamOp>().begin()).getInit().getSeed();
  };
  uint64_t first = seedOf(kModel);
  EXPECT_EQ(first, seedOf(kModel));
  std::string reseeded = std::string(kModel);
  reseeded.replace(reseeded.find("seed = 5"), 8, "seed = 6");
  EXPECT_NE(first, seedOf(reseeded));
}

TEST(FrontendTest, OverridesAndConfigs) {
  TestSource source(R"(
model m {
  const d = 8, h = 2 * d
  config big { d = 64 }
  param w : f32[d, h]
}
)");
  frontend::FrontendOptions options;
  options.config = "big";
  options.defines = {{"h", "3"}};
  OwningOpRef<ModuleOp> module = source.compile(options);
  ASSERT_TRUE(module) << source.errors.front();
  auto w = *module->getOps<rec::ParamOp>().begin();
  EXPECT_EQ(rec::formatTensorType(w.getType()), "f32[64, 3]");
}

TEST(FrontendTest, ErrorsStopAtTheLimit) {
  TestSource source(R"(model m {
  dim B <= 4
  input x : f32[B]
  def a(x) = x + one
  def b(x) = x + two
  def c(x) = x + three
})");
  frontend::FrontendOptions options;
  options.maxErrors = 2;
  bool stopped = false;
  OwningOpRef<ModuleOp> module = frontend::compileModel(
      source.sourceMgr, source.bufferId, source.context, options, &stopped);
  EXPECT_FALSE(module);
  EXPECT_TRUE(stopped);
  EXPECT_EQ(source.errors.size(), 2u);
  EXPECT_EQ(source.errors[0], "4:18: unknown name 'one'; did you mean 'ones'?");
}
