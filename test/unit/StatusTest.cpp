//===- StatusTest.cpp - runtime Status and StatusOr -----------------------===//

#include "onerec/Runtime/Status.h"

#include <gtest/gtest.h>

using namespace onerec::runtime;

TEST(StatusTest, OkByDefault) {
  Status status;
  EXPECT_TRUE(status.isOk());
  EXPECT_EQ(status.toString(), "ok");
}

TEST(StatusTest, ErrorCarriesCodeMessageAndContext) {
  Status status = Status::error(Status::Code::Corrupt,
                                "truncated (12 bytes, need at least 24)");
  EXPECT_FALSE(status.isOk());
  EXPECT_EQ(status.code(), Status::Code::Corrupt);
  Status located = status.withContext("plan.fb");
  EXPECT_EQ(located.message(),
            "plan.fb: truncated (12 bytes, need at least 24)");
  EXPECT_EQ(located.toString(),
            "corrupt: plan.fb: truncated (12 bytes, need at least 24)");
  EXPECT_TRUE(Status::ok().withContext("x").isOk());
}

TEST(StatusTest, StatusOrHoldsAValueOrAnError) {
  StatusOr<int> value(42);
  ASSERT_TRUE(value.isOk());
  EXPECT_EQ(*value, 42);
  StatusOr<int> error(Status::error(Status::Code::NotFound, "no tensor 'w'"));
  ASSERT_FALSE(error.isOk());
  EXPECT_EQ(error.status().code(), Status::Code::NotFound);
  EXPECT_EQ(error.status().message(), "no tensor 'w'");
}

TEST(StatusTest, PrintableTextEscapesBytesAndCuts) {
  EXPECT_EQ(onerec::runtime::printableText("ok name"), "ok name");
  EXPECT_EQ(onerec::runtime::printableText(std::string("a\xff\n\x01", 4)),
            "a\\xff\\x0a\\x01");
  EXPECT_EQ(onerec::runtime::printableText("abcdef", 3), "abc...");
}
