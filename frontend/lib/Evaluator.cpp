//===- Evaluator.cpp - expressions, statements and calls ------------------===//
//
// Evaluates `.rdsl` expressions: compile-time arithmetic is folded here (with
// overflow checks), tensor arithmetic becomes rec ops, calls instantiate
// blocks (fresh weights per call site), inline defs (shared weights) or run
// builtins.
//
//===----------------------------------------------------------------------===//

#include "Builtins.h"
#include "ModelCompiler.h"

#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace mlir;
using namespace onerec;
using namespace onerec::frontend;
using rec::Dim;
using rec::RecTensorType;

/// Words that stand for themselves where a name is expected: enum values of
/// builtin arguments (`act = swiglu`, `attn(x, h, causal)`).
static constexpr const char *kWords[] = {
    "gelu",  "relu", "silu",   "swiglu",   "causal",   "catalog",
    "sum",   "mean", "concat", "aux_free", "aux_loss", "softmax",
    "zeros", "ones", "beam",   "greedy"};

static bool isWord(llvm::StringRef name) {
  return llvm::is_contained(kWords, name);
}

//===----------------------------------------------------------------------===//
// Names
//===----------------------------------------------------------------------===//

std::vector<std::string> ModelCompiler::visibleNames() const {
  std::vector<std::string> names;
  if (frame)
    for (const auto &local : frame->locals)
      names.push_back(local.getKey().str());
  for (const auto &entry : declaredAt)
    names.push_back(entry.getKey().str());
  return names;
}

