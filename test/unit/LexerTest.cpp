//===- LexerTest.cpp - .rdsl tokens ---------------------------------------===//

#include "onerec/Frontend/Lexer.h"
#include "TestSource.h"

#include <gtest/gtest.h>

using namespace onerec::frontend;
using onerec::test::TestSource;

namespace {
std::vector<Token> lex(TestSource &source) {
  DiagnosticReporter diag(source.sourceMgr, &source.context);
  Lexer lexer(source.text(), diag);
  std::vector<Token> tokens;
  do {
    tokens.push_back(lexer.next());
  } while (!tokens.back().is(TokenKind::Eof));
  return tokens;
}

std::vector<TokenKind> kinds(const std::vector<Token> &tokens) {
  std::vector<TokenKind> result;
  for (const Token &t : tokens)
    result.push_back(t.kind);
  return result;
}
} // namespace

TEST(LexerTest, NumbersKeywordsAndOperators) {
  TestSource source("const x = 1_000 * 2.5e-3 ** y <= z != w");
  std::vector<Token> tokens = lex(source);
  using K = TokenKind;
  EXPECT_EQ(
      kinds(tokens),
      (std::vector<K>{K::Kw_const, K::Identifier, K::Equal, K::Integer, K::Star,
                      K::Float, K::StarStar, K::Identifier, K::LessEqual,
                      K::Identifier, K::NotEqual, K::Identifier, K::Eof}));
  EXPECT_EQ(tokens[3].intValue, 1000);
  EXPECT_DOUBLE_EQ(tokens[5].floatValue, 2.5e-3);
  EXPECT_TRUE(source.errors.empty());
}

TEST(LexerTest, NewlinesEndStatementsOutsideBrackets) {
  TestSource source("a = f(1,\n  2)\n\n\nb = [3,\n4] // comment\n");
  std::vector<TokenKind> got = kinds(lex(source));
  using K = TokenKind;
  EXPECT_EQ(got, (std::vector<K>{K::Identifier, K::Equal, K::Identifier,
                                 K::LParen, K::Integer, K::Comma, K::Integer,
                                 K::RParen, K::Newline, K::Identifier, K::Equal,
                                 K::LSquare, K::Integer, K::Comma, K::Integer,
                                 K::RSquare, K::Newline, K::Eof}));
}

TEST(LexerTest, StringsUnescape) {
  TestSource source(R"("a\"b\\c\n")");
  std::vector<Token> tokens = lex(source);
  ASSERT_EQ(tokens[0].kind, TokenKind::String);
  EXPECT_EQ(tokens[0].stringValue, "a\"b\\c\n");
}

TEST(LexerTest, BadInputIsReportedWithPositions) {
  TestSource source("x $ y\n\"open\n99999999999999999999\n/* open");
  std::vector<Token> tokens = lex(source);
  ASSERT_EQ(source.errors.size(), 4u);
  EXPECT_EQ(source.errors[0], "1:3: unexpected character '$'");
  EXPECT_EQ(source.errors[1], "2:1: unterminated string literal");
  EXPECT_EQ(source.errors[2],
            "3:1: integer '99999999999999999999' does not fit in 64 bits");
  EXPECT_EQ(source.errors[3], "4:1: unterminated '/*' comment");
  EXPECT_TRUE(tokens.back().is(TokenKind::Eof));
}

TEST(LexerTest, BinaryRunsAreOneError) {
  std::string bytes = "model";
  bytes += std::string("\x01\x02\x80\xff\xfe", 5);
  TestSource source(bytes);
  lex(source);
  ASSERT_EQ(source.errors.size(), 1u);
  EXPECT_EQ(source.errors[0],
            "1:6: unexpected byte 0x01 and what follows (is this a .rdsl "
            "text file?)");
}
