//===- Parser.h - .rdsl parser -------------------------------------*- C++
//-*-===//
#ifndef ONEREC_FRONTEND_PARSER_H
#define ONEREC_FRONTEND_PARSER_H

#include "onerec/Frontend/AST.h"
#include "onerec/Frontend/Lexer.h"

#include <deque>

namespace onerec::frontend {

/// Recursive-descent parser for one `.rdsl` buffer. Reports every syntax
/// error it can recover from (resynchronizing at the next statement) and
/// returns whatever parsed; check the reporter for errors.
class Parser {
public:
  Parser(llvm::StringRef buffer, DiagnosticReporter &diag);

  FileAST parseFile();

  /// Deepest nesting of expressions and blocks accepted before reporting an
  /// error (keeps hostile input from exhausting the stack).
  static constexpr unsigned kMaxNesting = 256;

private:
  // Tokens.
  Token pull();
  const Token &tok() const { return current; }
  const Token &peek();
  void consume();
  bool consumeIf(TokenKind kind);
  bool expect(TokenKind kind, llvm::StringRef context);
  void skipNewlines();
  /// A statement ends at a newline, a ';' or before a closing '}'.
  bool expectTerminator(llvm::StringRef context);
  /// Skips to the start of the next statement after an error.
  void synchronize();
  /// synchronize(), making sure an item that started at `itemStart` and
  /// failed there is stepped over.
  void recover(llvm::SMLoc itemStart);
  bool parseIdentifier(std::string &name, llvm::StringRef context,
                       llvm::SMLoc *loc = nullptr);

  // Declarations.
  void parseImport(FileAST &file);
  void parseModel(FileAST &file);
  bool parseModelItem(ModelDecl &model);
  bool parseBindings(std::vector<Binding> &out, llvm::StringRef context);
  bool parseBinding(Binding &out, llvm::StringRef context);
  bool parseFunction(FunctionDecl::Kind kind, ModelDecl &model);
  bool parseFormals(std::vector<FormalParam> &params);
  bool parseBody(StmtList &body, llvm::StringRef context);
  bool parseGenerate(ModelDecl &model);
  bool parseTrain(ModelDecl &model);
  bool parseStage(TrainDecl &train);
  bool parseType(TypeExpr &type);

  // Statements.
  StmtPtr parseStatement();
  StmtPtr parseIf();
  StmtPtr parseFor();

  // Expressions, lowest precedence first.
  ExprPtr parseExpr();
  ExprPtr parseOr();
  ExprPtr parseAnd();
  ExprPtr parseNot();
  ExprPtr parseComparison();
  ExprPtr parseAdditive();
  ExprPtr parseMultiplicative();
  ExprPtr parseUnary();
  ExprPtr parsePower();
  ExprPtr parsePostfix();
  ExprPtr parsePrimary();
  std::unique_ptr<CallExpr> parseCallArgs(ExprPtr callee);
  ExprPtr parseIndex(ExprPtr base);
  std::unique_ptr<CallExpr> parseCall(llvm::StringRef context);

  /// Counts one more link of an operator chain against the nesting limit.
  bool growChain(unsigned &links);

  /// Counts nesting; reports once when too deep.
  struct DepthGuard {
    DepthGuard(Parser &parser);
    ~DepthGuard() { --parser.depth; }
    bool tooDeep() const { return exceeded; }
    Parser &parser;
    bool exceeded;
  };

  Lexer lexer;
  DiagnosticReporter &diag;
  Token current;
  std::deque<Token> lookahead;
  unsigned depth = 0;
  bool reportedDepth = false;
  bool reportedUnclosedBody = false;
};

} // namespace onerec::frontend

#endif // ONEREC_FRONTEND_PARSER_H
