//===- AST.h - the .rdsl abstract syntax tree ---------------------*- C++
//-*-===//
//
// What the parser produces and the model compiler consumes. Every node keeps
// the source position of its first token so diagnostics and IR locations
// point at the `.rdsl` line.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_FRONTEND_AST_H
#define ONEREC_FRONTEND_AST_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Casting.h"
#include "llvm/Support/SMLoc.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace onerec::frontend {

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

class Expr {
public:
  enum class Kind {
    Int,
    Float,
    Bool,
    String,
    Name,
    Member,
    Unary,
    Binary,
    Call,
    Index,
    List,
    Repeat,
  };
  Expr(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  virtual ~Expr() = default;
  Kind getKind() const { return kind; }
  llvm::SMLoc getLoc() const { return loc; }

private:
  Kind kind;
  llvm::SMLoc loc;
};
using ExprPtr = std::unique_ptr<Expr>;

template <Expr::Kind K> class ExprBase : public Expr {
public:
  explicit ExprBase(llvm::SMLoc loc) : Expr(K, loc) {}
  static bool classof(const Expr *e) { return e->getKind() == K; }
};

class IntExpr : public ExprBase<Expr::Kind::Int> {
public:
  IntExpr(llvm::SMLoc loc, int64_t value) : ExprBase(loc), value(value) {}
  int64_t value;
};

class FloatExpr : public ExprBase<Expr::Kind::Float> {
public:
  FloatExpr(llvm::SMLoc loc, double value) : ExprBase(loc), value(value) {}
  double value;
};

class BoolExpr : public ExprBase<Expr::Kind::Bool> {
public:
  BoolExpr(llvm::SMLoc loc, bool value) : ExprBase(loc), value(value) {}
  bool value;
};

class StringExpr : public ExprBase<Expr::Kind::String> {
public:
  StringExpr(llvm::SMLoc loc, std::string value)
      : ExprBase(loc), value(std::move(value)) {}
  std::string value;
};

class NameExpr : public ExprBase<Expr::Kind::Name> {
public:
  NameExpr(llvm::SMLoc loc, std::string name)
      : ExprBase(loc), name(std::move(name)) {}
  std::string name;
};

/// `base.member`: a definition of an imported model (`pscore.score`).
class MemberExpr : public ExprBase<Expr::Kind::Member> {
public:
  MemberExpr(llvm::SMLoc loc, ExprPtr base, std::string member)
      : ExprBase(loc), base(std::move(base)), member(std::move(member)) {}
  ExprPtr base;
  std::string member;
};

enum class UnaryOp { Neg, Plus, Not };
enum class BinaryOp {
  Add,
  Sub,
  Mul,
  Div,
  Mod,
  Pow,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  And,
  Or,
};

/// The operator as written, for diagnostics.
llvm::StringRef spell(UnaryOp op);
llvm::StringRef spell(BinaryOp op);

class UnaryExpr : public ExprBase<Expr::Kind::Unary> {
public:
  UnaryExpr(llvm::SMLoc loc, UnaryOp op, ExprPtr operand)
      : ExprBase(loc), op(op), operand(std::move(operand)) {}
  UnaryOp op;
  ExprPtr operand;
};

class BinaryExpr : public ExprBase<Expr::Kind::Binary> {
public:
  BinaryExpr(llvm::SMLoc loc, BinaryOp op, ExprPtr lhs, ExprPtr rhs)
      : ExprBase(loc), op(op), lhs(std::move(lhs)), rhs(std::move(rhs)) {}
  BinaryOp op;
  ExprPtr lhs, rhs;
};

/// One argument of a call: positional, or `name = value`.
struct Arg {
  llvm::SMLoc loc;
  std::string name; // empty for positional arguments
  ExprPtr value;
};

class CallExpr : public ExprBase<Expr::Kind::Call> {
public:
  CallExpr(llvm::SMLoc loc, ExprPtr callee, std::vector<Arg> args)
      : ExprBase(loc), callee(std::move(callee)), args(std::move(args)) {}
  ExprPtr callee;
  std::vector<Arg> args;
};

/// One subscript of `x[...]`: `i`, `a:b`, `a:`, `:b` or `:`.
struct IndexItem {
  llvm::SMLoc loc;
  bool isRange = false;
  ExprPtr start; // the index itself when !isRange
  ExprPtr end;
};

class IndexExpr : public ExprBase<Expr::Kind::Index> {
public:
  IndexExpr(llvm::SMLoc loc, ExprPtr base, std::vector<IndexItem> items)
      : ExprBase(loc), base(std::move(base)), items(std::move(items)) {}
  ExprPtr base;
  std::vector<IndexItem> items;
};

class ListExpr : public ExprBase<Expr::Kind::List> {
public:
  ListExpr(llvm::SMLoc loc, std::vector<ExprPtr> elements)
      : ExprBase(loc), elements(std::move(elements)) {}
  std::vector<ExprPtr> elements;
};

/// `repeat n layer(x, ...)`: n instances of a block, each with its own
/// weights, threading the first argument through them.
class RepeatExpr : public ExprBase<Expr::Kind::Repeat> {
public:
  RepeatExpr(llvm::SMLoc loc, ExprPtr count, std::unique_ptr<CallExpr> call)
      : ExprBase(loc), count(std::move(count)), call(std::move(call)) {}
  ExprPtr count;
  std::unique_ptr<CallExpr> call;
};

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

/// `f32[B, L, d]`, `sid<codebook>[B, 5, levels]`, `id<items + 1>[B]`, `f32`.
struct TypeExpr {
  llvm::SMLoc loc;
  std::string dtype;
  ExprPtr vocab;             // id<...> / sid<...>
  std::vector<ExprPtr> dims; // empty (and !hasDims) for a scalar
  bool hasDims = false;
};

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

class Stmt {
public:
  enum class Kind { Assign, Return, If, For };
  Stmt(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  virtual ~Stmt() = default;
  Kind getKind() const { return kind; }
  llvm::SMLoc getLoc() const { return loc; }

private:
  Kind kind;
  llvm::SMLoc loc;
};
using StmtPtr = std::unique_ptr<Stmt>;
using StmtList = std::vector<StmtPtr>;

struct NameRef {
  llvm::SMLoc loc;
  std::string name;
};

class AssignStmt : public Stmt {
public:
  AssignStmt(llvm::SMLoc loc, std::vector<NameRef> targets, ExprPtr value)
      : Stmt(Kind::Assign, loc), targets(std::move(targets)),
        value(std::move(value)) {}
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Assign; }
  std::vector<NameRef> targets;
  ExprPtr value;
};

class ReturnStmt : public Stmt {
public:
  ReturnStmt(llvm::SMLoc loc, std::vector<ExprPtr> values)
      : Stmt(Kind::Return, loc), values(std::move(values)) {}
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Return; }
  std::vector<ExprPtr> values;
};

