//===- ParserTest.cpp - the .rdsl parser ----------------------------------===//

#include "onerec/Frontend/Parser.h"
#include "TestSource.h"

#include <gtest/gtest.h>

using namespace onerec::frontend;
using onerec::test::TestSource;

namespace {
FileAST parse(TestSource &source) {
  DiagnosticReporter diag(source.sourceMgr, &source.context);
  return Parser(source.text(), diag).parseFile();
}
} // namespace

TEST(ParserTest, DeclarationsLandInTheirTables) {
  TestSource source(R"(
import "r.rdsl" as r(d = 4)
model m {
  const d = 8, h = 2 * d
  dim B <= 64
  config small { d = 4 }
  input x : f32[B, d]
  target y : id<10>[B]
  param w : f32[d, d] = normal(0, 0.1)
  block layer(x, scale = 1.0) { return x * scale }
  def f(x) = layer(x)
  loss l = mean(f(x))
  reward r = mean(f(x), axis = -1)
  generate g = beam(f, f, width = 4, items = 1)
  seed = 3
  train { optimizer sgd(lr = 0.1); stage s { minimize l } }
}
)");
  FileAST file = parse(source);
  ASSERT_TRUE(source.errors.empty()) << source.errors.front();
  ASSERT_EQ(file.imports.size(), 1u);
  EXPECT_EQ(file.imports[0].alias, "r");
  ASSERT_EQ(file.imports[0].bindings.size(), 1u);
  ASSERT_TRUE(file.model);
  const ModelDecl &m = *file.model;
  EXPECT_EQ(m.name, "m");
  EXPECT_EQ(m.consts.size(), 2u);
  EXPECT_EQ(m.dims.size(), 1u);
  EXPECT_EQ(m.configs.size(), 1u);
  ASSERT_EQ(m.inputs.size(), 2u);
  EXPECT_EQ(m.inputs[1].role, InputRole::Target);
  EXPECT_EQ(m.inputs[1].type.dtype, "id");
  EXPECT_TRUE(m.inputs[1].type.vocab);
  EXPECT_EQ(m.params.size(), 1u);
  ASSERT_EQ(m.functions.size(), 4u);
  EXPECT_EQ(m.functions[0].kind, FunctionDecl::Kind::Block);
  EXPECT_EQ(m.functions[0].params.size(), 2u);
  EXPECT_TRUE(m.functions[0].params[1].defaultValue);
  EXPECT_EQ(m.functions[1].kind, FunctionDecl::Kind::Def);
  EXPECT_EQ(m.functions[2].kind, FunctionDecl::Kind::Loss);
  EXPECT_EQ(m.functions[3].kind, FunctionDecl::Kind::Reward);
  EXPECT_EQ(m.generates.size(), 1u);
  EXPECT_TRUE(m.seed);
  ASSERT_EQ(m.trains.size(), 1u);
  EXPECT_TRUE(m.trains[0].optimizer);
  ASSERT_EQ(m.trains[0].stages.size(), 1u);
  EXPECT_TRUE(m.trains[0].stages[0].objectives[0].minimize);
}

TEST(ParserTest, PrecedenceAndAssociativity) {
  TestSource source("model m { const a = -2 ** 2 + 3 * 4 - 1 }");
  FileAST file = parse(source);
  ASSERT_TRUE(source.errors.empty());
  // ((-(2 ** 2)) + (3 * 4)) - 1
  const Expr &e = *file.model->consts[0].value;
  auto *sub = llvm::dyn_cast<BinaryExpr>(&e);
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->op, BinaryOp::Sub);
  auto *add = llvm::dyn_cast<BinaryExpr>(sub->lhs.get());
  ASSERT_TRUE(add);
  EXPECT_EQ(add->op, BinaryOp::Add);
  auto *neg = llvm::dyn_cast<UnaryExpr>(add->lhs.get());
  ASSERT_TRUE(neg);
  EXPECT_EQ(neg->op, UnaryOp::Neg);
  auto *pow = llvm::dyn_cast<BinaryExpr>(neg->operand.get());
  ASSERT_TRUE(pow);
  EXPECT_EQ(pow->op, BinaryOp::Pow);
}

TEST(ParserTest, RecoversAndReportsSeveralErrors) {
  TestSource source(R"(model m {
  const a = (1
  const b = 2
  dim
  const c = 3
})");
  FileAST file = parse(source);
  ASSERT_EQ(source.errors.size(), 2u) << source.errors.front();
  EXPECT_EQ(source.errors[0],
            "3:3: expected ')' to close the parenthesis, found 'const'");
  EXPECT_EQ(source.errors[1],
            "4:6: expected a name for the dimension, found end of line");
  ASSERT_TRUE(file.model);
  // The declarations after each error are still read.
  ASSERT_EQ(file.model->consts.size(), 2u);
  EXPECT_EQ(file.model->consts[0].name, "b");
  EXPECT_EQ(file.model->consts[1].name, "c");
}

TEST(ParserTest, DeepNestingIsAnErrorNotACrash) {
  std::string deep = "model m { const a = " + std::string(100000, '(') + "1" +
                     std::string(100000, ')') + " }";
  TestSource source(deep);
  parse(source);
  ASSERT_EQ(source.errors.size(), 1u);
  EXPECT_NE(source.errors[0].find("nested deeper than"), std::string::npos);
}
