//===- ModelCompiler.cpp - declarations, types, parameters, entries -------===//

#include "ModelCompiler.h"

#include "onerec/Frontend/Parser.h"

#include "llvm/ADT/Hashing.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace onerec;
using namespace onerec::frontend;
using rec::Dim;
using rec::RecTensorType;

//===----------------------------------------------------------------------===//
// InstanceScope
//===----------------------------------------------------------------------===//

std::string InstanceScope::next(llvm::StringRef kind) {
  unsigned index = counters[kind]++;
  return child((kind + llvm::Twine(index)).str());
}

std::string InstanceScope::child(llvm::StringRef name) const {
  return prefix.empty() ? name.str() : prefix + "." + name.str();
}

ModelCompiler::InstanceGuard::InstanceGuard(ModelCompiler &compiler,
                                            InstanceScope &scope)
    : compiler(compiler), saved(compiler.currentInstance) {
  compiler.currentInstance = &scope;
}

ModelCompiler::InstanceGuard::~InstanceGuard() {
  compiler.currentInstance = saved;
}

InstanceScope &ModelCompiler::instance() {
  assert(currentInstance && "no instance scope outside a body");
  return *currentInstance;
}

//===----------------------------------------------------------------------===//
// Construction and the top-level flow
//===----------------------------------------------------------------------===//

ModelCompiler::ModelCompiler(CompilerSession &session, const FileAST &file,
                             ModuleOp module,
                             std::vector<std::string> symbolPath,
                             const FrontendOptions *options,
                             std::vector<ImportBinding> bindings)
    : session(session), file(file), model(*file.model), module(module),
      symbolPath(std::move(symbolPath)), options(options),
      importBindings(std::move(bindings)) {}

Location ModelCompiler::loc(llvm::SMLoc at) const {
  Location here = session.diag.location(at);
  if (session.callStack)
    return CallSiteLoc::get(here, *session.callStack);
  return here;
}

InFlightDiagnostic ModelCompiler::error(llvm::SMLoc at) {
  return session.diag.error(loc(at));
}

LogicalResult ModelCompiler::compile() {
  declareNames();
  if (options)
    applyOptions(*options);
  applyImportBindings();
  compileImports();
  // Every constant is checked, used or not.
  for (const ConstDecl &c : model.consts)
    if (consts[c.name].decl == &c)
      (void)constValue(c.name, c.loc);
  if (model.seed) {
    FailureOr<int64_t> seed = evalInt(*model.seed->value, "the model seed");
    if (succeeded(seed)) {
      modelSeed = static_cast<uint64_t>(*seed);
      // The runtime's default seed (dropout masks) is the model's.
      module->setAttr("rec.seed",
                      IntegerAttr::get(IntegerType::get(getContext(), 64),
                                       static_cast<int64_t>(modelSeed)));
    }
  }
  module->setAttr(rec::RecDialect::kModelAttrName,
                  StringAttr::get(getContext(), model.name));
  declareDims();
  declareInputs();
  declareParams();
  compileEntries();
  if (model.trains.size() > 1)
    error(model.trains[1].loc) << "a model has one train section";
  if (!model.trains.empty())
    compileTrain(model.trains.front());
  return success(!session.diag.hadErrors());
}

bool ModelCompiler::checkUnique(llvm::StringRef name, llvm::SMLoc at) {
  auto [it, inserted] = declaredAt.try_emplace(name, at);
  if (inserted)
    return true;
  auto diag = error(at);
  diag << "'" << name << "' is already declared";
  diag.attachNote(session.diag.location(it->second))
      << "the first declaration is here";
  return false;
}

bool ModelCompiler::declareNames() {
  bool ok = true;
  for (const ConstDecl &c : model.consts) {
    if ((ok &= checkUnique(c.name, c.loc)))
      consts[c.name].decl = &c;
  }
  for (const DimDecl &d : model.dims)
    ok &= checkUnique(d.name, d.loc);
  unsigned order = 0;
  for (const InputDecl &input : model.inputs) {
    if ((ok &= checkUnique(input.name, input.loc)))
      inputs[input.name] = InputState{&input, RecTensorType(), order};
    ++order;
  }
  for (const ParamDecl &param : model.params) {
    if ((ok &= checkUnique(param.name, param.loc)))
      explicitParams[param.name] = &param;
  }
  for (const FunctionDecl &fn : model.functions) {
    if ((ok &= checkUnique(fn.name, fn.loc)))
      functions[fn.name] = &fn;
  }
  for (const GenerateDecl &gen : model.generates)
    ok &= checkUnique(gen.name, gen.loc);
  return ok;
}

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

