//===- Lexer.cpp - .rdsl tokens -------------------------------------------===//

#include "onerec/Frontend/Lexer.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <cstdlib>

using namespace onerec::frontend;

bool Token::startsDeclaration() const {
  switch (kind) {
  case TokenKind::Kw_model:
  case TokenKind::Kw_import:
  case TokenKind::Kw_const:
  case TokenKind::Kw_dim:
  case TokenKind::Kw_config:
  case TokenKind::Kw_input:
  case TokenKind::Kw_target:
  case TokenKind::Kw_param:
  case TokenKind::Kw_block:
  case TokenKind::Kw_def:
  case TokenKind::Kw_loss:
  case TokenKind::Kw_reward:
  case TokenKind::Kw_generate:
  case TokenKind::Kw_train:
    return true;
  default:
    return false;
  }
}

bool Token::isKeyword() const {
  switch (kind) {
#define ONEREC_KEYWORD(NAME) case TokenKind::Kw_##NAME:
#include "onerec/Frontend/Keywords.def"
    return true;
  default:
    return false;
  }
}

llvm::StringRef onerec::frontend::spell(TokenKind kind) {
  switch (kind) {
  case TokenKind::Eof:
    return "end of file";
  case TokenKind::Error:
    return "invalid token";
  case TokenKind::Newline:
    return "end of line";
  case TokenKind::Identifier:
    return "a name";
  case TokenKind::Integer:
    return "an integer";
  case TokenKind::Float:
    return "a number";
  case TokenKind::String:
    return "a string";
  case TokenKind::LParen:
    return "'('";
  case TokenKind::RParen:
    return "')'";
  case TokenKind::LSquare:
    return "'['";
  case TokenKind::RSquare:
    return "']'";
  case TokenKind::LBrace:
    return "'{'";
  case TokenKind::RBrace:
    return "'}'";
  case TokenKind::Comma:
    return "','";
  case TokenKind::Colon:
    return "':'";
  case TokenKind::Semicolon:
    return "';'";
  case TokenKind::Dot:
    return "'.'";
  case TokenKind::Equal:
    return "'='";
  case TokenKind::Plus:
    return "'+'";
  case TokenKind::Minus:
    return "'-'";
  case TokenKind::Star:
    return "'*'";
  case TokenKind::StarStar:
    return "'**'";
  case TokenKind::Slash:
    return "'/'";
  case TokenKind::Percent:
    return "'%'";
  case TokenKind::Less:
    return "'<'";
  case TokenKind::LessEqual:
    return "'<='";
  case TokenKind::Greater:
    return "'>'";
  case TokenKind::GreaterEqual:
    return "'>='";
  case TokenKind::EqualEqual:
    return "'=='";
  case TokenKind::NotEqual:
    return "'!='";
#define ONEREC_KEYWORD(NAME)                                                   \
  case TokenKind::Kw_##NAME:                                                   \
    return "'" #NAME "'";
#include "onerec/Frontend/Keywords.def"
  }
  return "token";
}

Lexer::Lexer(llvm::StringRef buffer, DiagnosticReporter &diag)
    : cur(buffer.begin()), end(buffer.end()), diag(diag) {}

Token Lexer::make(TokenKind kind, const char *start) {
  Token token;
  token.kind = kind;
  token.spelling = llvm::StringRef(start, cur - start);
  lastWasNewline = kind == TokenKind::Newline;
  return token;
}

