//===- Sections.cpp - the generate and train sections ---------------------===//
//
// These sections configure what the runtime does with the model's entries:
// `generate` names the encoder and decoder defs that beam search drives;
// `train` holds the optimizer, the schedule and the stages with their
// objectives. They become rec.generate and rec.train ops.
//
//===----------------------------------------------------------------------===//

#include "ModelCompiler.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace onerec;
using namespace onerec::frontend;
using rec::Dim;
using rec::RecTensorType;

/// The def a generation argument names (`beam(encode, decode, ...)`).
static const Expr *findArg(const CallExpr &call, llvm::StringRef keyword,
                           unsigned position) {
  unsigned positional = 0;
  for (const Arg &arg : call.args) {
    if (arg.name == keyword)
      return arg.value.get();
    if (arg.name.empty() && positional++ == position)
      return arg.value.get();
  }
  return nullptr;
}

/// Reports keywords of `call` that are not in `allowed`.
static bool checkKeywords(ModelCompiler &compiler, const CallExpr &call,
                          llvm::StringRef what,
                          ArrayRef<llvm::StringRef> allowed) {
  bool ok = true;
  for (const Arg &arg : call.args) {
    if (arg.name.empty() || llvm::is_contained(allowed, arg.name))
      continue;
    std::vector<std::string> names(allowed.begin(), allowed.end());
    compiler.error(arg.loc) << what << " has no parameter '" << arg.name << "'"
                            << didYouMean(arg.name, names) << " (it takes "
                            << llvm::join(allowed, ", ") << ")";
    ok = false;
  }
  return ok;
}

void ModelCompiler::compileGenerate(const GenerateDecl &gen) {
  const CallExpr &call = *gen.strategy;
  auto *callee = llvm::dyn_cast<NameExpr>(call.callee.get());
  std::optional<rec::DecodeStrategy> strategy =
      callee ? rec::symbolizeDecodeStrategy(callee->name) : std::nullopt;
  if (!strategy) {
    error(call.getLoc()) << "unknown generation strategy"
                         << (callee ? " '" + callee->name + "'" : "")
                         << "; use beam(encoder, decoder, width = ..., items "
                            "= ...) or greedy(...)";
    return;
  }
  llvm::StringRef what = callee->name;
  static constexpr llvm::StringRef kParams[] = {"encoder", "decoder", "width",
                                                "items", "constrain"};
  if (!checkKeywords(*this, call, what, kParams))
    return;

  // The encoder and decoder are defs, named (not called) here.
  func::FuncOp entries[2];
  const char *roles[2] = {"encoder", "decoder"};
  for (unsigned i = 0; i < 2; ++i) {
    const Expr *arg = findArg(call, roles[i], i);
    auto *name = llvm::dyn_cast_or_null<NameExpr>(arg);
    auto it = name ? functions.find(name->name) : functions.end();
    if (it == functions.end() || it->second->kind != FunctionDecl::Kind::Def) {
      std::vector<std::string> defs;
      for (const auto &fn : functions)
        if (fn.second->kind == FunctionDecl::Kind::Def)
          defs.push_back(fn.getKey().str());
      auto diag = error(arg ? arg->getLoc() : call.getLoc());
      diag << what << ": the " << roles[i] << " must name a def";
      if (name)
        diag << "; '" << name->name << "' is not one"
             << didYouMean(name->name, defs);
      return;
    }
    entries[i] = module.lookupSymbol<func::FuncOp>(name->name);
    if (!entries[i])
      return; // the def had errors, already reported
  }

  auto intArg = [&](llvm::StringRef keyword, unsigned position,
                    int64_t fallback) -> FailureOr<int64_t> {
    const Expr *arg = findArg(call, keyword, position);
    if (!arg)
      return fallback;
    FailureOr<int64_t> value = evalInt(*arg, (what + ": " + keyword).str());
    if (succeeded(value) && *value < 1) {
      error(arg->getLoc()) << what << ": " << keyword
                           << " must be positive, got " << *value;
      return failure();
    }
    return value;
  };
  FailureOr<int64_t> width =
      intArg("width", 2, *strategy == rec::DecodeStrategy::greedy ? 1 : 0);
  FailureOr<int64_t> items = intArg("items", 3, 0);
  if (failed(width) || failed(items))
    return;
  if (*width == 0) {
    error(call.getLoc()) << what << ": give the beam width, e.g. width = 128";
    return;
  }
  if (*items == 0) {
    error(call.getLoc())
        << what << ": give the number of items per session, e.g. items = 5";
    return;
  }
  rec::DecodeConstraint constrain = rec::DecodeConstraint::catalog;
  if (const Expr *arg = findArg(call, "constrain", 4)) {
    CompilerValue value = eval(*arg);
    if (value.isPoison())
      return;
    if (value.isNone()) {
      constrain = rec::DecodeConstraint::none;
    } else if ((value.is(CompilerValue::Kind::Word) ||
                value.is(CompilerValue::Kind::String)) &&
               value.getString() == "catalog") {
      constrain = rec::DecodeConstraint::catalog;
    } else {
      error(arg->getLoc()) << what << ": constrain is 'catalog' or 'none', got "
                           << value.describe();
      return;
    }
  }

  // The decoder scores the next token of every position of every item:
  // logits [B, items, levels, codebook].
  auto results = entries[1].getResultTypes();
  auto logits = results.empty() ? RecTensorType()
                                : dyn_cast<RecTensorType>(results.front());
  if (!logits || logits.getRank() != 4 || !logits.isFloat() ||
      !logits.getDim(2).isStatic() || !logits.getDim(3).isStatic()) {
    error(call.getLoc()) << what << ": decoder '" << entries[1].getSymName()
                         << "' must return logits [B, items, levels, "
                            "codebook], got "
                         << (logits ? rec::formatTensorType(logits)
                                    : std::string("no tensor"));
    return;
  }
  if (logits.getDim(1).isStatic() && logits.getDim(1).size < *items) {
    error(call.getLoc()) << what << ": items = " << *items << " but decoder '"
                         << entries[1].getSymName() << "' scores "
                         << logits.getDim(1).size << " items per session";
    return;
  }
  auto type = RecTensorType::get(
      {logits.getDim(0), Dim::fixed(*items), logits.getDim(2)},
      rec::SidType::get(getContext(), logits.getDim(3).size));
  if (gen.type) {
    FailureOr<RecTensorType> declared = resolveType(*gen.type);
    if (failed(declared))
      return;
    if (*declared != type) {
      error(gen.type->loc) << "'" << gen.name << "' is declared "
                           << rec::formatTensorType(*declared)
                           << " but the decoder generates "
                           << rec::formatTensorType(type);
      return;
    }
  }
  OpBuilder::InsertionGuard guard(builder());
  builder().setInsertionPointToEnd(module.getBody());
  builder().create<rec::GenerateOp>(
      loc(gen.loc), gen.name, type, *strategy, entries[0].getSymName(),
      entries[1].getSymName(), *width, *items, constrain,
      /*init=*/nullptr, /*step=*/nullptr);
  generated[gen.name] = GeneratedState{&gen, type};
}

