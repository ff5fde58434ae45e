//===- Builtins.cpp - builtin registry and argument binding ---------------===//

#include "Builtins.h"
#include "ModelCompiler.h"
#include "onerec/Frontend/Frontend.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace onerec;
using namespace onerec::frontend;

static const llvm::StringMap<Builtin> &registry() {
  static const llvm::StringMap<Builtin> table = [] {
    llvm::StringMap<Builtin> map;
    for (std::vector<Builtin> family :
         {primitiveBuiltins(), objectiveBuiltins(), layerBuiltins()})
      for (Builtin &builtin : family) {
        std::string name = builtin.name;
        bool inserted = map.try_emplace(name, std::move(builtin)).second;
        assert(inserted && "builtin defined twice");
        (void)inserted;
      }
    return map;
  }();
  return table;
}

const Builtin *onerec::frontend::lookupBuiltin(llvm::StringRef name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}

std::vector<const Builtin *> onerec::frontend::allBuiltins() {
  std::vector<const Builtin *> all;
  for (const auto &entry : registry())
    all.push_back(&entry.second);
  llvm::sort(all, [](const Builtin *a, const Builtin *b) {
    return a->name < b->name;
  });
  return all;
}

std::vector<std::string> onerec::frontend::builtinNames() {
  std::vector<std::string> names;
  for (const Builtin *builtin : allBuiltins())
    names.push_back(builtin->name);
  return names;
}

void onerec::frontend::printBuiltinReference(llvm::raw_ostream &os) {
  for (const Builtin *builtin : allBuiltins())
    os << builtin->signature() << "\n    " << builtin->summary << "\n";
}

static std::string formatDefault(const CompilerValue &value) {
  switch (value.getKind()) {
  case CompilerValue::Kind::None:
    return "none";
  case CompilerValue::Kind::Int:
    return std::to_string(value.getInt());
  case CompilerValue::Kind::Float: {
    std::string text =
        llvm::formatv("{0}", llvm::format("%g", value.getFloat())).str();
    if (text.find_first_of(".e") == std::string::npos)
      text += ".0";
    return text;
  }
  case CompilerValue::Kind::Bool:
    return value.getBool() ? "true" : "false";
  case CompilerValue::Kind::Word:
    return value.getString();
  case CompilerValue::Kind::String:
    return "\"" + value.getString() + "\"";
  default:
    return value.describe();
  }
}

std::string Builtin::signature() const {
  std::string text = name + "(";
  for (auto [i, param] : llvm::enumerate(params)) {
    if (i)
      text += ", ";
    text += param.name;
    if (param.defaultValue)
      text += " = " + formatDefault(*param.defaultValue);
  }
  return text + ")";
}

//===----------------------------------------------------------------------===//
// Binding
//===----------------------------------------------------------------------===//

FailureOr<BuiltinCall>
BuiltinCall::bind(ModelCompiler &compiler, const Builtin &builtin,
                  const CallExpr &call, std::vector<CompilerValue> positional,
                  std::vector<std::pair<const Arg *, CompilerValue>> keywords) {
  BuiltinCall bound(compiler, builtin, call.getLoc());
  size_t n = builtin.params.size();
  std::vector<bool> given(n, false);
  bound.values.resize(n);
  bound.locs.assign(n, call.getLoc());
  bool poisoned = false;
  bool ok = true;

  if (positional.size() > n) {
    compiler.error(call.args[n].loc)
        << builtin.name << " takes at most " << n
        << (n == 1 ? " argument" : " arguments") << ", got "
        << positional.size() << ": " << builtin.signature();
    return failure();
  }
  for (size_t i = 0; i < positional.size(); ++i) {
    poisoned |= positional[i].containsPoison();
    bound.values[i] = std::move(positional[i]);
    bound.locs[i] = call.args[i].loc;
    given[i] = true;
  }
  for (auto &[arg, value] : keywords) {
    poisoned |= value.containsPoison();
    unsigned index = bound.indexOf(arg->name);
    if (index == n) {
      std::vector<std::string> names;
      for (const BuiltinParam &param : builtin.params)
        names.push_back(param.name);
      compiler.error(arg->loc)
          << builtin.name << " has no parameter '" << arg->name << "'"
          << didYouMean(arg->name, names) << ": " << builtin.signature();
      ok = false;
      continue;
    }
    if (given[index]) {
      compiler.error(arg->loc)
          << builtin.name << ": argument '" << arg->name << "' is given twice";
      ok = false;
      continue;
    }
    bound.values[index] = std::move(value);
    bound.locs[index] = arg->loc;
    given[index] = true;
  }
  for (size_t i = 0; i < n && ok; ++i) {
    if (given[i])
      continue;
    const BuiltinParam &param = builtin.params[i];
    if (!param.defaultValue) {
      compiler.error(call.getLoc())
          << builtin.name << ": missing argument '" << param.name
          << "': " << builtin.signature();
      ok = false;
      continue;
    }
    bound.values[i] = *param.defaultValue;
  }
  if (!ok || poisoned)
    return failure();
  return bound;
}

unsigned BuiltinCall::indexOf(llvm::StringRef name) const {
  for (auto [i, param] : llvm::enumerate(spec->params))
    if (param.name == name)
      return i;
  return spec->params.size();
}

const CompilerValue &BuiltinCall::get(llvm::StringRef name) const {
  unsigned index = indexOf(name);
  assert(index < values.size() && "builtin reads an undeclared parameter");
  return values[index];
}

llvm::SMLoc BuiltinCall::argLoc(llvm::StringRef name) const {
  unsigned index = indexOf(name);
  return index < locs.size() ? locs[index] : callLoc;
}