CompilerValue ModelCompiler::constValue(llvm::StringRef name, llvm::SMLoc use) {
  ConstState &state = consts[name];
  if (state.value)
    return *state.value;
  if (auto it = overrides.find(name); it != overrides.end()) {
    state.value = it->second;
    return *state.value;
  }
  if (state.inProgress) {
    error(use) << "constant '" << name << "' depends on itself";
    state.value = CompilerValue::poison();
    return *state.value;
  }
  state.inProgress = true;
  // Constants are evaluated at the top level, whoever asks for them, and
  // outside any entry.
  Frame *savedFrame = frame;
  std::optional<Location> savedStack = session.callStack;
  EntryState *savedEntry = session.entry;
  frame = nullptr;
  session.callStack.reset();
  session.entry = nullptr;
  const Expr &expr = state.configured ? *state.configured : *state.decl->value;
  CompilerValue value = eval(expr);
  frame = savedFrame;
  session.callStack = savedStack;
  session.entry = savedEntry;
  state.inProgress = false;
  if (!value.isPoison() && !value.isCompileTime()) {
    error(expr.getLoc()) << "constant '" << name
                         << "' must be known at compile time, got "
                         << value.describe();
    value = CompilerValue::poison();
  }
  state.value = value;
  return value;
}

/// Reads the value of `-D name=value`: an integer, a number, true/false, a
/// quoted string, or a word (`-D act=swiglu`).
static std::optional<CompilerValue> parseDefineValue(llvm::StringRef text) {
  text = text.trim();
  if (text.empty())
    return std::nullopt;
  std::string digits;
  for (char c : text)
    if (c != '_')
      digits.push_back(c);
  int64_t i;
  if (!llvm::StringRef(digits).getAsInteger(10, i))
    return CompilerValue::integer(i);
  double f;
  if (!llvm::StringRef(digits).getAsDouble(f) && std::isfinite(f))
    return CompilerValue::floating(f);
  if (text == "true" || text == "false")
    return CompilerValue::boolean(text == "true");
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"')
    return CompilerValue::string(text.drop_front().drop_back().str());
  if (llvm::all_of(text, [](char c) { return llvm::isAlnum(c) || c == '_'; }) &&
      !llvm::isDigit(text.front()))
    return CompilerValue::word(text.str());
  return std::nullopt;
}

void ModelCompiler::applyOptions(const FrontendOptions &options) {
  auto candidates = [&] {
    std::vector<std::string> names;
    for (const ConstDecl &c : model.consts)
      names.push_back(c.name);
    for (const DimDecl &d : model.dims)
      names.push_back(d.name);
    return names;
  };
  if (!options.config.empty()) {
    const ConfigDecl *config = nullptr;
    for (const ConfigDecl &c : model.configs)
      if (c.name == options.config)
        config = &c;
    if (!config) {
      std::vector<std::string> names;
      for (const ConfigDecl &c : model.configs)
        names.push_back(c.name);
      auto diag = error(model.loc);
      diag << "--config " << options.config << ": model '" << model.name
           << "' has no configuration '" << options.config << "'"
           << didYouMean(options.config, names);
      if (!names.empty())
        diag << " (it has: " << llvm::join(names, ", ") << ")";
    } else {
      for (const Binding &binding : config->values) {
        if (auto it = consts.find(binding.name); it != consts.end())
          it->second.configured = binding.value.get();
        else if (isDeclaredDim(binding.name))
          configuredDims[binding.name] = binding.value.get();
        else
          error(binding.loc)
              << "configuration '" << config->name << "' sets '" << binding.name
              << "', which is not a constant or dimension"
              << didYouMean(binding.name, candidates());
      }
    }
  }
  for (const auto &define : options.defines) {
    const std::string &name = define.first, &text = define.second;
    if (!consts.count(name) && !isDeclaredDim(name)) {
      error(model.loc) << "-D " << name << "=" << text << ": model '"
                       << model.name << "' has no constant '" << name << "'"
                       << didYouMean(name, candidates());
      continue;
    }
    std::optional<CompilerValue> value = parseDefineValue(text);
    if (!value) {
      error(model.loc) << "-D " << name << "=" << text
                       << ": expected a number, true, false, a word or a "
                          "quoted string";
      continue;
    }
    // A -D of a constant written as an integer literal must stay integral:
    // `-D d=12.5` would otherwise break every shape that uses d.
    if (auto it = consts.find(name); it != consts.end() && it->second.decl) {
      const Expr &written = *it->second.decl->value;
      if (llvm::isa<IntExpr>(written) && !value->is(CompilerValue::Kind::Int)) {
        error(model.loc) << "-D " << name << "=" << text << ": '" << name
                         << "' is an integer constant";
        continue;
      }
      if (llvm::isa<FloatExpr>(written) && value->is(CompilerValue::Kind::Int))
        value = CompilerValue::floating(static_cast<double>(value->getInt()));
    }
    overrides[name] = *value;
  }
}