CompilerValue ModelCompiler::lookup(llvm::StringRef name, llvm::SMLoc at) {
  if (frame)
    if (auto it = frame->locals.find(name); it != frame->locals.end())
      return it->second;
  if (name == "none")
    return CompilerValue::none();
  if (consts.count(name))
    return constValue(name, at);
  if (isDeclaredDim(name))
    return CompilerValue::dim(name.str());
  if (inputs.count(name) || generated.count(name)) {
    Value arg = inputArgument(name, at);
    return arg ? CompilerValue::tensor(arg) : CompilerValue::poison();
  }
  if (auto it = explicitParams.find(name); it != explicitParams.end()) {
    if (!session.entry) {
      error(at) << "'" << name
                << "' is a parameter; it has no value at compile time";
      return CompilerValue::poison();
    }
    auto found = params.find(name);
    if (found == params.end())
      return CompilerValue::poison(); // its declaration was reported
    return param(at, name.str(), found->second.getTensorType(),
                 found->second.getInit());
  }
  if (auto it = functions.find(name); it != functions.end()) {
    const FunctionDecl &fn = *it->second;
    // A loss or reward used as a value is computed in place: `total = ntp +
    // 0.1 * aux`.
    if (fn.kind == FunctionDecl::Kind::Loss ||
        fn.kind == FunctionDecl::Kind::Reward) {
      CallExpr call(at, nullptr, {});
      return callDef(fn, call, {});
    }
    error(at) << "'" << name << "' is a "
              << (fn.kind == FunctionDecl::Kind::Block ? "block" : "def")
              << "; call it: " << name << "(...)";
    return CompilerValue::poison();
  }
  if (imports.count(name)) {
    error(at) << "'" << name
              << "' is an imported model; call one of its defs: " << name
              << ".<def>(...)";
    return CompilerValue::poison();
  }
  // Declared, but without a value where it is read (a constant naming a
  // generated output, say).
  if (declaredAt.count(name)) {
    error(at) << "'" << name << "' has no value at compile time";
    return CompilerValue::poison();
  }
  if (Type type = dtypeNamed(name))
    return CompilerValue::dtype(type);
  if (isWord(name))
    return CompilerValue::word(name.str());
  if (lookupBuiltin(name)) {
    error(at) << "'" << name << "' is a builtin function; call it: " << name
              << "(...)";
    return CompilerValue::poison();
  }
  std::vector<std::string> candidates = visibleNames();
  candidates.insert(candidates.end(), std::begin(kWords), std::end(kWords));
  error(at) << "unknown name '" << name << "'" << didYouMean(name, candidates);
  return CompilerValue::poison();
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

CompilerValue ModelCompiler::eval(const Expr &expr) {
  switch (expr.getKind()) {
  case Expr::Kind::Int:
    return CompilerValue::integer(llvm::cast<IntExpr>(expr).value);
  case Expr::Kind::Float:
    return CompilerValue::floating(llvm::cast<FloatExpr>(expr).value);
  case Expr::Kind::Bool:
    return CompilerValue::boolean(llvm::cast<BoolExpr>(expr).value);
  case Expr::Kind::String:
    return CompilerValue::string(llvm::cast<StringExpr>(expr).value);
  case Expr::Kind::Name:
    return lookup(llvm::cast<NameExpr>(expr).name, expr.getLoc());
  case Expr::Kind::Member: {
    auto &member = llvm::cast<MemberExpr>(expr);
    auto *base = llvm::dyn_cast<NameExpr>(member.base.get());
    if (base && imports.count(base->name))
      error(expr.getLoc()) << "'" << base->name << "." << member.member
                           << "' is a def of an imported model; call it";
    else
      error(expr.getLoc()) << "'.' names a def of an imported model "
                              "(model.def(...)); there is no member '"
                           << member.member << "' here";
    return CompilerValue::poison();
  }
  case Expr::Kind::Unary:
    return evalUnary(llvm::cast<UnaryExpr>(expr));
  case Expr::Kind::Binary:
    return evalBinary(llvm::cast<BinaryExpr>(expr));
  case Expr::Kind::Call:
    return evalCall(llvm::cast<CallExpr>(expr));
  case Expr::Kind::Index:
    return evalIndex(llvm::cast<IndexExpr>(expr));
  case Expr::Kind::List: {
    std::vector<CompilerValue> elements;
    for (const ExprPtr &element : llvm::cast<ListExpr>(expr).elements)
      elements.push_back(eval(*element));
    return CompilerValue::list(std::move(elements));
  }
  case Expr::Kind::Repeat:
    return evalRepeat(llvm::cast<RepeatExpr>(expr));
  }
  return CompilerValue::poison();
}

FailureOr<int64_t> ModelCompiler::evalInt(const Expr &expr,
                                          llvm::StringRef what) {
  CompilerValue value = eval(expr);
  if (value.isPoison())
    return failure();
  if (!value.is(CompilerValue::Kind::Int)) {
    error(expr.getLoc()) << what << " must be an integer, got "
                         << value.describe();
    return failure();
  }
  return value.getInt();
}

FailureOr<double> ModelCompiler::evalNumber(const Expr &expr,
                                            llvm::StringRef what) {
  CompilerValue value = eval(expr);
  if (value.isPoison())
    return failure();
  if (!value.isNumber()) {
    error(expr.getLoc()) << what << " must be a number, got "
                         << value.describe();
    return failure();
  }
  return value.asDouble();
}

CompilerValue ModelCompiler::evalUnary(const UnaryExpr &expr) {
  CompilerValue operand = eval(*expr.operand);
  if (operand.isPoison())
    return operand;
  llvm::SMLoc at = expr.getLoc();
  switch (expr.op) {
  case UnaryOp::Plus:
    if (operand.isNumber() || operand.isTensor())
      return operand;
    break;
  case UnaryOp::Neg:
    if (operand.is(CompilerValue::Kind::Int)) {
      if (operand.getInt() == INT64_MIN)
        break;
      return CompilerValue::integer(-operand.getInt());
    }
    if (operand.is(CompilerValue::Kind::Float))
      return CompilerValue::floating(-operand.getFloat());
    if (operand.isTensor())
      return emit<rec::NegOp>(at, operand.getTensor());
    break;
  case UnaryOp::Not:
    if (operand.is(CompilerValue::Kind::Bool))
      return CompilerValue::boolean(!operand.getBool());
    if (operand.isTensor())
      return emit<rec::NotOp>(at, operand.getTensor());
    break;
  }
  error(at) << "cannot apply '" << spell(expr.op) << "' to "
            << operand.describe();
  return CompilerValue::poison();
}

CompilerValue ModelCompiler::evalBinary(const BinaryExpr &expr) {
  CompilerValue lhs = eval(*expr.lhs);
  CompilerValue rhs = eval(*expr.rhs);
  if (lhs.isPoison() || rhs.isPoison())
    return CompilerValue::poison();
  return arithmetic(expr.getLoc(), expr.op, lhs, rhs);
}

/// Checked compile-time arithmetic on numbers, flags and words.
CompilerValue ModelCompiler::foldConstant(llvm::SMLoc at, BinaryOp op,
                                          const CompilerValue &lhs,
                                          const CompilerValue &rhs) {
  using K = CompilerValue::Kind;
  auto mismatch = [&] {
    error(at) << "cannot apply '" << spell(op) << "' to " << lhs.describe()
              << " and " << rhs.describe();
    return CompilerValue::poison();
  };
  if (op == BinaryOp::And || op == BinaryOp::Or) {
    if (!lhs.is(K::Bool) || !rhs.is(K::Bool))
      return mismatch();
    return CompilerValue::boolean(op == BinaryOp::And
                                      ? lhs.getBool() && rhs.getBool()
                                      : lhs.getBool() || rhs.getBool());
  }
  if (op == BinaryOp::Eq || op == BinaryOp::Ne) {
    bool equal;
    if (lhs.isNumber() && rhs.isNumber())
      equal = lhs.asDouble() == rhs.asDouble();
    else if (lhs.getKind() == rhs.getKind() &&
             (lhs.is(K::Bool) || lhs.is(K::Word) || lhs.is(K::String) ||
              lhs.is(K::Dim)))
      equal = lhs.is(K::Bool) ? lhs.getBool() == rhs.getBool()
                              : lhs.getString() == rhs.getString();
    else if (lhs.is(K::DType) && rhs.is(K::DType))
      equal = lhs.getDType() == rhs.getDType();
    else
      return mismatch();
    return CompilerValue::boolean(op == BinaryOp::Eq ? equal : !equal);
  }
  if (!lhs.isNumber() || !rhs.isNumber()) {
    if (lhs.is(K::Dim) || rhs.is(K::Dim)) {
      error(at) << "symbolic dimension '"
                << (lhs.is(K::Dim) ? lhs.getString() : rhs.getString())
                << "' has no value at compile time";
      return CompilerValue::poison();
    }
    return mismatch();
  }
  bool ints = lhs.is(K::Int) && rhs.is(K::Int);
  double a = lhs.asDouble(), b = rhs.asDouble();
  switch (op) {
  case BinaryOp::Lt:
    return CompilerValue::boolean(a < b);
  case BinaryOp::Le:
    return CompilerValue::boolean(a <= b);
  case BinaryOp::Gt:
    return CompilerValue::boolean(a > b);
  case BinaryOp::Ge:
    return CompilerValue::boolean(a >= b);
  default:
    break;
  }
  if (ints) {
    int64_t x = lhs.getInt(), y = rhs.getInt(), r = 0;
    bool overflow = false;
    switch (op) {
    case BinaryOp::Add:
      overflow = llvm::AddOverflow(x, y, r);
      break;
    case BinaryOp::Sub:
      overflow = llvm::SubOverflow(x, y, r);
      break;
    case BinaryOp::Mul:
      overflow = llvm::MulOverflow(x, y, r);
      break;
    case BinaryOp::Div:
    case BinaryOp::Mod:
      if (y == 0) {
        error(at) << "division by zero";
        return CompilerValue::poison();
      }
      if (x == INT64_MIN && y == -1) {
        overflow = true;
        break;
      }
      if (op == BinaryOp::Mod)
        return CompilerValue::integer(x % y);
      if (x % y != 0) {
        error(at) << x << " / " << y << " is not an integer; write a float ("
                  << x << ".0 / " << y << ") for a fractional result";
        return CompilerValue::poison();
      }
      r = x / y;
      break;
    case BinaryOp::Pow: {
      if (y < 0)
        return CompilerValue::floating(std::pow(a, b));
      r = 1;
      for (int64_t i = 0; i < y && !overflow; ++i)
        overflow = llvm::MulOverflow(r, x, r);
      break;
    }
    default:
      return mismatch();
    }
    if (overflow) {
      error(at) << "integer overflow in " << x << " " << spell(op) << " " << y;
      return CompilerValue::poison();
    }
    return CompilerValue::integer(r);
  }
  double r = 0;
  switch (op) {
  case BinaryOp::Add:
    r = a + b;
    break;
  case BinaryOp::Sub:
    r = a - b;
    break;
  case BinaryOp::Mul:
    r = a * b;
    break;
  case BinaryOp::Div:
    if (b == 0) {
      error(at) << "division by zero";
      return CompilerValue::poison();
    }
    r = a / b;
    break;
  case BinaryOp::Pow:
    r = std::pow(a, b);
    break;
  case BinaryOp::Mod:
    error(at) << "'%' takes integers";
    return CompilerValue::poison();
  default:
    return mismatch();
  }
  if (!std::isfinite(r)) {
    error(at) << "the result of '" << spell(op) << "' is not a finite number";
    return CompilerValue::poison();
  }
  return CompilerValue::floating(r);
}

CompilerValue ModelCompiler::arithmetic(llvm::SMLoc at, BinaryOp op,
                                        const CompilerValue &lhs,
                                        const CompilerValue &rhs) {
  // Lists (which may hold tensors) concatenate: towers = towers + [t].
  if (lhs.is(CompilerValue::Kind::List) && rhs.is(CompilerValue::Kind::List)) {
    if (op != BinaryOp::Add) {
      error(at) << "lists support only '+' (concatenation)";
      return CompilerValue::poison();
    }
    std::vector<CompilerValue> joined(lhs.getElements().begin(),
                                      lhs.getElements().end());
    llvm::append_range(joined, rhs.getElements());
    return CompilerValue::list(std::move(joined));
  }
  if (!lhs.isTensor() && !rhs.isTensor())
    return foldConstant(at, op, lhs, rhs);
  if (op == BinaryOp::Mod) {
    error(at) << "'%' works on compile-time integers, not tensors";
    return CompilerValue::poison();
  }
  RecTensorType like =
      lhs.isTensor() ? lhs.getTensorType() : rhs.getTensorType();
  CompilerValue l = asTensorLike(at, lhs, like);
  CompilerValue r = asTensorLike(at, rhs, like);
  if (l.isPoison() || r.isPoison())
    return CompilerValue::poison();
  Value a = l.getTensor(), b = r.getTensor();
  switch (op) {
  case BinaryOp::Add:
    return emit<rec::AddOp>(at, a, b);
  case BinaryOp::Sub:
    return emit<rec::SubOp>(at, a, b);
  case BinaryOp::Mul:
    return emit<rec::MulOp>(at, a, b);
  case BinaryOp::Div:
    return emit<rec::DivOp>(at, a, b);
  case BinaryOp::Pow:
    return emit<rec::PowOp>(at, a, b);
  case BinaryOp::And:
    return emit<rec::AndOp>(at, a, b);
  case BinaryOp::Or:
    return emit<rec::OrOp>(at, a, b);
  case BinaryOp::Eq:
    return emit<rec::CmpOp>(at, rec::CmpPredicate::eq, a, b);
  case BinaryOp::Ne:
    return emit<rec::CmpOp>(at, rec::CmpPredicate::ne, a, b);
  case BinaryOp::Lt:
    return emit<rec::CmpOp>(at, rec::CmpPredicate::lt, a, b);
  case BinaryOp::Le:
    return emit<rec::CmpOp>(at, rec::CmpPredicate::le, a, b);
  case BinaryOp::Gt:
    return emit<rec::CmpOp>(at, rec::CmpPredicate::gt, a, b);
  case BinaryOp::Ge:
    return emit<rec::CmpOp>(at, rec::CmpPredicate::ge, a, b);
  case BinaryOp::Mod:
    break;
  }
  return CompilerValue::poison();
}

CompilerValue ModelCompiler::constant(llvm::SMLoc at,
                                      const CompilerValue &value,
                                      Type elementType) {
  auto type = RecTensorType::getScalar(elementType);
  std::string element = rec::formatElementType(elementType);
  Attribute attr;
  if (isa<FloatType>(elementType)) {
    if (!value.isNumber()) {
      error(at) << "expected a number to combine with " << element
                << " values, got " << value.describe();
      return CompilerValue::poison();
    }
    attr = builder().getF64FloatAttr(value.asDouble());
  } else if (elementType.isInteger(1)) {
    if (!value.is(CompilerValue::Kind::Bool)) {
      error(at) << "expected true or false to combine with bool values, got "
                << value.describe();
      return CompilerValue::poison();
    }
    attr = builder().getI64IntegerAttr(value.getBool());
  } else {
    if (!value.is(CompilerValue::Kind::Int)) {
      error(at) << "expected an integer to combine with " << element
                << " values, got " << value.describe();
      return CompilerValue::poison();
    }
    int64_t v = value.getInt();
    int64_t vocab = -1;
    if (auto id = dyn_cast<rec::IdType>(elementType))
      vocab = id.getVocab();
    if (auto sid = dyn_cast<rec::SidType>(elementType))
      vocab = sid.getCodebook();
    if (vocab >= 0 && (v < 0 || (vocab > 0 && v >= vocab))) {
      error(at) << v << " is not a valid " << element << " value";
      return CompilerValue::poison();
    }
    attr = builder().getI64IntegerAttr(v);
  }
  return emitTyped<rec::ConstantOp>(at, type, attr);
}

CompilerValue ModelCompiler::asTensorLike(llvm::SMLoc at,
                                          const CompilerValue &value,
                                          RecTensorType like) {
  if (value.isTensor())
    return value;
  if (value.isNumber() || value.is(CompilerValue::Kind::Bool))
    return constant(at, value, like.getElementType());
  auto diag = error(at);
  diag << "cannot combine " << value.describe() << " with a tensor "
       << rec::formatTensorType(like);
  if (value.is(CompilerValue::Kind::Word) && lookupBuiltin(value.getString()))
    diag << "; '" << value.getString() << "' is a function: call it, "
         << value.getString() << "(...)";
  return CompilerValue::poison();
}

CompilerValue ModelCompiler::reshape(llvm::SMLoc at, Value value,
                                     ArrayRef<Dim> dims) {
  auto from = cast<RecTensorType>(value.getType());
  RecTensorType to = from.withDims(dims);
  if (from == to)
    return CompilerValue::tensor(value);
  // The same rule as rec.reshape's verifier, phrased for the user.
  auto split = [](ArrayRef<Dim> d, SmallVector<StringAttr> &symbols) {
    SmallVector<int64_t> products(1, 1);
    for (const Dim &dim : d) {
      if (dim.isSymbolic()) {
        symbols.push_back(dim.symbol);
        products.push_back(1);
      } else {
        products.back() *= dim.size;
      }
    }
    return products;
  };
  SmallVector<StringAttr> fromSymbols, toSymbols;
  SmallVector<int64_t> fromProducts = split(from.getDims(), fromSymbols);
  SmallVector<int64_t> toProducts = split(dims, toSymbols);
  if (fromSymbols != toSymbols || fromProducts != toProducts) {
    error(at) << "cannot reshape " << rec::formatTensorType(from) << " to "
              << rec::formatDims(dims)
              << ": element counts differ, or symbolic dimensions moved";
    return CompilerValue::poison();
  }
  return emitTyped<rec::ReshapeOp>(at, to, value);
}

//===----------------------------------------------------------------------===//
// Indexing
//===----------------------------------------------------------------------===//

CompilerValue ModelCompiler::evalIndex(const IndexExpr &expr) {
  CompilerValue base = eval(*expr.base);
  if (base.isPoison())
    return base;
  if (base.is(CompilerValue::Kind::List) ||
      base.is(CompilerValue::Kind::Tuple)) {
    if (expr.items.size() != 1 || expr.items[0].isRange) {
      error(expr.getLoc()) << "a list takes one integer subscript";
      return CompilerValue::poison();
    }
    FailureOr<int64_t> index = evalInt(*expr.items[0].start, "a list index");
    if (failed(index))
      return CompilerValue::poison();
    int64_t size = base.getElements().size();
    int64_t i = *index < 0 ? *index + size : *index;
    if (i < 0 || i >= size) {
      error(expr.items[0].loc)
          << "index " << *index << " is out of range for a list of " << size;
      return CompilerValue::poison();
    }
    return base.getElements()[i];
  }
  if (!base.isTensor()) {
    error(expr.getLoc()) << "cannot subscript " << base.describe();
    return CompilerValue::poison();
  }
  Value value = base.getTensor();
  RecTensorType type = base.getTensorType();
  if (static_cast<int64_t>(expr.items.size()) > type.getRank()) {
    error(expr.getLoc()) << expr.items.size() << " subscripts for "
                         << rec::formatTensorType(type);
    return CompilerValue::poison();
  }
  SmallVector<Dim> keptDims;
  for (auto [axis, item] : llvm::enumerate(expr.items)) {
    std::optional<int64_t> start, end;
    if (item.start) {
      FailureOr<int64_t> v = evalInt(*item.start, "a subscript");
      if (failed(v))
        return CompilerValue::poison();
      start = *v;
    }
    if (item.end) {
      FailureOr<int64_t> v = evalInt(*item.end, "a subscript");
      if (failed(v))
        return CompilerValue::poison();
      end = *v;
    }
    Dim dim = type.getDim(axis);
    if (!item.isRange) {
      // x[..., i, ...] keeps one element and drops the axis.
      if (dim.isSymbolic()) {
        error(item.loc) << "cannot index symbolic dimension '"
                        << dim.symbol.getValue() << "'";
        return CompilerValue::poison();
      }
      int64_t i = *start < 0 ? *start + dim.size : *start;
      if (i < 0 || i >= dim.size) {
        error(item.loc) << "index " << *start << " is out of range for "
                        << "dimension " << axis << " of "
                        << rec::formatTensorType(type);
        return CompilerValue::poison();
      }
      CompilerValue sliced = emit<rec::SliceOp>(
          item.loc, value, static_cast<uint64_t>(axis), i, i + 1);
      if (sliced.isPoison())
        return sliced;
      value = sliced.getTensor();
      continue;
    }
    if (!start && !end) {
      keptDims.push_back(dim);
      continue;
    }
    if (dim.isSymbolic()) {
      error(item.loc) << "cannot slice symbolic dimension '"
                      << dim.symbol.getValue() << "' with bounds";
      return CompilerValue::poison();
    }
    CompilerValue sliced =
        emit<rec::SliceOp>(item.loc, value, static_cast<uint64_t>(axis),
                           start.value_or(0), end.value_or(dim.size));
    if (sliced.isPoison())
      return sliced;
    value = sliced.getTensor();
    keptDims.push_back(cast<RecTensorType>(value.getType()).getDim(axis));
  }
  RecTensorType sliced = cast<RecTensorType>(value.getType());
  for (int64_t axis = expr.items.size(); axis < sliced.getRank(); ++axis)
    keptDims.push_back(sliced.getDim(axis));
  return reshape(expr.getLoc(), value, keptDims);
}

//===----------------------------------------------------------------------===//
// Calls
//===----------------------------------------------------------------------===//

namespace {
struct EvaluatedArgs {
  std::vector<CompilerValue> positional;
  std::vector<std::pair<const Arg *, CompilerValue>> keywords;
};
} // namespace

static EvaluatedArgs evalArgs(ModelCompiler &compiler, const CallExpr &call) {
  EvaluatedArgs args;
  for (const Arg &arg : call.args) {
    CompilerValue value = compiler.eval(*arg.value);
    if (arg.name.empty())
      args.positional.push_back(std::move(value));
    else
      args.keywords.emplace_back(&arg, std::move(value));
  }
  return args;
}

CompilerValue ModelCompiler::evalCall(const CallExpr &call) {
  llvm::SMLoc at = call.getLoc();
  if (auto *member = llvm::dyn_cast<MemberExpr>(call.callee.get())) {
    auto *base = llvm::dyn_cast<NameExpr>(member->base.get());
    ModelCompiler *imported = base ? imports.lookup(base->name) : nullptr;
    if (!imported) {
      if (base)
        error(at) << "'" << base->name << "' is not an imported model"
                  << didYouMean(base->name, visibleNames());
      else
        error(at) << "only defs of imported models are called with '.': "
                     "model.def(...)";
      return CompilerValue::poison();
    }
    auto it = imported->functions.find(member->member);
    if (it == imported->functions.end() ||
        it->second->kind != FunctionDecl::Kind::Def) {
      std::vector<std::string> defs;
      for (const auto &fn : imported->functions)
        if (fn.second->kind == FunctionDecl::Kind::Def)
          defs.push_back(fn.getKey().str());
      error(member->getLoc())
          << "model '" << base->name << "' has no def '" << member->member
          << "'" << didYouMean(member->member, defs);
      return CompilerValue::poison();
    }
    EvaluatedArgs args = evalArgs(*this, call);
    FailureOr<std::vector<CompilerValue>> bound =
        imported->bindArguments(*it->second, call, std::move(args.positional),
                                std::move(args.keywords));
    if (failed(bound))
      return CompilerValue::poison();
    return imported->callDef(*it->second, call, std::move(*bound));
  }

  auto *callee = llvm::dyn_cast<NameExpr>(call.callee.get());
  if (!callee) {
    error(at) << "only named functions can be called";
    return CompilerValue::poison();
  }
  llvm::StringRef name = callee->name;
  if (frame && frame->locals.count(name)) {
    error(at) << "'" << name << "' is a variable, not a function";
    return CompilerValue::poison();
  }
  if (auto it = functions.find(name); it != functions.end()) {
    const FunctionDecl &fn = *it->second;
    EvaluatedArgs args = evalArgs(*this, call);
    if (fn.kind == FunctionDecl::Kind::Loss ||
        fn.kind == FunctionDecl::Kind::Reward) {
      if (!call.args.empty()) {
        error(at) << "'" << name << "' takes no arguments; use it as a value";
        return CompilerValue::poison();
      }
      return callDef(fn, call, {});
    }
    FailureOr<std::vector<CompilerValue>> bound = bindArguments(
        fn, call, std::move(args.positional), std::move(args.keywords));
    if (failed(bound))
      return CompilerValue::poison();
    if (fn.kind == FunctionDecl::Kind::Def)
      return callDef(fn, call, std::move(*bound));
    InstanceScope scope(instance().next(name));
    return callBlock(fn, call, std::move(*bound), scope);
  }
  if (const Builtin *builtin = lookupBuiltin(name)) {
    EvaluatedArgs args = evalArgs(*this, call);
    FailureOr<BuiltinCall> bound =
        BuiltinCall::bind(*this, *builtin, call, std::move(args.positional),
                          std::move(args.keywords));
    if (failed(bound))
      return CompilerValue::poison();
    return builtin->impl(*bound);
  }
  std::vector<std::string> candidates = builtinNames();
  for (const auto &fn : functions)
    candidates.push_back(fn.getKey().str());
  error(callee->getLoc()) << "unknown function '" << name << "'"
                          << didYouMean(name, candidates);
  return CompilerValue::poison();
}

FailureOr<std::vector<CompilerValue>> ModelCompiler::bindArguments(
    const FunctionDecl &fn, const CallExpr &call,
    std::vector<CompilerValue> positional,
    std::vector<std::pair<const Arg *, CompilerValue>> keywords) {
  const char *what = fn.kind == FunctionDecl::Kind::Block ? "block" : "def";
  size_t n = fn.params.size();
  std::vector<std::optional<CompilerValue>> bound(n);
  bool ok = true, poisoned = false;
  if (positional.size() > n) {
    error(call.args[n].loc) << what << " '" << fn.name << "' takes " << n
                            << (n == 1 ? " argument" : " arguments") << ", got "
                            << positional.size();
    return failure();
  }
  for (size_t i = 0; i < positional.size(); ++i) {
    poisoned |= positional[i].containsPoison();
    bound[i] = std::move(positional[i]);
  }
  for (auto &keyword : keywords) {
    // (A lambda cannot capture a structured binding in C++17.)
    const Arg *arg = keyword.first;
    CompilerValue &value = keyword.second;
    poisoned |= value.containsPoison();
    auto it = llvm::find_if(
        fn.params, [&](const FormalParam &p) { return p.name == arg->name; });
    if (it == fn.params.end()) {
      std::vector<std::string> names;
      for (const FormalParam &p : fn.params)
        names.push_back(p.name);
      error(arg->loc) << what << " '" << fn.name << "' has no parameter '"
                      << arg->name << "'" << didYouMean(arg->name, names);
      ok = false;
      continue;
    }
    size_t index = it - fn.params.begin();
    if (bound[index]) {
      error(arg->loc) << "argument '" << arg->name << "' is given twice";
      ok = false;
      continue;
    }
    bound[index] = std::move(value);
  }
  std::vector<CompilerValue> result;
  for (size_t i = 0; i < n; ++i) {
    const FormalParam &formal = fn.params[i];
    if (!bound[i]) {
      if (!formal.defaultValue || fn.kind == FunctionDecl::Kind::Def) {
        error(call.getLoc()) << what << " '" << fn.name
                             << "': missing argument '" << formal.name << "'";
        ok = false;
        result.push_back(CompilerValue::poison());
        continue;
      }
      // Defaults are evaluated where the block is declared.
      Frame *savedFrame = frame;
      frame = nullptr;
      bound[i] = eval(*formal.defaultValue);
      frame = savedFrame;
    }
    // A def parameter named after an input has that input's type.
    RecTensorType inputType;
    if (!formal.type && fn.kind == FunctionDecl::Kind::Def)
      if (auto it = inputs.find(formal.name); it != inputs.end())
        inputType = it->second.type;
    if (inputType && bound[i]->isTensor() &&
        bound[i]->getTensorType() != inputType) {
      error(call.getLoc()) << "argument '" << formal.name << "' of def '"
                           << fn.name << "' must be "
                           << rec::formatTensorType(inputType) << ", got "
                           << rec::formatTensorType(bound[i]->getTensorType());
      ok = false;
    } else if (formal.type && bound[i]->isTensor()) {
      // Like defaults, types are read where the block is declared, not in
      // the caller's scope.
      Frame *savedFrame = frame;
      frame = nullptr;
      FailureOr<RecTensorType> want = resolveType(*formal.type);
      frame = savedFrame;
      if (failed(want)) {
        ok = false;
      } else if (bound[i]->getTensorType() != *want) {
        error(call.getLoc())
            << "argument '" << formal.name << "' of " << what << " '" << fn.name
            << "' must be " << rec::formatTensorType(*want) << ", got "
            << rec::formatTensorType(bound[i]->getTensorType());
        ok = false;
      }
    } else if (formal.type && !bound[i]->containsPoison()) {
      error(call.getLoc()) << "argument '" << formal.name << "' of " << what
                           << " '" << fn.name << "' must be a tensor, got "
                           << bound[i]->describe();
      ok = false;
    }
    result.push_back(std::move(*bound[i]));
  }
  if (!ok || poisoned)
    return failure();
  return result;
}

CompilerValue ModelCompiler::runBody(const FunctionDecl &fn,
                                     llvm::SMLoc callSite,
                                     std::vector<CompilerValue> args,
                                     InstanceScope &scope) {
  Frame body;
  body.instance = &scope;
  for (auto [formal, value] : llvm::zip(fn.params, args))
    body.locals[formal.name] = std::move(value);

  Frame *savedFrame = frame;
  InstanceScope *savedInstance = currentInstance;
  frame = &body;
  currentInstance = &scope;
  execute(fn.body, body);
  frame = savedFrame;
  currentInstance = savedInstance;

  if (!body.returned) {
    error(callSite) << "'" << fn.name << "' ends without returning a value";
    return CompilerValue::poison();
  }
  if (body.results.size() == 1)
    return body.results.front();
  return CompilerValue::tuple(std::move(body.results));
}

/// Pushes a call site on the session's call stack for the lifetime of a call.
class CallSiteGuard {
public:
  CallSiteGuard(CompilerSession &session, Location site)
      : session(session), saved(session.callStack) {
    session.callStack = site;
    ++session.callDepth;
  }
  ~CallSiteGuard() {
    session.callStack = saved;
    --session.callDepth;
  }

private:
  CompilerSession &session;
  std::optional<Location> saved;
};

CompilerValue ModelCompiler::callBlock(const FunctionDecl &block,
                                       const CallExpr &call,
                                       std::vector<CompilerValue> args,
                                       InstanceScope &scope) {
  if (activeDefs.contains(&block)) {
    error(call.getLoc()) << "block '" << block.name
                         << "' calls itself; blocks cannot be recursive";
    return CompilerValue::poison();
  }
  if (session.callDepth >= CompileLimits::kMaxCallDepth) {
    error(call.getLoc()) << "calls are nested deeper than "
                         << CompileLimits::kMaxCallDepth;
    return CompilerValue::poison();
  }
  CallSiteGuard site(session, loc(call.getLoc()));
  activeDefs.insert(&block);
  CompilerValue result = runBody(block, call.getLoc(), std::move(args), scope);
  activeDefs.erase(&block);
  return result;
}

CompilerValue ModelCompiler::callDef(const FunctionDecl &def,
                                     const CallExpr &call,
                                     std::vector<CompilerValue> args) {
  if (activeDefs.contains(&def)) {
    error(call.getLoc()) << "'" << def.name
                         << "' uses itself; defs cannot be recursive";
    return CompilerValue::poison();
  }
  if (!session.entry) {
    error(call.getLoc()) << "'" << def.name
                         << "' computes tensors; it has no value at compile "
                            "time";
    return CompilerValue::poison();
  }
  if (session.callDepth >= CompileLimits::kMaxCallDepth) {
    error(call.getLoc()) << "calls are nested deeper than "
                         << CompileLimits::kMaxCallDepth;
    return CompilerValue::poison();
  }
  // A def's weights are the same wherever it is called: name them from the
  // def itself, not from the call site.
  InstanceScope scope(def.name);
  CallSiteGuard site(session, loc(call.getLoc()));
  activeDefs.insert(&def);
  CompilerValue result = runBody(def, call.getLoc(), std::move(args), scope);
  activeDefs.erase(&def);
  return result;
}

CompilerValue ModelCompiler::evalRepeat(const RepeatExpr &expr) {
  FailureOr<int64_t> count = evalInt(*expr.count, "a repeat count");
  if (failed(count))
    return CompilerValue::poison();
  if (*count < 0 || *count > CompileLimits::kMaxRepeat) {
    error(expr.count->getLoc())
        << "repeat count must be between 0 and " << CompileLimits::kMaxRepeat
        << ", got " << *count;
    return CompilerValue::poison();
  }
  const CallExpr &call = *expr.call;
  auto *callee = llvm::dyn_cast<NameExpr>(call.callee.get());
  auto it = callee ? functions.find(callee->name) : functions.end();
  if (it == functions.end() || it->second->kind != FunctionDecl::Kind::Block) {
    error(call.getLoc()) << "repeat instantiates a block (a layer declared "
                            "with 'block'), and "
                         << (callee ? "'" + callee->name + "'"
                                    : std::string("this"))
                         << " is not one";
    return CompilerValue::poison();
  }
  const FunctionDecl &block = *it->second;
  EvaluatedArgs args = evalArgs(*this, call);
  FailureOr<std::vector<CompilerValue>> bound = bindArguments(
      block, call, std::move(args.positional), std::move(args.keywords));
  if (failed(bound))
    return CompilerValue::poison();
  if (bound->empty() || !bound->front().isTensor()) {
    error(call.getLoc()) << "repeat threads the first argument of '"
                         << block.name
                         << "' through the layers; it must be a "
                            "tensor";
    return CompilerValue::poison();
  }
  // `repeat 4 layer(x)`: layer instances enc_layer0.0 .. enc_layer0.3.
  std::string base = instance().next(block.name);
  for (int64_t i = 0; i < *count; ++i) {
    InstanceScope scope(base + "." + std::to_string(i));
    CompilerValue out = callBlock(block, call, *bound, scope);
    if (out.isPoison())
      return out;
    RecTensorType in = bound->front().getTensorType();
    if (!out.isTensor() || out.getTensorType() != in) {
      error(call.getLoc()) << "repeat feeds the output of '" << block.name
                           << "' back as its first argument, but it returns "
                           << out.describe() << " for an input "
                           << rec::formatTensorType(in);
      return CompilerValue::poison();
    }
    bound->front() = out;
  }
  return bound->front();
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

void ModelCompiler::execute(const StmtList &body, Frame &current) {
  for (const StmtPtr &stmt : body) {
    if (current.returned || session.diag.tooManyErrors())
      return;
    execute(*stmt, current);
  }
}

void ModelCompiler::execute(const Stmt &stmt, Frame &current) {
  if (auto *assign = llvm::dyn_cast<AssignStmt>(&stmt)) {
    CompilerValue value = eval(*assign->value);
    if (assign->targets.size() == 1) {
      current.locals[assign->targets.front().name] = std::move(value);
      return;
    }
    size_t want = assign->targets.size();
    if (!value.isPoison() && (!value.is(CompilerValue::Kind::Tuple) ||
                              value.getElements().size() != want)) {
      error(assign->getLoc())
          << want << " names are assigned, but the right side gives "
          << (value.is(CompilerValue::Kind::Tuple) ? value.getElements().size()
                                                   : 1)
          << " value" << (value.is(CompilerValue::Kind::Tuple) ? "s" : "");
      value = CompilerValue::poison();
    }
    for (auto [i, target] : llvm::enumerate(assign->targets))
      current.locals[target.name] =
          value.isPoison() ? value : value.getElements()[i];
    return;
  }
  if (auto *ret = llvm::dyn_cast<ReturnStmt>(&stmt)) {
    for (const ExprPtr &value : ret->values)
      current.results.push_back(eval(*value));
    current.returned = true;
    return;
  }
  if (auto *loop = llvm::dyn_cast<ForStmt>(&stmt)) {
    CompilerValue iterable = eval(*loop->iterable);
    if (iterable.isPoison())
      return;
    if (!iterable.is(CompilerValue::Kind::List) &&
        !iterable.is(CompilerValue::Kind::Tuple)) {
      error(loop->iterable->getLoc())
          << "'for' runs over a list known at compile time, such as range(4), "
             "got "
          << iterable.describe();
      return;
    }
    for (const CompilerValue &element : iterable.getElements()) {
      current.locals[loop->var.name] = element;
      execute(loop->body, current);
      if (current.returned || session.diag.tooManyErrors())
        return;
    }
    return;
  }
  auto &branch = llvm::cast<IfStmt>(stmt);
  CompilerValue cond = eval(*branch.cond);
  if (cond.isPoison())
    return;
  if (!cond.is(CompilerValue::Kind::Bool)) {
    error(branch.cond->getLoc())
        << "'if' needs a condition known at compile time, got "
        << cond.describe() << "; for tensors use where(cond, a, b)";
    return;
  }
  execute(cond.getBool() ? branch.thenBody : branch.elseBody, current);
}