bool Lexer::skipTrivia() {
  while (cur < end) {
    char c = *cur;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      ++cur;
    } else if (c == '/' && cur + 1 < end && cur[1] == '/') {
      // `//` always starts a comment (so the language has no `//` operator).
      while (cur < end && *cur != '\n')
        ++cur;
    } else if (c == '/' && cur + 1 < end && cur[1] == '*') {
      const char *start = cur;
      cur += 2;
      while (cur + 1 < end && !(cur[0] == '*' && cur[1] == '/'))
        ++cur;
      if (cur + 1 >= end) {
        cur = end;
        diag.error(llvm::SMLoc::getFromPointer(start))
            << "unterminated '/*' comment";
        return false;
      }
      cur += 2;
    } else if (c == '\\' && cur + 1 < end &&
               (cur[1] == '\n' ||
                (cur[1] == '\r' && cur + 2 < end && cur[2] == '\n'))) {
      // A backslash at the end of a line continues the statement.
      cur += cur[1] == '\n' ? 2 : 3;
    } else {
      break;
    }
  }
  return true;
}

Token Lexer::next() {
  while (true) {
    if (!skipTrivia())
      continue;
    const char *start = cur;
    if (cur >= end)
      return make(TokenKind::Eof, start);
    char c = *cur++;
    switch (c) {
    case '\n':
      // Newlines inside (...) and [...] do not end statements; repeated
      // newlines collapse into one token.
      if (bracketDepth > 0 || lastWasNewline)
        continue;
      return make(TokenKind::Newline, start);
    case '(':
      ++bracketDepth;
      return make(TokenKind::LParen, start);
    case ')':
      bracketDepth = std::max(0, bracketDepth - 1);
      return make(TokenKind::RParen, start);
    case '[':
      ++bracketDepth;
      return make(TokenKind::LSquare, start);
    case ']':
      bracketDepth = std::max(0, bracketDepth - 1);
      return make(TokenKind::RSquare, start);
    case '{':
      // A brace opens statements, where newlines matter again.
      bracketDepth = 0;
      return make(TokenKind::LBrace, start);
    case '}':
      bracketDepth = 0;
      return make(TokenKind::RBrace, start);
    case ',':
      return make(TokenKind::Comma, start);
    case ':':
      return make(TokenKind::Colon, start);
    case ';':
      return make(TokenKind::Semicolon, start);
    case '.':
      return make(TokenKind::Dot, start);
    case '+':
      return make(TokenKind::Plus, start);
    case '-':
      return make(TokenKind::Minus, start);
    case '%':
      return make(TokenKind::Percent, start);
    case '/':
      return make(TokenKind::Slash, start);
    case '*':
      if (cur < end && *cur == '*') {
        ++cur;
        return make(TokenKind::StarStar, start);
      }
      return make(TokenKind::Star, start);
    case '=':
      if (cur < end && *cur == '=') {
        ++cur;
        return make(TokenKind::EqualEqual, start);
      }
      return make(TokenKind::Equal, start);
    case '!':
      if (cur < end && *cur == '=') {
        ++cur;
        return make(TokenKind::NotEqual, start);
      }
      diag.error(llvm::SMLoc::getFromPointer(start))
          << "unexpected '!'; logical negation is spelled 'not'";
      return make(TokenKind::Error, start);
    case '<':
      if (cur < end && *cur == '=') {
        ++cur;
        return make(TokenKind::LessEqual, start);
      }
      return make(TokenKind::Less, start);
    case '>':
      if (cur < end && *cur == '=') {
        ++cur;
        return make(TokenKind::GreaterEqual, start);
      }
      return make(TokenKind::Greater, start);
    case '"':
      return lexString(start);
    default:
      break;
    }
    if (llvm::isDigit(c))
      return lexNumber(start);
    if (llvm::isAlpha(c) || c == '_')
      return lexIdentifier(start);
    auto diagnostic = diag.error(llvm::SMLoc::getFromPointer(start));
    if (llvm::isPrint(c)) {
      diagnostic << "unexpected character '" << llvm::StringRef(start, 1)
                 << "'";
      return make(TokenKind::Error, start);
    }
    // One report for a run of bytes that are not text.
    while (cur < end && !llvm::isPrint(*cur) && !llvm::isSpace(*cur))
      ++cur;
    static const char kHex[] = "0123456789ABCDEF";
    unsigned char byte = static_cast<unsigned char>(c);
    char spelled[] = {'0', 'x', kHex[byte >> 4], kHex[byte & 15], '\0'};
    diagnostic << "unexpected byte " << spelled
               << (cur - start > 1 ? " and what follows" : "")
               << " (is this a .rdsl text file?)";
    return make(TokenKind::Error, start);
  }
}

