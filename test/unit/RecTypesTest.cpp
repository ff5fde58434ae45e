//===- RecTypesTest.cpp - the rec tensor type and broadcasting ------------===//

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace onerec::rec;

namespace {
class RecTypesTest : public ::testing::Test {
protected:
  RecTypesTest() { context.loadDialect<RecDialect>(); }
  Dim sym(StringRef name) {
    return Dim::symbolic(StringAttr::get(&context, name));
  }
  MLIRContext context;
};
} // namespace

TEST_F(RecTypesTest, BroadcastFollowsNumpyWithNamedDims) {
  Dim B = sym("B"), L = sym("L");
  auto bcast = broadcastDims({B, Dim::fixed(1), Dim::fixed(8)},
                             {Dim::fixed(5), Dim::fixed(8)});
  ASSERT_TRUE(bcast);
  EXPECT_EQ(formatDims(*bcast), "[B, 5, 8]");
  // A symbol matches itself or 1, never a different symbol or a number.
  EXPECT_TRUE(
      broadcastDims({B, Dim::fixed(8)}, {Dim::fixed(1), Dim::fixed(8)}));
  EXPECT_FALSE(broadcastDims({B}, {L}));
  EXPECT_FALSE(broadcastDims({B}, {Dim::fixed(4)}));
  EXPECT_TRUE(isBroadcastableTo({Dim::fixed(8)}, {B, Dim::fixed(8)}));
  EXPECT_FALSE(isBroadcastableTo({B, Dim::fixed(8)}, {Dim::fixed(8)}));
}

TEST_F(RecTypesTest, TypesPrintTheWayUsersWriteThem) {
  Type f32 = Float32Type::get(&context);
  auto t = RecTensorType::get({sym("B"), Dim::fixed(256), Dim::fixed(3)},
                              SidType::get(&context, 8192));
  EXPECT_EQ(formatTensorType(t), "sid<8192>[B, 256, 3]");
  EXPECT_EQ(formatTensorType(RecTensorType::getScalar(f32)), "f32[]");
  EXPECT_EQ(formatTensorType(
                RecTensorType::getStatic({4}, IntegerType::get(&context, 1))),
            "bool[4]");
  EXPECT_FALSE(t.hasStaticShape());
  EXPECT_FALSE(t.getStaticNumElements());
  EXPECT_EQ(*RecTensorType::getStatic({4, 5}, f32).getStaticNumElements(), 20);
  EXPECT_TRUE(t.isIndexLike());
}

TEST_F(RecTypesTest, TypesRoundTripThroughText) {
  for (StringRef text :
       {"!rec.tensor<[B, 200, 64], f32>", "!rec.tensor<[], bf16>",
        "!rec.tensor<[B, 5, 3], !rec.sid<256>>",
        "!rec.tensor<[B], !rec.id<0>>"}) {
    Type type = parseType(text, &context);
    ASSERT_TRUE(type) << text.str();
    std::string printed;
    llvm::raw_string_ostream os(printed);
    type.print(os);
    EXPECT_EQ(printed, text.str());
  }
}

TEST_F(RecTypesTest, InvalidTypesAreRejected) {
  context.getDiagEngine().registerHandler(
      [](Diagnostic &) { return success(); }); // keep test output clean
  EXPECT_FALSE(parseType("!rec.tensor<[0], f32>", &context));
  EXPECT_FALSE(parseType("!rec.tensor<[4], f128>", &context));
  EXPECT_FALSE(parseType("!rec.tensor<[4], !rec.sid<0>>", &context));
}