/// `if cond { ... } else { ... }` with a compile-time condition: only the
/// taken branch is compiled (configs switch between MoE and dense layers).
class IfStmt : public Stmt {
public:
  IfStmt(llvm::SMLoc loc, ExprPtr cond, StmtList thenBody, StmtList elseBody)
      : Stmt(Kind::If, loc), cond(std::move(cond)),
        thenBody(std::move(thenBody)), elseBody(std::move(elseBody)) {}
  static bool classof(const Stmt *s) { return s->getKind() == Kind::If; }
  ExprPtr cond;
  StmtList thenBody, elseBody;
};

/// `for i in range(n) { ... }`: the body runs once per element of a list
/// known at compile time; layers created in it are separate instances.
class ForStmt : public Stmt {
public:
  ForStmt(llvm::SMLoc loc, NameRef var, ExprPtr iterable, StmtList body)
      : Stmt(Kind::For, loc), var(std::move(var)),
        iterable(std::move(iterable)), body(std::move(body)) {}
  static bool classof(const Stmt *s) { return s->getKind() == Kind::For; }
  NameRef var;
  ExprPtr iterable;
  StmtList body;
};

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

struct Binding {
  llvm::SMLoc loc;
  std::string name;
  ExprPtr value;
};

struct ConstDecl {
  llvm::SMLoc loc;
  std::string name;
  ExprPtr value;
};

struct DimDecl {
  llvm::SMLoc loc;
  std::string name;
  ExprPtr max;
};

struct ConfigDecl {
  llvm::SMLoc loc;
  std::string name;
  std::vector<Binding> values;
};

enum class InputRole { Input, Target };

struct InputDecl {
  llvm::SMLoc loc;
  std::string name;
  InputRole role;
  TypeExpr type;
};

struct ParamDecl {
  llvm::SMLoc loc;
  std::string name;
  TypeExpr type;
  ExprPtr init; // null: the default initializer
};

/// A parameter of a block or def: `x`, `x : f32[B, d]`, `act = gelu`.
struct FormalParam {
  llvm::SMLoc loc;
  std::string name;
  std::optional<TypeExpr> type;
  ExprPtr defaultValue;
};

/// `block`, `def`, `loss` and `reward` declarations share this shape.
struct FunctionDecl {
  enum class Kind { Block, Def, Loss, Reward };
  Kind kind;
  llvm::SMLoc loc;
  std::string name;
  std::vector<FormalParam> params;
  StmtList body;
};

struct GenerateDecl {
  llvm::SMLoc loc;
  std::string name;
  std::optional<TypeExpr> type;
  std::unique_ptr<CallExpr> strategy;
};

/// `minimize ntp + 0.1 * aux`, or an alignment objective `ecpo(...)`.
struct Objective {
  llvm::SMLoc loc;
  ExprPtr minimize;                    // set for `minimize`
  std::unique_ptr<CallExpr> alignment; // set for dpo/ecpo
};

struct StageDecl {
  llvm::SMLoc loc;
  std::string name;
  std::vector<Binding> settings;
  std::vector<Objective> objectives;
};

struct TrainDecl {
  llvm::SMLoc loc;
  std::unique_ptr<CallExpr> optimizer;
  std::unique_ptr<CallExpr> schedule;
  std::vector<Binding> settings;
  std::vector<StageDecl> stages;
};

/// `import "pscore.rdsl" as pscore(codebook = codebook)`: the bindings set
/// constants of the imported model from the importing one.
struct ImportDecl {
  llvm::SMLoc loc;
  std::string path;
  std::string alias;
  std::vector<Binding> bindings;
};

struct ModelDecl {
  llvm::SMLoc loc;
  std::string name;
  std::vector<ConstDecl> consts;
  std::vector<DimDecl> dims;
  std::vector<ConfigDecl> configs;
  std::vector<InputDecl> inputs;
  std::vector<ParamDecl> params;
  std::vector<FunctionDecl> functions;
  std::vector<GenerateDecl> generates;
  std::vector<TrainDecl> trains;
  std::optional<Binding> seed;
};

/// One `.rdsl` file: its imports and its model.
struct FileAST {
  std::vector<ImportDecl> imports;
  std::optional<ModelDecl> model;
};

} // namespace onerec::frontend

#endif // ONEREC_FRONTEND_AST_H
