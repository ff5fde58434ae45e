//===- DiagnosticsTest.cpp - suggestions for misspelled names -------------===//

#include "onerec/Frontend/Diagnostics.h"

#include <gtest/gtest.h>

using namespace onerec::frontend;

TEST(DiagnosticsTest, SuggestsCloseNames) {
  std::vector<std::string> names = {"attn", "cross_attn", "ffn", "rmsnorm"};
  EXPECT_EQ(closestMatch("atten", names), "attn");
  EXPECT_EQ(closestMatch("rmsnrom", names), "rmsnorm"); // a transposition
  EXPECT_EQ(closestMatch("cross_atn", names), "cross_attn");
  EXPECT_EQ(didYouMean("fn", names), "; did you mean 'ffn'?");
}

TEST(DiagnosticsTest, DoesNotSuggestUnrelatedNames) {
  std::vector<std::string> names = {"l", "d", "heads"};
  EXPECT_EQ(closestMatch("x", names), ""); // every character differs
  EXPECT_EQ(closestMatch("layers", names), "");
  EXPECT_EQ(didYouMean("zzzz", names), "");
  // An exact match is not a suggestion.
  EXPECT_EQ(closestMatch("heads", names), "");
}