Token Lexer::lexNumber(const char *start) {
  while (cur < end && (llvm::isDigit(*cur) || *cur == '_'))
    ++cur;
  bool isFloat = false;
  if (cur + 1 < end && *cur == '.' && llvm::isDigit(cur[1])) {
    isFloat = true;
    cur += 1;
    while (cur < end && (llvm::isDigit(*cur) || *cur == '_'))
      ++cur;
  }
  if (cur < end && (*cur == 'e' || *cur == 'E')) {
    const char *exp = cur + 1;
    if (exp < end && (*exp == '+' || *exp == '-'))
      ++exp;
    if (exp < end && llvm::isDigit(*exp)) {
      isFloat = true;
      cur = exp;
      while (cur < end && llvm::isDigit(*cur))
        ++cur;
    }
  }
  Token token = make(isFloat ? TokenKind::Float : TokenKind::Integer, start);
  // Digit separators (`1_000_000`) are for people only.
  std::string digits;
  for (char ch : token.spelling)
    if (ch != '_')
      digits.push_back(ch);
  if (isFloat) {
    token.floatValue = std::strtod(digits.c_str(), nullptr);
    if (!std::isfinite(token.floatValue)) {
      diag.error(token.getLoc())
          << "number '" << token.spelling << "' is out of range";
      token.floatValue = 0; // the error is reported
    }
    return token;
  }
  uint64_t value = 0;
  if (llvm::StringRef(digits).getAsInteger(10, value) ||
      value > static_cast<uint64_t>(INT64_MAX)) {
    diag.error(token.getLoc())
        << "integer '" << token.spelling << "' does not fit in 64 bits";
    return token; // value 0; the error is reported
  }
  token.intValue = static_cast<int64_t>(value);
  return token;
}

Token Lexer::lexString(const char *start) {
  std::string value;
  while (cur < end && *cur != '"' && *cur != '\n') {
    char c = *cur++;
    if (c == '\\' && cur < end) {
      char escaped = *cur++;
      switch (escaped) {
      case 'n':
        value.push_back('\n');
        break;
      case 't':
        value.push_back('\t');
        break;
      case '\\':
        value.push_back('\\');
        break;
      case '"':
        value.push_back('"');
        break;
      default:
        diag.error(llvm::SMLoc::getFromPointer(cur - 2))
            << "unknown escape '\\" << llvm::StringRef(cur - 1, 1) << "'";
        value.push_back(escaped);
      }
      continue;
    }
    value.push_back(c);
  }
  bool terminated = cur < end && *cur == '"';
  if (!terminated)
    diag.error(llvm::SMLoc::getFromPointer(start))
        << "unterminated string literal";
  else
    ++cur;
  // An unterminated string still makes a token, so one mistake gives one
  // error.
  Token token = make(TokenKind::String, start);
  token.stringValue = std::move(value);
  return token;
}

Token Lexer::lexIdentifier(const char *start) {
  while (cur < end && (llvm::isAlnum(*cur) || *cur == '_'))
    ++cur;
  llvm::StringRef spelling(start, cur - start);
  TokenKind kind = llvm::StringSwitch<TokenKind>(spelling)
#define ONEREC_KEYWORD(NAME) .Case(#NAME, TokenKind::Kw_##NAME)
#include "onerec/Frontend/Keywords.def"
                       .Default(TokenKind::Identifier);
  // A declaration keyword cannot be inside an expression: an unclosed '(' or
  // '[' before it is an error, and newlines count again from here on.
  Token token = make(kind, start);
  if (token.startsDeclaration())
    bracketDepth = 0;
  return token;
}