void ModelCompiler::applyImportBindings() {
  for (const ImportBinding &binding : importBindings) {
    if (!consts.count(binding.name) && !isDeclaredDim(binding.name)) {
      std::vector<std::string> names;
      for (const ConstDecl &c : model.consts)
        names.push_back(c.name);
      error(binding.loc) << "imported model '" << model.name
                         << "' has no constant '" << binding.name << "'"
                         << didYouMean(binding.name, names);
      continue;
    }
    overrides[binding.name] = binding.value;
  }
}

//===----------------------------------------------------------------------===//
// Dimensions, types and inputs
//===----------------------------------------------------------------------===//

void ModelCompiler::declareDims() {
  OpBuilder::InsertionGuard guard(builder());
  builder().setInsertionPointToStart(module.getBody());
  for (const DimDecl &decl : model.dims) {
    int64_t max = 0;
    if (auto it = overrides.find(decl.name); it != overrides.end()) {
      if (!it->second.is(CompilerValue::Kind::Int)) {
        error(decl.loc) << "the maximum of dimension '" << decl.name
                        << "' must be an integer, got "
                        << it->second.describe();
        continue;
      }
      max = it->second.getInt();
    } else if (!decl.max && !configuredDims.count(decl.name)) {
      error(decl.loc) << "dimension '" << decl.name << "' needs a maximum: dim "
                      << decl.name << " <= 1024";
      continue;
    } else {
      const Expr *maxExpr = configuredDims.lookup(decl.name);
      FailureOr<int64_t> value =
          evalInt(maxExpr ? *maxExpr : *decl.max,
                  "the maximum of dimension '" + decl.name + "'");
      if (failed(value))
        continue;
      max = *value;
    }
    if (max < 1 || max > CompileLimits::kMaxDim) {
      error(decl.loc) << "the maximum of dimension '" << decl.name
                      << "' must be between 1 and " << CompileLimits::kMaxDim
                      << ", got " << max;
      continue;
    }
    dims[decl.name] = DimState{&decl, max};
    lastDeclaration =
        builder().create<rec::DimOp>(loc(decl.loc), decl.name, max);
  }
}

bool ModelCompiler::isDeclaredDim(llvm::StringRef name) const {
  return llvm::any_of(model.dims,
                      [&](const DimDecl &d) { return d.name == name; });
}

Type ModelCompiler::dtypeNamed(llvm::StringRef name) const {
  MLIRContext *ctx = &session.context;
  return llvm::StringSwitch<Type>(name)
      .Case("f32", Float32Type::get(ctx))
      .Case("bf16", BFloat16Type::get(ctx))
      .Case("f16", Float16Type::get(ctx))
      .Case("f64", Float64Type::get(ctx))
      .Case("i32", IntegerType::get(ctx, 32))
      .Case("i64", IntegerType::get(ctx, 64))
      .Case("bool", IntegerType::get(ctx, 1))
      .Default(Type());
}

FailureOr<Dim> ModelCompiler::resolveDim(const Expr &expr) {
  if (auto *name = llvm::dyn_cast<NameExpr>(&expr)) {
    if (dims.count(name->name))
      return Dim::symbolic(StringAttr::get(getContext(), name->name));
    if (isDeclaredDim(name->name))
      return failure(); // its declaration was reported
    if (!consts.count(name->name) &&
        (!frame || !frame->locals.count(name->name))) {
      std::vector<std::string> candidates;
      for (const auto &d : dims)
        candidates.push_back(d.getKey().str());
      for (const auto &c : consts)
        candidates.push_back(c.getKey().str());
      error(expr.getLoc()) << "unknown dimension '" << name->name << "'"
                           << didYouMean(name->name, candidates)
                           << "; declare it with dim " << name->name
                           << " <= <max>, or use a constant";
      return failure();
    }
  }
  CompilerValue value = eval(expr);
  if (value.isPoison())
    return failure();
  if (value.is(CompilerValue::Kind::Dim)) {
    if (!dims.count(value.getString()))
      return failure(); // its declaration was reported
    return Dim::symbolic(StringAttr::get(getContext(), value.getString()));
  }
  if (!value.is(CompilerValue::Kind::Int)) {
    error(expr.getLoc()) << "a dimension must be an integer or a declared "
                            "symbolic dimension, got "
                         << value.describe();
    return failure();
  }
  if (value.getInt() < 1 || value.getInt() > CompileLimits::kMaxDim) {
    error(expr.getLoc()) << "dimension " << value.getInt()
                         << " is out of range (1 .. " << CompileLimits::kMaxDim
                         << ")";
    return failure();
  }
  return Dim::fixed(value.getInt());
}