//===----------------------------------------------------------------------===//
// Training
//===----------------------------------------------------------------------===//

namespace {
struct Term {
  std::string entry;
  double weight;
};
} // namespace

/// True if `expr` mentions an entry of `kind` (as opposed to a plain number).
static bool mentionsEntry(const Expr &expr,
                          const llvm::StringMap<const FunctionDecl *> &fns) {
  if (auto *name = llvm::dyn_cast<NameExpr>(&expr))
    return fns.count(name->name);
  if (auto *binary = llvm::dyn_cast<BinaryExpr>(&expr))
    return mentionsEntry(*binary->lhs, fns) || mentionsEntry(*binary->rhs, fns);
  if (auto *unary = llvm::dyn_cast<UnaryExpr>(&expr))
    return mentionsEntry(*unary->operand, fns);
  return false;
}

FailureOr<ArrayAttr> ModelCompiler::weightedEntries(const Expr &expr,
                                                    rec::EntryKind kind,
                                                    llvm::StringRef what) {
  FunctionDecl::Kind fnKind = kind == rec::EntryKind::loss
                                  ? FunctionDecl::Kind::Loss
                                  : FunctionDecl::Kind::Reward;
  const char *noun = kind == rec::EntryKind::loss ? "loss" : "reward";
  std::vector<Term> terms;
  std::function<bool(const Expr &, double)> collect =
      [&](const Expr &e, double scale) -> bool {
    if (auto *name = llvm::dyn_cast<NameExpr>(&e)) {
      auto it = functions.find(name->name);
      if (it == functions.end() || it->second->kind != fnKind) {
        std::vector<std::string> candidates;
        for (const auto &fn : functions)
          if (fn.second->kind == fnKind)
            candidates.push_back(fn.getKey().str());
        error(e.getLoc()) << "'" << name->name << "' is not a " << noun
                          << didYouMean(name->name, candidates);
        return false;
      }
      terms.push_back({name->name, scale});
      return true;
    }
    if (auto *unary = llvm::dyn_cast<UnaryExpr>(&e)) {
      if (unary->op == UnaryOp::Neg)
        return collect(*unary->operand, -scale);
      if (unary->op == UnaryOp::Plus)
        return collect(*unary->operand, scale);
    }
    if (auto *binary = llvm::dyn_cast<BinaryExpr>(&e)) {
      switch (binary->op) {
      case BinaryOp::Add:
        return collect(*binary->lhs, scale) && collect(*binary->rhs, scale);
      case BinaryOp::Sub:
        return collect(*binary->lhs, scale) && collect(*binary->rhs, -scale);
      case BinaryOp::Mul:
      case BinaryOp::Div: {
        bool leftIsEntry = mentionsEntry(*binary->lhs, functions);
        const Expr &entrySide = leftIsEntry ? *binary->lhs : *binary->rhs;
        const Expr &numberSide = leftIsEntry ? *binary->rhs : *binary->lhs;
        if (binary->op == BinaryOp::Div && !leftIsEntry)
          break;
        FailureOr<double> factor = evalNumber(numberSide, "a weight");
        if (failed(factor))
          return false;
        if (binary->op == BinaryOp::Div) {
          if (*factor == 0) {
            error(numberSide.getLoc()) << "division by zero";
            return false;
          }
          return collect(entrySide, scale / *factor);
        }
        return collect(entrySide, scale * *factor);
      }
      default:
        break;
      }
    }
    error(e.getLoc()) << what << " takes a weighted sum of " << noun
                      << " names, such as "
                      << (kind == rec::EntryKind::loss ? "ntp + 0.1 * aux"
                                                       : "preference + 0.5 * "
                                                         "industrial");
    return false;
  };
  if (!collect(expr, 1.0))
    return failure();
  SmallVector<Attribute> attrs;
  for (const Term &term : terms)
    attrs.push_back(rec::TermAttr::get(
        getContext(), FlatSymbolRefAttr::get(getContext(), term.entry),
        term.weight));
  return builder().getArrayAttr(attrs);
}

