//===- Lexer.h - .rdsl tokens -------------------------------------*- C++
//-*-===//
#ifndef ONEREC_FRONTEND_LEXER_H
#define ONEREC_FRONTEND_LEXER_H

#include "onerec/Frontend/Diagnostics.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

namespace onerec::frontend {

enum class TokenKind {
  Eof,
  Error,
  Newline,
  Identifier,
  Integer,
  Float,
  String,
  // Punctuation.
  LParen,
  RParen,
  LSquare,
  RSquare,
  LBrace,
  RBrace,
  Comma,
  Colon,
  Semicolon,
  Dot,
  Equal,
  Plus,
  Minus,
  Star,
  StarStar,
  Slash,
  Percent,
  Less,
  LessEqual,
  Greater,
  GreaterEqual,
  EqualEqual,
  NotEqual,
// Keywords.
#define ONEREC_KEYWORD(NAME) Kw_##NAME,
#include "onerec/Frontend/Keywords.def"
};

struct Token {
  TokenKind kind = TokenKind::Eof;
  llvm::StringRef spelling;
  int64_t intValue = 0;
  double floatValue = 0;
  std::string stringValue; // unescaped contents of a string literal

  llvm::SMLoc getLoc() const {
    return llvm::SMLoc::getFromPointer(spelling.data());
  }
  bool is(TokenKind k) const { return kind == k; }
  bool isKeyword() const;
  /// Keywords that begin a model-level declaration (const, def, train ...).
  bool startsDeclaration() const;
};

/// How a token kind is written, for "expected ')'" messages.
llvm::StringRef spell(TokenKind kind);

/// Turns one buffer into tokens. Newlines are tokens (they end statements)
/// except inside parentheses and brackets, where expressions may wrap.
class Lexer {
public:
  Lexer(llvm::StringRef buffer, DiagnosticReporter &diag);

  Token next();

private:
  Token make(TokenKind kind, const char *start);
  Token lexNumber(const char *start);
  Token lexString(const char *start);
  Token lexIdentifier(const char *start);
  /// Skips spaces and comments; stops at a newline or a token.
  bool skipTrivia();

  const char *cur;
  const char *end;
  DiagnosticReporter &diag;
  int bracketDepth = 0;
  bool lastWasNewline = true;
};

} // namespace onerec::frontend

#endif // ONEREC_FRONTEND_LEXER_H