FailureOr<RecTensorType> ModelCompiler::resolveType(const TypeExpr &type) {
  MLIRContext *ctx = getContext();
  Type element = dtypeNamed(type.dtype);
  bool isId = type.dtype == "id", isSid = type.dtype == "sid";
  if (!element && !isId && !isSid) {
    static const std::vector<std::string> kTypes = {
        "f32", "bf16", "f16", "f64", "i32", "i64", "bool", "id", "sid"};
    error(type.loc) << "unknown element type '" << type.dtype << "'"
                    << didYouMean(type.dtype, kTypes)
                    << " (types: f32, bf16, f16, f64, i32, i64, bool, "
                       "id<V>, sid<K>)";
    return failure();
  }
  if (type.vocab && !isId && !isSid) {
    error(type.vocab->getLoc())
        << "only id<V> and sid<K> take a vocabulary size";
    return failure();
  }
  if (isSid && !type.vocab) {
    error(type.loc) << "semantic ids need their codebook size: sid<K>[...]";
    return failure();
  }
  if (isId || isSid) {
    int64_t vocab = 0;
    if (type.vocab) {
      FailureOr<int64_t> v = evalInt(*type.vocab, "a vocabulary size");
      if (failed(v))
        return failure();
      if (*v < (isSid ? 1 : 0) || *v > CompileLimits::kMaxDim) {
        error(type.vocab->getLoc())
            << "vocabulary size must be between " << (isSid ? 1 : 0) << " and "
            << CompileLimits::kMaxDim << ", got " << *v;
        return failure();
      }
      vocab = *v;
    }
    element = isId ? Type(rec::IdType::get(ctx, vocab))
                   : Type(rec::SidType::get(ctx, vocab));
  }
  SmallVector<Dim> resolved;
  bool ok = true;
  for (const ExprPtr &dim : type.dims) {
    FailureOr<Dim> d = resolveDim(*dim);
    if (failed(d))
      ok = false;
    else
      resolved.push_back(*d);
  }
  if (!ok)
    return failure();
  return RecTensorType::get(resolved, element);
}