FailureOr<DictionaryAttr>
ModelCompiler::hyperparameters(const CallExpr &call,
                               ArrayRef<llvm::StringRef> allowed,
                               llvm::StringRef what) {
  SmallVector<NamedAttribute> params;
  bool ok = true;
  unsigned positional = 0;
  for (const Arg &arg : call.args) {
    std::string name = arg.name;
    if (name.empty()) {
      // Positional arguments fill the parameters in order: adamw(1e-3).
      if (positional >= allowed.size()) {
        error(arg.loc) << what << " takes at most " << allowed.size()
                       << " arguments";
        ok = false;
        continue;
      }
      name = allowed[positional++].str();
    } else if (!llvm::is_contained(allowed, name)) {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      error(arg.loc) << what << " has no parameter '" << name << "'"
                     << didYouMean(name, names) << " (it takes "
                     << llvm::join(allowed, ", ") << ")";
      ok = false;
      continue;
    }
    CompilerValue value = eval(*arg.value);
    if (value.isPoison()) {
      ok = false;
      continue;
    }
    Attribute attr;
    if (value.is(CompilerValue::Kind::Bool))
      attr = builder().getBoolAttr(value.getBool());
    else if (value.is(CompilerValue::Kind::Int) &&
             (name == "warmup" || name == "total"))
      attr = builder().getI64IntegerAttr(value.getInt());
    else if (value.isNumber())
      attr = builder().getF64FloatAttr(value.asDouble());
    if (!attr) {
      error(arg.loc) << what << ": '" << name
                     << "' must be a number or true/false, got "
                     << value.describe();
      ok = false;
      continue;
    }
    params.push_back(builder().getNamedAttr(name, attr));
  }
  if (!ok)
    return failure();
  return builder().getDictionaryAttr(params);
}