InFlightDiagnostic BuiltinCall::error() {
  return owner->error(callLoc) << spec->name << ": ";
}

InFlightDiagnostic BuiltinCall::errorAt(llvm::StringRef name) {
  return owner->error(argLoc(name)) << spec->name << ": ";
}

//===----------------------------------------------------------------------===//
// Typed getters
//===----------------------------------------------------------------------===//

FailureOr<Value> BuiltinCall::tensor(llvm::StringRef name) {
  const CompilerValue &value = get(name);
  if (value.isTensor())
    return value.getTensor();
  errorAt(name) << "argument '" << name << "' must be a tensor, got "
                << value.describe();
  return failure();
}

FailureOr<Value> BuiltinCall::floatTensor(llvm::StringRef name) {
  FailureOr<Value> value = tensor(name);
  if (failed(value))
    return failure();
  auto type = cast<rec::RecTensorType>(value->getType());
  if (type.isFloat())
    return value;
  errorAt(name) << "argument '" << name << "' must be a float tensor, got "
                << rec::formatTensorType(type);
  return failure();
}

FailureOr<Value> BuiltinCall::optionalTensor(llvm::StringRef name) {
  if (get(name).isNone())
    return Value();
  return tensor(name);
}

FailureOr<int64_t> BuiltinCall::integer(llvm::StringRef name, int64_t min,
                                        int64_t max) {
  const CompilerValue &value = get(name);
  if (!value.is(CompilerValue::Kind::Int)) {
    errorAt(name) << "argument '" << name << "' must be an integer, got "
                  << value.describe();
    return failure();
  }
  if (value.getInt() < min || value.getInt() > max) {
    auto diag = errorAt(name);
    diag << "argument '" << name << "' must be ";
    if (max == INT64_MAX)
      diag << "at least " << min;
    else
      diag << "between " << min << " and " << max;
    diag << ", got " << value.getInt();
    return failure();
  }
  return value.getInt();
}

FailureOr<double> BuiltinCall::number(llvm::StringRef name) {
  const CompilerValue &value = get(name);
  if (value.isNumber())
    return value.asDouble();
  errorAt(name) << "argument '" << name << "' must be a number, got "
                << value.describe();
  return failure();
}

FailureOr<bool> BuiltinCall::flag(llvm::StringRef name) {
  const CompilerValue &value = get(name);
  if (value.is(CompilerValue::Kind::Bool))
    return value.getBool();
  errorAt(name) << "argument '" << name << "' must be true or false, got "
                << value.describe();
  return failure();
}

FailureOr<std::string> BuiltinCall::choice(llvm::StringRef name,
                                           ArrayRef<llvm::StringRef> allowed) {
  const CompilerValue &value = get(name);
  bool textual = value.is(CompilerValue::Kind::Word) ||
                 value.is(CompilerValue::Kind::String);
  if (value.isNone() && llvm::is_contained(allowed, "none"))
    return std::string("none");
  if (textual && llvm::is_contained(allowed, value.getString()))
    return value.getString();
  std::vector<std::string> options(allowed.begin(), allowed.end());
  auto diag = errorAt(name);
  diag << "argument '" << name << "' must be one of "
       << llvm::join(allowed, ", ") << ", got " << value.describe();
  if (textual)
    diag << didYouMean(value.getString(), options);
  return failure();
}

FailureOr<SmallVector<int64_t>> BuiltinCall::integers(llvm::StringRef name) {
  const CompilerValue &value = get(name);
  SmallVector<int64_t> result;
  if (value.is(CompilerValue::Kind::Int)) {
    result.push_back(value.getInt());
    return result;
  }
  if (value.is(CompilerValue::Kind::List)) {
    for (const CompilerValue &element : value.getElements()) {
      if (!element.is(CompilerValue::Kind::Int)) {
        errorAt(name) << "argument '" << name << "' must list integers, found "
                      << element.describe();
        return failure();
      }
      result.push_back(element.getInt());
    }
    return result;
  }
  errorAt(name) << "argument '" << name
                << "' must be an integer or a list of integers, got "
                << value.describe();
  return failure();
}

FailureOr<SmallVector<rec::Dim>> BuiltinCall::shape(llvm::StringRef name) {
  const CompilerValue &value = get(name);
  if (!value.is(CompilerValue::Kind::List)) {
    errorAt(name) << "argument '" << name
                  << "' must be a shape such as [B, 8, d], got "
                  << value.describe();
    return failure();
  }
  SmallVector<rec::Dim> dims;
  for (const CompilerValue &element : value.getElements()) {
    if (element.is(CompilerValue::Kind::Int) && element.getInt() >= 1) {
      dims.push_back(rec::Dim::fixed(element.getInt()));
    } else if (element.is(CompilerValue::Kind::Dim)) {
      dims.push_back(rec::Dim::symbolic(
          StringAttr::get(owner->getContext(), element.getString())));
    } else {
      errorAt(name) << "a shape lists positive integers and symbolic "
                       "dimensions, found "
                    << element.describe();
      return failure();
    }
  }
  return dims;
}

FailureOr<Type> BuiltinCall::dtype(llvm::StringRef name) {
  const CompilerValue &value = get(name);
  if (value.is(CompilerValue::Kind::DType))
    return value.getDType();
  // Defaults in builtin tables name their type (tables exist before any
  // MLIR context does).
  if (value.is(CompilerValue::Kind::Word))
    if (Type type = owner->dtypeNamed(value.getString()))
      return type;
  errorAt(name) << "argument '" << name
                << "' must be an element type (f32, bf16, i64, bool ...), got "
                << value.describe();
  return failure();
}