void ModelCompiler::declareInputs() {
  for (const InputDecl &decl : model.inputs) {
    auto it = inputs.find(decl.name);
    if (it == inputs.end() || it->second.decl != &decl)
      continue; // a duplicate, reported
    FailureOr<RecTensorType> type = resolveType(decl.type);
    if (succeeded(type))
      it->second.type = *type;
  }
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

/// A stable 64-bit hash of a name (FNV-1a): seeds must not depend on the
/// process or on the order parameters are created in.
static uint64_t stableHash(llvm::StringRef text, uint64_t seed) {
  uint64_t hash = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

rec::InitAttr ModelCompiler::initializer(rec::InitKind kind, double a, double b,
                                         llvm::StringRef paramName) const {
  uint64_t seed = 0;
  auto probe = rec::InitAttr::get(getContext(), kind, 0.0, 1.0, 0);
  if (probe.isRandom())
    seed = stableHash(paramName, modelSeed);
  return rec::InitAttr::get(getContext(), kind, a, b, seed);
}

FailureOr<rec::InitAttr>
ModelCompiler::initializerFrom(const CompilerValue &spec, llvm::SMLoc at,
                               llvm::StringRef paramName) {
  if (spec.isPoison())
    return failure();
  if (spec.isNumber())
    return initializer(rec::InitKind::constant, spec.asDouble(), 0, paramName);
  if (spec.is(CompilerValue::Kind::Word)) {
    llvm::StringRef word = spec.getString();
    if (word == "zeros")
      return initializer(rec::InitKind::zeros, 0, 0, paramName);
    if (word == "ones")
      return initializer(rec::InitKind::ones, 0, 0, paramName);
  }
  // normal(...), uniform(...) ... evaluate to a tuple: [kind, a, b, seed].
  if (spec.is(CompilerValue::Kind::Tuple) && spec.getElements().size() == 4 &&
      spec.getElements()[0].is(CompilerValue::Kind::Word)) {
    ArrayRef<CompilerValue> e = spec.getElements();
    std::optional<rec::InitKind> kind =
        rec::symbolizeInitKind(e[0].getString());
    if (kind) {
      rec::InitAttr attr =
          initializer(*kind, e[1].asDouble(), e[2].asDouble(), paramName);
      if (e[3].is(CompilerValue::Kind::Int))
        attr = rec::InitAttr::get(getContext(), *kind, e[1].asDouble(),
                                  e[2].asDouble(),
                                  static_cast<uint64_t>(e[3].getInt()));
      if (failed(rec::InitAttr::verify([&] { return error(at); },
                                       attr.getKind(), attr.getA(), attr.getB(),
                                       attr.getSeed())))
        return failure();
      return attr;
    }
  }
  error(at) << "expected an initializer (zeros, ones, a number, normal(mean, "
               "std), truncated_normal(mean, std), uniform(low, high), "
               "xavier_uniform(gain)), got "
            << spec.describe();
  return failure();
}

SymbolRefAttr ModelCompiler::paramSymbol(llvm::StringRef name) const {
  // Relative to the module of the entry reading it: an entry of the root
  // model reads an imported model's parameter as @alias::@name.
  size_t ownerDepth =
      session.entry ? session.entry->owner->symbolPath.size() : 0;
  ArrayRef<std::string> path =
      ArrayRef<std::string>(symbolPath)
          .drop_front(std::min(ownerDepth, symbolPath.size()));
  MLIRContext *ctx = getContext();
  if (path.empty())
    return FlatSymbolRefAttr::get(ctx, name);
  SmallVector<FlatSymbolRefAttr> nested;
  for (const std::string &part : path.drop_front())
    nested.push_back(FlatSymbolRefAttr::get(ctx, part));
  nested.push_back(FlatSymbolRefAttr::get(ctx, name));
  return SymbolRefAttr::get(ctx, path.front(), nested);
}

void ModelCompiler::setInsertionPointToDeclarations() {
  if (lastDeclaration)
    builder().setInsertionPointAfter(lastDeclaration);
  else
    builder().setInsertionPointToStart(module.getBody());
}

rec::ParamOp ModelCompiler::declareParam(llvm::SMLoc at, llvm::StringRef name,
                                         RecTensorType type, rec::InitAttr init,
                                         bool buffer, bool noDecay) {
  if (!type.hasStaticShape() || !type.isFloat()) {
    error(at) << "parameter '" << name << "' must be a float tensor of static "
              << "shape, got " << rec::formatTensorType(type);
    return {};
  }
  std::optional<int64_t> elements = type.getStaticNumElements();
  if (!elements || *elements > CompileLimits::kMaxParamElements) {
    error(at) << "parameter '" << name << "' " << rec::formatTensorType(type)
              << " is too large (more than " << CompileLimits::kMaxParamElements
              << " elements)";
    return {};
  }
  OpBuilder::InsertionGuard guard(builder());
  setInsertionPointToDeclarations();
  auto op = builder().create<rec::ParamOp>(loc(at), name, type, init, buffer,
                                           noDecay, /*state_of=*/nullptr);
  lastDeclaration = op;
  params[name] = op;
  return op;
}

CompilerValue ModelCompiler::param(llvm::SMLoc at, const std::string &name,
                                   RecTensorType type, rec::InitAttr init,
                                   bool buffer, bool noDecay) {
  auto it = params.find(name);
  if (it == params.end()) {
    if (!declareParam(at, name, type, init, buffer, noDecay))
      return CompilerValue::poison();
  } else if (it->second.getType() != type) {
    error(at) << "parameter '" << name << "' is used as "
              << rec::formatTensorType(type) << " but was created as "
              << rec::formatTensorType(it->second.getType());
    return CompilerValue::poison();
  }
  if (!session.entry) {
    error(at) << "parameter '" << name
              << "' can only be read inside a def, loss or reward";
    return CompilerValue::poison();
  }
  return emitTyped<rec::ParamRefOp>(at, type, paramSymbol(name));
}

void ModelCompiler::declareParams() {
  for (const ParamDecl &decl : model.params) {
    FailureOr<RecTensorType> type = resolveType(decl.type);
    if (failed(type))
      continue;
    FailureOr<rec::InitAttr> init =
        decl.init
            ? initializerFrom(eval(*decl.init), decl.init->getLoc(), decl.name)
            : FailureOr<rec::InitAttr>(
                  initializer(rec::InitKind::normal, 0.0, 0.02, decl.name));
    if (succeeded(init))
      declareParam(decl.type.loc, decl.name, *type, *init, /*buffer=*/false,
                   /*noDecay=*/false);
  }
}

//===----------------------------------------------------------------------===//
// Imports
//===----------------------------------------------------------------------===//

void ModelCompiler::compileImports() {
  llvm::SourceMgr &sourceMgr = session.sourceMgr;
  for (const ImportDecl &decl : file.imports) {
    if (!checkUnique(decl.alias, decl.loc))
      continue;
    // The import's constants are this model's values.
    std::vector<ImportBinding> bindings;
    bool bindingsOk = true;
    for (const Binding &binding : decl.bindings) {
      CompilerValue value = eval(*binding.value);
      if (value.isPoison() || !value.isCompileTime()) {
        if (!value.isPoison())
          error(binding.value->getLoc())
              << "'" << binding.name
              << "' must be set to a compile-time value, got "
              << value.describe();
        bindingsOk = false;
        continue;
      }
      bindings.push_back({binding.name, value, binding.loc});
    }
    if (!bindingsOk)
      continue;
    // Search next to the importing file, then the -I directories.
    unsigned buffer = sourceMgr.FindBufferContainingLoc(decl.loc);
    llvm::StringRef importer =
        sourceMgr.getMemoryBuffer(buffer)->getBufferIdentifier();
    std::vector<std::string> candidates;
    if (llvm::sys::path::is_absolute(decl.path)) {
      candidates.push_back(decl.path);
    } else {
      llvm::SmallString<256> local = llvm::sys::path::parent_path(importer);
      llvm::sys::path::append(local, decl.path);
      candidates.push_back(local.str().str());
      for (const std::string &dir : session.options.importDirs) {
        llvm::SmallString<256> path(dir);
        llvm::sys::path::append(path, decl.path);
        candidates.push_back(path.str().str());
      }
    }
    std::string found;
    for (const std::string &candidate : candidates)
      if (llvm::sys::fs::is_regular_file(candidate)) {
        found = candidate;
        break;
      }
    if (found.empty()) {
      auto diag = error(decl.loc);
      diag << "cannot find imported file '" << decl.path << "'; looked in:";
      for (const std::string &candidate : candidates)
        diag << " " << candidate;
      continue;
    }
    llvm::SmallString<256> real;
    if (llvm::sys::fs::real_path(found, real))
      real = found;
    if (llvm::is_contained(session.importStack, real.str().str())) {
      auto diag = error(decl.loc);
      diag << "import cycle:";
      for (const std::string &path : session.importStack)
        diag << " " << llvm::sys::path::filename(path) << " ->";
      diag << " " << llvm::sys::path::filename(real);
      continue;
    }
    auto contents = llvm::MemoryBuffer::getFile(found);
    if (!contents) {
      error(decl.loc) << "cannot read '" << found
                      << "': " << contents.getError().message();
      continue;
    }
    sourceMgr.AddNewSourceBuffer(std::move(*contents), decl.loc);
    llvm::StringRef text =
        sourceMgr.getMemoryBuffer(sourceMgr.getNumBuffers())->getBuffer();
    unsigned errorsBefore = session.diag.getNumErrors();
    auto ast =
        std::make_unique<FileAST>(Parser(text, session.diag).parseFile());
    if (session.diag.getNumErrors() != errorsBefore || !ast->model)
      continue;

    OpBuilder::InsertionGuard guard(builder());
    setInsertionPointToDeclarations();
    auto nested = builder().create<ModuleOp>(loc(decl.loc), decl.alias);
    lastDeclaration = nested;
    std::vector<std::string> path = symbolPath;
    path.push_back(decl.alias);
    auto child = std::make_unique<ModelCompiler>(
        session, *ast, nested, std::move(path), nullptr, std::move(bindings));
    session.importStack.push_back(real.str().str());
    (void)child->compile();
    session.importStack.pop_back();
    imports[decl.alias] = child.get();
    session.files.push_back(std::move(ast));
    session.importedModels.push_back(std::move(child));
  }
}

//===----------------------------------------------------------------------===//
// Entries
//===----------------------------------------------------------------------===//

void ModelCompiler::compileEntries() {
  using Kind = FunctionDecl::Kind;
  // Defs first: generation refers to them and losses call them.
  for (const FunctionDecl &fn : model.functions)
    if (fn.kind == Kind::Def && !session.diag.tooManyErrors())
      compileEntry(fn);
  for (const GenerateDecl &gen : model.generates)
    compileGenerate(gen);
  for (const FunctionDecl &fn : model.functions)
    if ((fn.kind == Kind::Loss || fn.kind == Kind::Reward) &&
        !session.diag.tooManyErrors())
      compileEntry(fn);
}

static rec::EntryKind entryKindOf(const FunctionDecl &fn) {
  switch (fn.kind) {
  case FunctionDecl::Kind::Loss:
    return rec::EntryKind::loss;
  case FunctionDecl::Kind::Reward:
    return rec::EntryKind::reward;
  default:
    return rec::EntryKind::def;
  }
}

void ModelCompiler::compileEntry(const FunctionDecl &fn) {
  MLIRContext *ctx = getContext();
  unsigned errorsBefore = session.diag.getNumErrors();
  OpBuilder::InsertionGuard guard(builder());
  builder().setInsertionPointToEnd(module.getBody());
  auto func = builder().create<func::FuncOp>(loc(fn.loc), fn.name,
                                             builder().getFunctionType({}, {}));
  rec::EntryKind kind = entryKindOf(fn);
  func->setAttr(rec::RecDialect::kEntryAttrName,
                rec::EntryKindAttr::get(ctx, kind));
  Block *body = func.addEntryBlock();

  EntryState state{func, kind, this, {}, {}};
  EntryState *savedEntry = session.entry;
  session.entry = &state;
  builder().setInsertionPointToStart(body);

  // A def's parameter list becomes its leading arguments: typed parameters
  // are arguments the driver passes; untyped ones name model inputs.
  std::vector<CompilerValue> args;
  for (const FormalParam &formal : fn.params) {
    RecTensorType type;
    rec::ArgRole role = rec::ArgRole::argument;
    if (formal.defaultValue)
      error(formal.defaultValue->getLoc())
          << "parameters of a def take no default value (a def is an entry "
             "point)";
    if (formal.type) {
      FailureOr<RecTensorType> resolved = resolveType(*formal.type);
      if (succeeded(resolved))
        type = *resolved;
    } else if (auto it = inputs.find(formal.name); it != inputs.end()) {
      type = it->second.type;
      role = it->second.decl->role == InputRole::Target ? rec::ArgRole::target
                                                        : rec::ArgRole::input;
    } else {
      error(formal.loc) << "parameter '" << formal.name << "' of def '"
                        << fn.name << "' needs a type, e.g. " << formal.name
                        << " : f32[B, d] (only parameters named after an "
                           "input may omit it)";
    }
    if (!type) {
      args.push_back(CompilerValue::poison());
      continue;
    }
    BlockArgument arg = body->addArgument(type, loc(formal.loc));
    state.arguments.push_back(
        {role, formal.name, 0, /*fromParameterList=*/true});
    if (role != rec::ArgRole::argument)
      state.inputs[formal.name] = arg;
    args.push_back(CompilerValue::tensor(arg));
  }

  InstanceScope scope(fn.name);
  activeDefs.insert(&fn);
  CompilerValue result = runBody(fn, fn.loc, std::move(args), scope);
  activeDefs.erase(&fn);

  std::vector<CompilerValue> results;
  if (result.is(CompilerValue::Kind::Tuple))
    llvm::append_range(results, result.getElements());
  else
    results.push_back(result);
  finishEntry(state, results, fn.loc);
  session.entry = savedEntry;
  if (session.diag.getNumErrors() != errorsBefore)
    func.erase();
}

void ModelCompiler::finishEntry(EntryState &state,
                                ArrayRef<CompilerValue> results,
                                llvm::SMLoc at) {
  func::FuncOp func = state.func;
  SmallVector<Value> values;
  bool ok = true;
  for (const CompilerValue &result : results) {
    if (result.containsPoison()) {
      ok = false;
      continue;
    }
    if (!result.isTensor()) {
      error(at) << "'" << func.getSymName()
                << "' must compute tensors, but returns " << result.describe();
      ok = false;
      continue;
    }
    values.push_back(result.getTensor());
  }
  if (ok && state.kind == rec::EntryKind::loss) {
    auto type = cast<RecTensorType>(values.front().getType());
    if (values.size() != 1 || type.getRank() != 0 || !type.isFloat()) {
      error(at) << "loss '" << func.getSymName()
                << "' must compute one float scalar, got "
                << rec::formatTensorType(type)
                << "; reduce it, e.g. with mean(...)";
      ok = false;
    }
  }
  if (ok && state.kind == rec::EntryKind::reward) {
    auto type = cast<RecTensorType>(values.front().getType());
    if (values.size() != 1 || type.getRank() != 1 || !type.isFloat()) {
      error(at) << "reward '" << func.getSymName()
                << "' must compute one float per row, f32[B], got "
                << rec::formatTensorType(type);
      ok = false;
    }
  }
  if (!ok)
    return;
  builder().create<func::ReturnOp>(loc(at), values);
  Block &body = func.getBody().front();
  func.setFunctionType(builder().getFunctionType(
      body.getArgumentTypes(), ValueRange(values).getTypes()));
  MLIRContext *ctx = getContext();
  for (auto [i, arg] : llvm::enumerate(state.arguments)) {
    func.setArgAttr(i, rec::RecDialect::kRoleAttrName,
                    rec::ArgRoleAttr::get(ctx, arg.role));
    func.setArgAttr(i, rec::RecDialect::kNameAttrName,
                    StringAttr::get(ctx, arg.name));
  }
}

Value ModelCompiler::inputArgument(llvm::StringRef name, llvm::SMLoc use) {
  EntryState *entry = session.entry;
  if (!entry) {
    error(use) << "'" << name
               << "' is an input; it has no value at compile time";
    return {};
  }
  if (entry->owner != this) {
    error(use) << "'" << name << "' is an input of the imported model '"
               << model.name << "'; pass it to the def as an argument";
    return {};
  }
  if (auto it = entry->inputs.find(name); it != entry->inputs.end())
    return it->second;

  RecTensorType type;
  rec::ArgRole role;
  unsigned order;
  llvm::SMLoc declLoc;
  if (auto it = inputs.find(name); it != inputs.end()) {
    type = it->second.type;
    role = it->second.decl->role == InputRole::Target ? rec::ArgRole::target
                                                      : rec::ArgRole::input;
    order = it->second.order;
    declLoc = it->second.decl->loc;
  } else {
    const GeneratedState &gen = generated.find(name)->second;
    if (entry->kind != rec::EntryKind::reward) {
      error(use) << "'" << name
                 << "' holds generated sessions; only rewards can read it";
      return {};
    }
    type = gen.type;
    role = rec::ArgRole::generated;
    order = inputs.size();
    declLoc = gen.decl->loc;
  }
  if (!type)
    return {}; // the declaration's type was reported
  // Inputs follow the def's own parameters, in declaration order.
  unsigned index = 0;
  for (const EntryState::Argument &arg : entry->arguments) {
    if (!arg.fromParameterList && arg.order > order)
      break;
    ++index;
  }
  Block &body = entry->func.getBody().front();
  Value arg = body.insertArgument(index, type, session.diag.location(declLoc));
  entry->arguments.insert(entry->arguments.begin() + index,
                          EntryState::Argument{role, name.str(), order,
                                               /*fromParameterList=*/false});
  entry->inputs[name] = arg;
  return arg;
}

LogicalResult ModelCompiler::countOp(llvm::SMLoc at) {
  // Tensors exist only inside an entry; a constant is a compile-time value.
  if (!session.entry) {
    error(at) << "this computes a tensor, and tensors exist only inside a "
                 "def, loss or reward (constants are compile-time values)";
    return failure();
  }
  if (++session.opsCreated <= CompileLimits::kMaxOps)
    return success();
  if (!session.reportedOpLimit) {
    session.reportedOpLimit = true;
    error(at) << "the model builds more than " << CompileLimits::kMaxOps
              << " operations; is a repeat count or a dimension too large?";
  }
  return failure();
}

CompilerValue ModelCompiler::finishInferred(Operation *op) {
  SmallVector<Type> types;
  if (failed(
          cast<rec::ShapeInferenceOpInterface>(op).inferResultTypes(types))) {
    op->erase();
    return CompilerValue::poison();
  }
  for (auto [result, type] : llvm::zip(op->getResults(), types))
    result.setType(type);
  if (op->getNumResults() == 1)
    return CompilerValue::tensor(op->getResult(0));
  std::vector<CompilerValue> results;
  for (Value result : op->getResults())
    results.push_back(CompilerValue::tensor(result));
  return CompilerValue::tuple(std::move(results));
}

int64_t ModelCompiler::streamFor(llvm::StringRef name) const {
  return static_cast<int64_t>(stableHash(name, modelSeed) >> 1);
}

RecTensorType ModelCompiler::f32Tensor(ArrayRef<Dim> dims) {
  return RecTensorType::get(dims, builder().getF32Type());
}