/// Sets `name = value` settings as attributes of `op`, checking their names.
static bool applySettings(ModelCompiler &compiler, Operation *op,
                          ArrayRef<Binding> settings,
                          ArrayRef<llvm::StringRef> allowed,
                          llvm::StringRef where) {
  bool ok = true;
  for (const Binding &setting : settings) {
    if (!llvm::is_contained(allowed, setting.name)) {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      compiler.error(setting.loc)
          << "unknown setting '" << setting.name << "' in " << where
          << didYouMean(setting.name, names)
          << " (settings: " << llvm::join(allowed, ", ") << ")";
      ok = false;
      continue;
    }
    CompilerValue value = compiler.eval(*setting.value);
    if (value.isPoison()) {
      ok = false;
      continue;
    }
    Attribute attr;
    if (setting.name == "grad_clip" && value.isNumber() &&
        value.asDouble() > 0) {
      attr = compiler.builder().getF64FloatAttr(value.asDouble());
    } else if (setting.name != "grad_clip" &&
               value.is(CompilerValue::Kind::Int) &&
               (value.getInt() >= 1 || setting.name == "seed")) {
      attr = compiler.builder().getI64IntegerAttr(value.getInt());
    } else {
      compiler.error(setting.value->getLoc())
          << "'" << setting.name << "' must be "
          << (setting.name == "grad_clip" ? "a positive number"
              : setting.name == "seed"    ? "an integer"
                                          : "a positive integer")
          << ", got " << value.describe();
      ok = false;
      continue;
    }
    op->setAttr(setting.name, attr);
  }
  return ok;
}

template <typename KindT>
std::optional<ModelCompiler::ConfigCall<KindT>>
ModelCompiler::configCall(const CallExpr &call, llvm::StringRef what,
                          ArrayRef<llvm::StringRef> kinds,
                          std::optional<KindT> (*symbolize)(llvm::StringRef),
                          ArrayRef<llvm::StringRef> (*paramNames)(KindT)) {
  auto *callee = llvm::dyn_cast<NameExpr>(call.callee.get());
  std::optional<KindT> kind =
      callee ? symbolize(callee->name) : std::optional<KindT>();
  if (!kind) {
    auto diag = error(call.getLoc());
    diag << "unknown " << what;
    if (callee)
      diag << " '" << callee->name << "'"
           << didYouMean(callee->name,
                         std::vector<std::string>(kinds.begin(), kinds.end()));
    diag << " (" << what << "s: " << llvm::join(kinds, ", ") << ")";
    return std::nullopt;
  }
  FailureOr<DictionaryAttr> params =
      hyperparameters(call, paramNames(*kind), callee->name);
  if (failed(params))
    return std::nullopt;
  return ConfigCall<KindT>{*kind, callee->name, *params};
}

void ModelCompiler::compileTrain(const TrainDecl &train) {
  OpBuilder::InsertionGuard guard(builder());
  builder().setInsertionPointToEnd(module.getBody());
  auto trainOp = builder().create<rec::TrainOp>(loc(train.loc));
  Block *body = builder().createBlock(&trainOp.getBody());
  builder().setInsertionPointToStart(body);
  applySettings(*this, trainOp, train.settings, rec::TrainOp::getSettingNames(),
                "the training section");

  if (!train.optimizer)
    error(train.loc) << "the training section needs an optimizer, e.g. "
                        "optimizer adamw(lr = 1e-3)";
  else if (auto config = configCall<rec::OptimizerKind>(
               *train.optimizer, "optimizer", {"sgd", "adam", "adamw"},
               rec::symbolizeOptimizerKind, rec::OptimizerOp::getParamNames)) {
    if (!config->params.get("lr"))
      error(train.optimizer->getLoc())
          << config->name << " needs a learning rate: lr = ...";
    else
      builder().create<rec::OptimizerOp>(loc(train.optimizer->getLoc()),
                                         config->kind, config->params);
  }

  if (train.schedule) {
    if (auto config = configCall<rec::ScheduleKind>(
            *train.schedule, "schedule", {"constant", "warmup", "cosine"},
            rec::symbolizeScheduleKind, rec::ScheduleOp::getParamNames)) {
      if (config->kind == rec::ScheduleKind::cosine &&
          !config->params.get("total"))
        error(train.schedule->getLoc())
            << "cosine needs the total number of steps: total = ...";
      else
        builder().create<rec::ScheduleOp>(loc(train.schedule->getLoc()),
                                          config->kind, config->params);
    }
  }

  if (train.stages.empty())
    error(train.loc) << "the training section needs at least one stage, e.g. "
                        "stage pretrain { minimize ntp }";
  for (const StageDecl &stage : train.stages) {
    auto stageOp = builder().create<rec::StageOp>(loc(stage.loc), stage.name);
    OpBuilder::InsertionGuard stageGuard(builder());
    builder().setInsertionPointToStart(
        builder().createBlock(&stageOp.getBody()));
    applySettings(*this, stageOp, stage.settings,
                  rec::StageOp::getSettingNames(),
                  "stage '" + stage.name + "'");
    if (stage.objectives.empty())
      error(stage.loc) << "stage '" << stage.name
                       << "' has no objective; add 'minimize <loss>'";
    for (const Objective &objective : stage.objectives) {
      if (objective.minimize) {
        FailureOr<ArrayAttr> terms = weightedEntries(
            *objective.minimize, rec::EntryKind::loss, "minimize");
        if (succeeded(terms))
          builder().create<rec::MinimizeOp>(loc(objective.loc), *terms);
        continue;
      }
      const CallExpr &call = *objective.alignment;
      auto *callee = llvm::dyn_cast<NameExpr>(call.callee.get());
      llvm::StringRef name = callee ? llvm::StringRef(callee->name) : "";
      if (name != "dpo" && name != "ecpo") {
        error(call.getLoc()) << "unknown alignment objective '" << name << "'"
                             << didYouMean(name, {"dpo", "ecpo"})
                             << " (objectives: minimize, dpo, ecpo)";
        continue;
      }
      static constexpr llvm::StringRef kDpo[] = {"reward", "beta", "weight",
                                                 "group", "fraction"};
      static constexpr llvm::StringRef kEcpo[] = {
          "reward", "format", "group", "delta", "epsilon", "format_k"};
      ArrayRef<llvm::StringRef> allowed =
          name == "dpo" ? ArrayRef<llvm::StringRef>(kDpo) : kEcpo;
      if (!checkKeywords(*this, call, name, allowed))
        continue;
      const Expr *reward = findArg(call, "reward", 0);
      if (!reward) {
        error(call.getLoc())
            << name << " needs the reward to align to: " << name
            << "(reward = preference, ...)";
        continue;
      }
      FailureOr<ArrayAttr> rewards = weightedEntries(
          *reward, rec::EntryKind::reward, (name + " reward").str());
      auto number = [&](llvm::StringRef key, double fallback) {
        const Expr *arg = findArg(call, key, ~0u);
        if (!arg)
          return FailureOr<double>(fallback);
        return evalNumber(*arg, (name + ": " + key).str());
      };
      auto integer = [&](llvm::StringRef key, int64_t fallback) {
        const Expr *arg = findArg(call, key, ~0u);
        if (!arg)
          return FailureOr<int64_t>(fallback);
        return evalInt(*arg, (name + ": " + key).str());
      };
      FailureOr<int64_t> group = integer("group", 128);
      if (failed(rewards) || failed(group))
        continue;
      if (name == "dpo") {
        FailureOr<double> beta = number("beta", 0.1),
                          weight = number("weight", 1.0),
                          fraction = number("fraction", 0.01);
        if (succeeded(beta) && succeeded(weight) && succeeded(fraction))
          builder().create<rec::DpoOp>(loc(call.getLoc()), *rewards,
                                       builder().getF64FloatAttr(*beta),
                                       builder().getF64FloatAttr(*weight),
                                       builder().getI64IntegerAttr(*group),
                                       builder().getF64FloatAttr(*fraction));
        continue;
      }
      FlatSymbolRefAttr format;
      if (const Expr *arg = findArg(call, "format", ~0u)) {
        FailureOr<ArrayAttr> formatTerm =
            weightedEntries(*arg, rec::EntryKind::reward, "format");
        if (failed(formatTerm))
          continue;
        auto terms = formatTerm->getAsRange<rec::TermAttr>();
        if (formatTerm->size() != 1 ||
            (*terms.begin()).getWeight().convertToDouble() != 1.0) {
          error(arg->getLoc()) << "format names one reward, such as 'legal'";
          continue;
        }
        format = (*terms.begin()).getEntry();
      }
      FailureOr<double> delta = number("delta", 0.1),
                        epsilon = number("epsilon", 0.2);
      FailureOr<int64_t> formatK = integer("format_k", 5);
      if (succeeded(delta) && succeeded(epsilon) && succeeded(formatK))
        builder().create<rec::EcpoOp>(loc(call.getLoc()), *rewards, format,
                                      builder().getI64IntegerAttr(*group),
                                      builder().getF64FloatAttr(*delta),
                                      builder().getF64FloatAttr(*epsilon),
                                      builder().getI64IntegerAttr(*formatK));
    }
  }
}
