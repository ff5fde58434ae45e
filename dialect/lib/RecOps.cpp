//===- RecOps.cpp - rec dialect operations --------------------------------===//
//
// Verifiers, symbol checks, folders and canonicalization patterns. Shape rules
// live in RecShapeInference.cpp.
//
//===----------------------------------------------------------------------===//

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace onerec::rec;

#define GET_OP_CLASSES
#include "onerec/Dialect/Rec/IR/RecOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static ModuleOp getEnclosingModule(Operation *op) {
  return op->getParentOfType<ModuleOp>();
}

/// Looks up an entry function of `kind` named by `symbol` from `user`.
static LogicalResult verifyEntryRef(Operation *user,
                                    SymbolTableCollection &symbolTable,
                                    FlatSymbolRefAttr symbol, EntryKind kind,
                                    StringRef role) {
  auto func = symbolTable.lookupNearestSymbolFrom<func::FuncOp>(
      getEnclosingModule(user), symbol);
  if (!func)
    return user->emitOpError()
           << role << " " << symbol << " is not a function of the module";
  auto entry = func->getAttrOfType<EntryKindAttr>(RecDialect::kEntryAttrName);
  if (!entry || entry.getValue() != kind)
    return user->emitOpError() << role << " " << symbol << " must be a "
                               << stringifyEntryKind(kind) << " entry";
  return success();
}

static LogicalResult verifyTerms(Operation *user,
                                 SymbolTableCollection &symbolTable,
                                 ArrayAttr terms, EntryKind kind,
                                 StringRef role) {
  if (terms.empty())
    return user->emitOpError() << "needs at least one " << role;
  for (auto term : terms.getAsRange<TermAttr>())
    if (failed(verifyEntryRef(user, symbolTable, term.getEntry(), kind, role)))
      return failure();
  return success();
}

/// Checks a dictionary of hyperparameters against the names a kind accepts.
static LogicalResult verifyHyperparameters(Operation *op, StringRef what,
                                           DictionaryAttr params,
                                           ArrayRef<StringRef> allowed) {
  for (NamedAttribute param : params) {
    StringRef name = param.getName().getValue();
    if (!llvm::is_contained(allowed, name)) {
      auto diag = op->emitOpError()
                  << what << " has no parameter '" << name << "'; it takes ";
      llvm::interleaveComma(allowed, diag);
      return diag;
    }
    if (!isa<FloatAttr, IntegerAttr, BoolAttr>(param.getValue()))
      return op->emitOpError() << "parameter '" << name << "' of " << what
                               << " must be a number or a boolean";
  }
  return success();
}

static std::optional<double> getNumber(DictionaryAttr dict, StringRef name) {
  Attribute attr = dict.get(name);
  if (auto f = dyn_cast_or_null<FloatAttr>(attr))
    return f.getValueAsDouble();
  if (auto i = dyn_cast_or_null<IntegerAttr>(attr))
    return static_cast<double>(i.getInt());
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Model structure
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  RecTensorType type = getTensorType();
  if (!type.hasStaticShape())
    return emitOpError("parameter shapes are static, got ")
           << formatTensorType(type);
  if (!type.isFloat())
    return emitOpError("parameters hold floats, got ")
           << formatTensorType(type);
  return success();
}

LogicalResult ParamRefOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto param = symbolTable.lookupNearestSymbolFrom<ParamOp>(*this, getParam());
  if (!param)
    return emitOpError("'") << getParam() << "' is not a rec.param";
  if (param.getType() != getType())
    return emitOpError("type ")
           << formatTensorType(getType()) << " does not match parameter type "
           << formatTensorType(param.getType());
  return success();
}

LogicalResult GenerateOp::verify() {
  auto type = dyn_cast<RecTensorType>(getType());
  if (!type || type.getRank() != 3 || !isa<SidType>(type.getElementType()))
    return emitOpError("generates semantic-id sessions sid<K>[B, items, "
                       "levels], got ")
           << formatTensorType(getType());
  Dim items = type.getDim(1);
  if (items.isSymbolic() || items.size != static_cast<int64_t>(getItems()))
    return emitOpError("the session dimension of ")
           << formatTensorType(type) << " must be items = " << getItems();
  return success();
}

LogicalResult GenerateOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  if (failed(verifyEntryRef(*this, symbolTable, getEncoderAttr(),
                            EntryKind::def, "encoder")) ||
      failed(verifyEntryRef(*this, symbolTable, getDecoderAttr(),
                            EntryKind::def, "decoder")))
    return failure();
  if (getInitAttr() && failed(verifyEntryRef(*this, symbolTable, getInitAttr(),
                                             EntryKind::def, "init")))
    return failure();
  if (getStepAttr() && failed(verifyEntryRef(*this, symbolTable, getStepAttr(),
                                             EntryKind::def, "step")))
    return failure();
  return success();
}

ArrayRef<StringRef> TrainOp::getSettingNames() {
  static constexpr StringRef kSettings[] = {
      "batch", "grad_clip", "accumulate", "seed", "eval_every", "balance_rate"};
  return kSettings;
}

LogicalResult TrainOp::verify() {
  unsigned optimizers = 0, schedules = 0, stages = 0;
  llvm::StringSet<> stageNames;
  for (Operation &op : getBody().front()) {
    if (isa<OptimizerOp>(op)) {
      ++optimizers;
    } else if (isa<ScheduleOp>(op)) {
      ++schedules;
    } else if (auto stage = dyn_cast<StageOp>(op)) {
      ++stages;
      if (!stageNames.insert(stage.getName()).second)
        return stage.emitOpError("duplicate stage '") << stage.getName() << "'";
    } else {
      return op.emitOpError("is not allowed in rec.train");
    }
  }
  if (optimizers != 1)
    return emitOpError("needs exactly one rec.optimizer, found ") << optimizers;
  if (schedules > 1)
    return emitOpError("has more than one rec.schedule");
  if (stages == 0)
    return emitOpError("needs at least one rec.stage");

  ArrayRef<StringRef> settings = getSettingNames();
  for (NamedAttribute attr : (*this)->getDiscardableAttrs()) {
    StringRef name = attr.getName().getValue();
    if (!llvm::is_contained(settings, name)) {
      auto diag = emitOpError("unknown training setting '")
                  << name << "'; known: ";
      llvm::interleaveComma(settings, diag);
      return diag;
    }
    auto value = dyn_cast<IntegerAttr>(attr.getValue());
    auto fvalue = dyn_cast<FloatAttr>(attr.getValue());
    if (name == "grad_clip") {
      if (!(fvalue && fvalue.getValueAsDouble() > 0))
        return emitOpError("grad_clip must be a positive float");
    } else if (name == "seed" ? !value : !value || value.getInt() < 1) {
      return emitOpError("training setting '")
             << name << "' must be "
             << (name == "seed" ? "an integer" : "a positive integer");
    }
  }
  return success();
}

ArrayRef<StringRef> OptimizerOp::getParamNames(OptimizerKind kind) {
  static constexpr StringRef kSgd[] = {"lr", "momentum", "weight_decay",
                                       "nesterov"};
  static constexpr StringRef kAdam[] = {"lr", "beta1", "beta2", "eps",
                                        "weight_decay"};
  return kind == OptimizerKind::sgd ? ArrayRef<StringRef>(kSgd) : kAdam;
}

LogicalResult OptimizerOp::verify() {
  if (failed(verifyHyperparameters(*this, stringifyOptimizerKind(getKind()),
                                   getParams(), getParamNames(getKind()))))
    return failure();
  std::optional<double> lr = getNumber(getParams(), "lr");
  if (!lr || !(*lr > 0))
    return emitOpError("needs a positive learning rate 'lr'");
  for (StringRef beta : {"beta1", "beta2"})
    if (auto value = getNumber(getParams(), beta))
      if (!(*value >= 0 && *value < 1))
        return emitOpError() << beta << " must be in [0, 1)";
  return success();
}

ArrayRef<StringRef> ScheduleOp::getParamNames(ScheduleKind kind) {
  static constexpr StringRef kWarmup[] = {"warmup"};
  static constexpr StringRef kCosine[] = {"warmup", "total", "min_lr"};
  switch (kind) {
  case ScheduleKind::constant:
    return {};
  case ScheduleKind::warmup:
    return kWarmup;
  case ScheduleKind::cosine:
    return kCosine;
  }
  return {};
}

LogicalResult ScheduleOp::verify() {
  if (failed(verifyHyperparameters(*this, stringifyScheduleKind(getKind()),
                                   getParams(), getParamNames(getKind()))))
    return failure();
  if (getKind() == ScheduleKind::cosine) {
    std::optional<double> total = getNumber(getParams(), "total");
    if (!total || !(*total > 0))
      return emitOpError("cosine schedule needs a positive 'total' step count");
  }
  return success();
}

ArrayRef<StringRef> StageOp::getSettingNames() {
  static constexpr StringRef kSettings[] = {"steps", "epochs"};
  return kSettings;
}

LogicalResult StageOp::verify() {
  if (getName().empty())
    return emitOpError("needs a name");
  if (getBody().front().empty())
    return emitOpError("stage '") << getName() << "' has no objective";
  for (Operation &op : getBody().front())
    if (!isa<MinimizeOp, DpoOp, EcpoOp>(op))
      return op.emitOpError("is not an objective of a rec.stage");
  for (NamedAttribute attr : (*this)->getDiscardableAttrs()) {
    StringRef name = attr.getName().getValue();
    if (name == RecDialect::kTrainEntryAttrName)
      continue; // checked by the dialect
    if (!llvm::is_contained(getSettingNames(), name))
      return emitOpError("unknown stage setting '")
             << name << "'; stage settings are 'steps' and 'epochs'";
    auto value = dyn_cast<IntegerAttr>(attr.getValue());
    if (!value || value.getInt() < 1) {
      auto diag = emitOpError("stage setting '")
                  << name << "' must be a positive integer, got ";
      if (value)
        diag << value.getInt();
      else
        diag << attr.getValue();
      return diag;
    }
  }
  return success();
}

LogicalResult MinimizeOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  return verifyTerms(*this, symbolTable, getTerms(), EntryKind::loss, "loss");
}

LogicalResult DpoOp::verify() {
  if (!(getBeta().convertToDouble() > 0))
    return emitOpError("beta must be positive");
  if (getGroup() < 2)
    return emitOpError("a preference pair needs a group of at least 2");
  double fraction = getFraction().convertToDouble();
  if (!(fraction > 0 && fraction <= 1))
    return emitOpError("fraction must be in (0, 1]");
  return success();
}

LogicalResult DpoOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  return verifyTerms(*this, symbolTable, getReward(), EntryKind::reward,
                     "reward");
}

LogicalResult EcpoOp::verify() {
  if (getGroup() < 2)
    return emitOpError("group advantages need a group of at least 2");
  if (!(getEpsilon().convertToDouble() > 0))
    return emitOpError("epsilon must be positive");
  if (!(getDelta().convertToDouble() >= 0))
    return emitOpError("delta must be >= 0");
  if (getFormatK() < 1 || getFormatK() > getGroup())
    return emitOpError("format_k must be in [1, group]");
  return success();
}

LogicalResult EcpoOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  if (failed(verifyTerms(*this, symbolTable, getReward(), EntryKind::reward,
                         "reward")))
    return failure();
  if (auto format = getFormatAttr())
    return verifyEntryRef(*this, symbolTable, format, EntryKind::reward,
                          "format reward");
  return success();
}

//===----------------------------------------------------------------------===//
// ConstantOp / IotaOp / CastOp
//===----------------------------------------------------------------------===//

double ConstantOp::getValueAsDouble() {
  if (auto f = dyn_cast<FloatAttr>(getValue()))
    return f.getValueAsDouble();
  return static_cast<double>(cast<IntegerAttr>(getValue()).getInt());
}

/// `rec.constant(1.0) : !rec.tensor<[], f32>`: floats print with a decimal
/// point or exponent, integers without, so the literal alone says which.
ParseResult ConstantOp::parse(OpAsmParser &parser, OperationState &result) {
  Attribute value;
  Type type;
  if (parser.parseLParen() || parser.parseAttribute(value) ||
      parser.parseRParen() || parser.parseOptionalAttrDict(result.attributes) ||
      parser.parseColonType(type))
    return failure();
  if (!isa<FloatAttr, IntegerAttr>(value))
    return parser.emitError(parser.getNameLoc(),
                            "expects a float or integer value");
  // Store literals at the widths the op's attribute constraint names.
  if (auto f = dyn_cast<FloatAttr>(value))
    value =
        FloatAttr::get(parser.getBuilder().getF64Type(), f.getValueAsDouble());
  if (auto i = dyn_cast<IntegerAttr>(value))
    value = IntegerAttr::get(parser.getBuilder().getI64Type(), i.getInt());
  result.getOrAddProperties<Properties>().value = value;
  result.addTypes(type);
  return success();
}

void ConstantOp::print(OpAsmPrinter &printer) {
  printer << '(';
  printer.printAttributeWithoutType(getValue());
  printer << ')';
  printer.printOptionalAttrDict((*this)->getAttrs(), {"value"});
  printer << " : ";
  printer.printType(getType());
}

LogicalResult ConstantOp::verify() {
  auto type = cast<RecTensorType>(getType());
  bool isFloatValue = isa<FloatAttr>(getValue());
  if (type.isFloat() != isFloatValue)
    return emitOpError("a ")
           << formatTensorType(type) << " constant needs "
           << (type.isFloat() ? "a float" : "an integer") << " value";
  if (isFloatValue)
    return success();
  int64_t value = cast<IntegerAttr>(getValue()).getInt();
  if (type.isBool() && value != 0 && value != 1)
    return emitOpError("a boolean constant is 0 or 1, got ") << value;
  if (auto id = dyn_cast<IdType>(type.getElementType()))
    if (value < 0 || (id.getVocab() > 0 && value >= id.getVocab()))
      return emitOpError("id ")
             << value << " is outside the vocabulary of " << id.getVocab();
  if (auto sid = dyn_cast<SidType>(type.getElementType()))
    if (value < 0 || value >= sid.getCodebook())
      return emitOpError("code ")
             << value << " is outside the codebook of " << sid.getCodebook();
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

LogicalResult IotaOp::verify() {
  auto type = cast<RecTensorType>(getType());
  int64_t axis = getAxisAttr().getInt();
  if (axis < 0 || axis >= type.getRank())
    return emitOpError("axis ")
           << axis << " is out of range for " << formatTensorType(type);
  if (auto id = dyn_cast<IdType>(type.getElementType())) {
    Dim dim = type.getDim(axis);
    if (id.getVocab() > 0 && (dim.isSymbolic() || dim.size > id.getVocab()))
      return emitOpError("positions along axis ")
             << axis << " exceed the id vocabulary of " << id.getVocab();
  }
  return success();
}

/// Which element-type conversions `rec.cast` allows.
static bool isLegalCast(Type from, Type to) {
  if (from == to)
    return true;
  bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(to);
  bool fromInt = isa<IntegerType>(from), toInt = isa<IntegerType>(to);
  if (toFloat)
    return fromFloat || fromInt; // bool and integers to float too
  if (toInt)
    return (fromInt || isa<SidType, IdType>(from)) && !to.isInteger(1);
  if (isa<IdType>(to))
    return (fromInt && !from.isInteger(1)) || isa<SidType, IdType>(from);
  if (isa<SidType>(to))
    return fromInt && !from.isInteger(1);
  return false;
}

LogicalResult CastOp::verify() {
  auto from = cast<RecTensorType>(getX().getType());
  auto to = cast<RecTensorType>(getType());
  if (from.getDims() != to.getDims())
    return emitOpError("casts change the element type only: ")
           << formatTensorType(from) << " -> " << formatTensorType(to);
  if (!isLegalCast(from.getElementType(), to.getElementType()))
    return emitOpError("cannot cast ")
           << formatTensorType(from) << " to " << formatTensorType(to);
  return success();
}

OpFoldResult CastOp::fold(FoldAdaptor) {
  if (getX().getType() == getType())
    return getX();
  return {};
}

//===----------------------------------------------------------------------===//
// Elementwise folders
//===----------------------------------------------------------------------===//

/// The splat value of a folded constant operand, if any.
static std::optional<double> getSplat(Attribute attr) {
  if (auto f = dyn_cast_or_null<FloatAttr>(attr))
    return f.getValueAsDouble();
  return std::nullopt;
}

static bool isSplatOf(Attribute attr, double value) {
  std::optional<double> splat = getSplat(attr);
  if (splat)
    return *splat == value;
  if (auto i = dyn_cast_or_null<IntegerAttr>(attr))
    return static_cast<double>(i.getInt()) == value;
  return false;
}

/// Folds a float binary op over two constants, rounding through the element
/// type so the result is what the runtime would have computed.
static OpFoldResult foldFloatBinary(Operation *op, Attribute lhs, Attribute rhs,
                                    function_ref<double(double, double)> fn) {
  std::optional<double> l = getSplat(lhs), r = getSplat(rhs);
  auto type = dyn_cast<RecTensorType>(op->getResult(0).getType());
  if (!l || !r || !type || !type.isFloat())
    return {};
  auto floatType = cast<FloatType>(type.getElementType());
  llvm::APFloat value(fn(*l, *r));
  bool losesInfo = false;
  value.convert(floatType.getFloatSemantics(),
                llvm::APFloat::rmNearestTiesToEven, &losesInfo);
  value.convert(llvm::APFloat::IEEEdouble(), llvm::APFloat::rmNearestTiesToEven,
                &losesInfo);
  return FloatAttr::get(Float64Type::get(op->getContext()),
                        value.convertToDouble());
}

/// `x op identity` folds to `x` when broadcasting does not change x's type.
static OpFoldResult foldIdentity(Value x, Attribute other, double identity,
                                 Type resultType) {
  if (x.getType() == resultType && isSplatOf(other, identity))
    return x;
  return {};
}

OpFoldResult NegOp::fold(FoldAdaptor adaptor) {
  if (auto inner = getX().getDefiningOp<NegOp>())
    return inner.getX();
  if (std::optional<double> splat = getSplat(adaptor.getX()))
    return FloatAttr::get(Float64Type::get(getContext()), -*splat);
  return {};
}

OpFoldResult AddOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult r = foldIdentity(getLhs(), adaptor.getRhs(), 0, getType()))
    return r;
  if (OpFoldResult r = foldIdentity(getRhs(), adaptor.getLhs(), 0, getType()))
    return r;
  return foldFloatBinary(*this, adaptor.getLhs(), adaptor.getRhs(),
                         [](double a, double b) { return a + b; });
}

OpFoldResult SubOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult r = foldIdentity(getLhs(), adaptor.getRhs(), 0, getType()))
    return r;
  return foldFloatBinary(*this, adaptor.getLhs(), adaptor.getRhs(),
                         [](double a, double b) { return a - b; });
}

OpFoldResult MulOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult r = foldIdentity(getLhs(), adaptor.getRhs(), 1, getType()))
    return r;
  if (OpFoldResult r = foldIdentity(getRhs(), adaptor.getLhs(), 1, getType()))
    return r;
  return foldFloatBinary(*this, adaptor.getLhs(), adaptor.getRhs(),
                         [](double a, double b) { return a * b; });
}

OpFoldResult DivOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult r = foldIdentity(getLhs(), adaptor.getRhs(), 1, getType()))
    return r;
  std::optional<double> divisor = getSplat(adaptor.getRhs());
  if (!divisor || *divisor == 0)
    return {};
  return foldFloatBinary(*this, adaptor.getLhs(), adaptor.getRhs(),
                         [](double a, double b) { return a / b; });
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

/// Splits `dims` at its symbolic dimensions: the symbols in order, and the
/// product of the static extents before, between and after them.
static void splitAtSymbols(ArrayRef<Dim> dims,
                           SmallVectorImpl<StringAttr> &symbols,
                           SmallVectorImpl<int64_t> &products) {
  products.assign(1, 1);
  for (const Dim &dim : dims) {
    if (dim.isSymbolic()) {
      symbols.push_back(dim.symbol);
      products.push_back(1);
    } else {
      products.back() *= dim.size;
    }
  }
}

LogicalResult ReshapeOp::verify() {
  auto from = cast<RecTensorType>(getX().getType());
  auto to = cast<RecTensorType>(getType());
  if (from.getElementType() != to.getElementType())
    return emitOpError("reshape keeps the element type: ")
           << formatTensorType(from) << " -> " << formatTensorType(to);
  SmallVector<StringAttr> fromSymbols, toSymbols;
  SmallVector<int64_t> fromProducts, toProducts;
  splitAtSymbols(from.getDims(), fromSymbols, fromProducts);
  splitAtSymbols(to.getDims(), toSymbols, toProducts);
  if (fromSymbols != toSymbols || fromProducts != toProducts)
    return emitOpError("cannot reshape ")
           << formatTensorType(from) << " to " << formatTensorType(to)
           << ": symbolic dimensions must stay in order with equal static "
              "extents between them";
  return success();
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getX().getType() == getType())
    return getX();
  if (auto inner = getX().getDefiningOp<ReshapeOp>()) {
    getXMutable().assign(inner.getX());
    return getResult();
  }
  // A splat constant is a splat under any shape.
  if (adaptor.getX())
    return adaptor.getX();
  return {};
}

namespace {
/// transpose(transpose(x, p), q) -> transpose(x, p o q).
struct ComposeTransposes : public OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto inner = op.getX().getDefiningOp<TransposeOp>();
    if (!inner)
      return failure();
    ArrayRef<int64_t> outerPerm = op.getPermutation();
    ArrayRef<int64_t> innerPerm = inner.getPermutation();
    SmallVector<int64_t> composed;
    for (int64_t axis : outerPerm)
      composed.push_back(innerPerm[axis]);
    rewriter.replaceOpWithNewOp<TransposeOp>(op, op.getType(), inner.getX(),
                                             composed);
    return success();
  }
};

} // namespace

void TransposeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<ComposeTransposes>(context);
}

OpFoldResult TransposeOp::fold(FoldAdaptor adaptor) {
  ArrayRef<int64_t> perm = getPermutation();
  bool identity = true;
  for (auto [i, axis] : llvm::enumerate(perm))
    identity &= static_cast<int64_t>(i) == axis;
  if (identity && getX().getType() == getType())
    return getX();
  if (adaptor.getX())
    return adaptor.getX();
  return {};
}

LogicalResult BroadcastOp::verify() {
  auto from = cast<RecTensorType>(getX().getType());
  auto to = cast<RecTensorType>(getType());
  if (from.getElementType() != to.getElementType() ||
      !isBroadcastableTo(from.getDims(), to.getDims()))
    return emitOpError("cannot broadcast ")
           << formatTensorType(from) << " to " << formatTensorType(to);
  return success();
}

OpFoldResult BroadcastOp::fold(FoldAdaptor adaptor) {
  if (getX().getType() == getType())
    return getX();
  if (adaptor.getX())
    return adaptor.getX();
  return {};
}

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  if (getInputs().size() == 1 && getInputs()[0].getType() == getType())
    return getInputs()[0];
  return {};
}

OpFoldResult SliceOp::fold(FoldAdaptor) {
  if (getX().getType() == getType())
    return getX();
  return {};
}

//===----------------------------------------------------------------------===//
// Training ops
//===----------------------------------------------------------------------===//

/// A gradient has the type of what it is the gradient of.
static LogicalResult verifyGradType(Operation *op, Value grad, Value of,
                                    StringRef name) {
  if (grad.getType() != of.getType())
    return op->emitOpError()
           << name << " has type " << formatTensorType(grad.getType())
           << ", expected " << formatTensorType(of.getType());
  return success();
}

static bool isScalar(Value value) {
  return cast<RecTensorType>(value.getType()).getRank() == 0;
}

LogicalResult LayerNormGradOp::verify() {
  if (failed(verifyGradType(*this, getDy(), getX(), "dy")) ||
      failed(verifyGradType(*this, getDx(), getX(), "dx")) ||
      failed(verifyGradType(*this, getDgain(), getGain(), "dgain")))
    return failure();
  return verifyGradType(*this, getDbias(), getGain(), "dbias");
}

LogicalResult RmsNormGradOp::verify() {
  if (failed(verifyGradType(*this, getDy(), getX(), "dy")) ||
      failed(verifyGradType(*this, getDx(), getX(), "dx")))
    return failure();
  return verifyGradType(*this, getDgain(), getGain(), "dgain");
}

LogicalResult AttentionGradOp::verify() {
  if (failed(verifyGradType(*this, getDq(), getQ(), "dq")) ||
      failed(verifyGradType(*this, getDk(), getK(), "dk")) ||
      failed(verifyGradType(*this, getDv(), getV(), "dv")))
    return failure();
  if (static_cast<bool>(getBias()) != static_cast<bool>(getDbias()))
    return emitOpError("dbias exists exactly when bias does");
  if (getBias())
    return verifyGradType(*this, getDbias(), getBias(), "dbias");
  return success();
}

LogicalResult EmbeddingGradOp::verify() {
  auto table = cast<RecTensorType>(getDtable().getType());
  auto dy = cast<RecTensorType>(getDy().getType());
  if (table.getRank() != 2 || !table.hasStaticShape())
    return emitOpError("the table gradient is a static [rows, d] tensor, got ")
           << formatTensorType(table);
  if (dy.getRank() == 0 || dy.getDim(dy.getRank() - 1).isSymbolic())
    return emitOpError("dy needs a static last dimension, got ")
           << formatTensorType(dy);
  return success();
}

LogicalResult CrossEntropyGradOp::verify() {
  return verifyGradType(*this, getDlogits(), getLogits(), "dlogits");
}

LogicalResult BceWithLogitsGradOp::verify() {
  return verifyGradType(*this, getDlogits(), getLogits(), "dlogits");
}

LogicalResult SampledSoftmaxGradOp::verify() {
  if (failed(verifyGradType(*this, getDh(), getH(), "dh")))
    return failure();
  return verifyGradType(*this, getDtable(), getTable(), "dtable");
}

LogicalResult MoeGradOp::verify() {
  if (failed(verifyGradType(*this, getDx(), getX(), "dx")) ||
      failed(verifyGradType(*this, getDgate(), getGate(), "dgate")) ||
      failed(verifyGradType(*this, getDup(), getUp(), "dup")) ||
      failed(verifyGradType(*this, getDdown(), getDown(), "ddown")))
    return failure();
  if (static_cast<bool>(getGateProj()) != static_cast<bool>(getDgateProj()))
    return emitOpError("dgate_proj exists exactly when gate_proj does");
  if (getGateProj())
    return verifyGradType(*this, getDgateProj(), getGateProj(), "dgate_proj");
  return success();
}

LogicalResult WeightGradOp::verify() {
  auto x = cast<RecTensorType>(getX().getType());
  auto y = cast<RecTensorType>(getY().getType());
  auto result = cast<RecTensorType>(getResult().getType());
  if (x.getRank() < 2 || x.getRank() != y.getRank() || result.getRank() != 2)
    return emitOpError("takes x [..., k] and y [..., n] of the same rank (at "
                       "least 2) to [k, n]");
  for (int64_t i = 0; i + 1 < x.getRank(); ++i)
    if (x.getDim(i) != y.getDim(i))
      return emitOpError("x and y differ in leading dimension ") << i;
  if (result.getDim(0) != x.getDim(x.getRank() - 1) ||
      result.getDim(1) != y.getDim(y.getRank() - 1))
    return emitOpError("result ")
           << formatTensorType(result) << " is not [k, n] of x "
           << formatTensorType(x) << " and y " << formatTensorType(y);
  return success();
}

LogicalResult GlobalNormOp::verify() {
  if (getInputs().empty())
    return emitOpError("needs at least one tensor");
  if (!isScalar(getResult()))
    return emitOpError("result is a scalar");
  return success();
}

/// The operands an optimizer update shares: a step count and the
/// hyperparameter vector, then the clipping norm.
static LogicalResult verifyOptimizerOperands(Operation *op, Value step,
                                             Value hparams, Value norm) {
  if (step && !isScalar(step))
    return op->emitOpError("step is a scalar");
  auto hp = cast<RecTensorType>(hparams.getType());
  if (hp.getRank() != 1 || hp.getDim(0) != Dim::fixed(8))
    return op->emitOpError("hparams is f32[8], got ") << formatTensorType(hp);
  if (norm && !isScalar(norm))
    return op->emitOpError("norm is a scalar");
  return success();
}

LogicalResult AdamWUpdateOp::verify() {
  if (failed(verifyGradType(*this, getGrad(), getParam(), "grad")) ||
      failed(verifyGradType(*this, getM(), getParam(), "m")) ||
      failed(verifyGradType(*this, getV(), getParam(), "v")))
    return failure();
  return verifyOptimizerOperands(*this, getStep(), getHparams(), getNorm());
}

LogicalResult SgdUpdateOp::verify() {
  if (failed(verifyGradType(*this, getGrad(), getParam(), "grad")) ||
      failed(verifyGradType(*this, getMomentum(), getParam(), "momentum")))
    return failure();
  return verifyOptimizerOperands(*this, getStep(), getHparams(), getNorm());
}

LogicalResult MoeBiasUpdateOp::verify() {
  if (failed(verifyGradType(*this, getLoad(), getBias(), "load")))
    return failure();
  return verifyOptimizerOperands(*this, Value(), getHparams(), Value());
}

LogicalResult AssignAddOp::verify() {
  return verifyGradType(*this, getX(), getTarget(), "x");
}

LogicalResult FillOp::verify() { return success(); }

LogicalResult AssignOp::verify() {
  if (getX().getType() != getTarget().getType())
    return emitOpError("x ") << formatTensorType(getX().getType())
                             << " must have the target's type "
                             << formatTensorType(getTarget().getType());
  return success();
}

//===----------------------------------------------------------------------===//
// Fusion
//===----------------------------------------------------------------------===//

/// `dims` without its leading 1s: kinds compare shapes modulo them.
static ArrayRef<Dim> dropLeadingOnes(ArrayRef<Dim> dims) {
  while (!dims.empty() && dims.front().isOne())
    dims = dims.drop_front();
  return dims;
}

std::optional<FusedValueKind> FusedOp::classify(Type type,
                                                ArrayRef<Dim> shape) {
  auto tensor = dyn_cast<RecTensorType>(type);
  if (!tensor)
    return std::nullopt;
  ArrayRef<Dim> dims = dropLeadingOnes(tensor.getDims());
  ArrayRef<Dim> full = dropLeadingOnes(shape);
  if (dims == full)
    return FusedValueKind::full;
  if (llvm::all_of(dims, [](const Dim &d) { return d.isOne(); }))
    return FusedValueKind::scalar;
  if (full.empty())
    return std::nullopt;
  // A row: the iteration shape with its last dimension 1.
  if (dims.size() == full.size() && dims.back().isOne() &&
      dims.drop_back() == full.drop_back())
    return FusedValueKind::row;
  // A column: one element per column, shared by all rows.
  if (dims.size() == 1 && dims.front() == full.back())
    return FusedValueKind::column;
  return std::nullopt;
}

bool FusedOp::isAllowedInBody(Operation *op) {
  return isa<NegOp, AbsOp, ExpOp, LogOp, SqrtOp, RsqrtOp, TanhOp, SigmoidOp,
             SiluOp, GeluOp, ReluOp, NotOp, AddOp, SubOp, MulOp, DivOp, PowOp,
             MaximumOp, MinimumOp, AndOp, OrOp, CmpOp, SelectOp, CastOp,
             ConstantOp, BroadcastOp, ReduceSumOp, ReduceMeanOp, ReduceMaxOp,
             ReduceMinOp, YieldOp>(op);
}

YieldOp FusedOp::getYield() {
  return cast<YieldOp>(getBody().front().getTerminator());
}

std::optional<SmallVector<Dim>> FusedOp::getIterationShape() {
  SmallVector<Dim> shape;
  auto join = [&](Type type) {
    auto broadcast = broadcastDims(shape, cast<RecTensorType>(type).getDims());
    if (!broadcast)
      return false;
    shape = std::move(*broadcast);
    return true;
  };
  Block &body = getBody().front();
  for (BlockArgument arg : body.getArguments())
    if (!join(arg.getType()))
      return std::nullopt;
  for (Operation &op : body)
    for (Type type : op.getResultTypes())
      if (!join(type))
        return std::nullopt;
  return shape;
}

/// True for element types a group computes with: floats and booleans.
static bool isFusableElementType(Type type) {
  auto tensor = cast<RecTensorType>(type);
  return tensor.isFloat() || tensor.isBool();
}

LogicalResult FusedOp::verify() {
  if (getResults().empty())
    return emitOpError("needs at least one result");
  return success();
}

LogicalResult FusedOp::verifyRegions() {
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError("body has ")
           << body.getNumArguments() << " arguments for " << getInputs().size()
           << " operands";
  for (auto [i, arg, input] : llvm::enumerate(body.getArguments(), getInputs()))
    if (arg.getType() != input.getType())
      return emitOpError("body argument #")
             << i << " has type " << formatTensorType(arg.getType())
             << " but operand #" << i << " has type "
             << formatTensorType(input.getType());
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError("body must end with rec.yield");
  if (yield.getValues().getTypes() != getResultTypes())
    return yield.emitOpError("types must match the results of the rec.fused "
                             "op");

  for (Operation &op : body) {
    if (isa<ReduceSumOp, ReduceMeanOp, ReduceMaxOp, ReduceMinOp>(op)) {
      auto axes = op.getAttrOfType<DenseI64ArrayAttr>("axes").asArrayRef();
      int64_t rank = cast<RecTensorType>(op.getOperand(0).getType()).getRank();
      bool lastAxis =
          axes.size() == 1 && (axes[0] == -1 || axes[0] == rank - 1);
      if (!lastAxis || !op.hasAttr("keepdim"))
        return op.emitOpError("in a rec.fused body reduces the last axis "
                              "only, with keepdim");
    }
    if (!isAllowedInBody(&op))
      return op.emitOpError("is not allowed in a rec.fused body (elementwise "
                            "ops, cmp, select, cast, constant, broadcast and "
                            "last-axis reductions are)");
    SmallVector<Type> types(op.getOperandTypes());
    llvm::append_range(types, op.getResultTypes());
    for (Type type : types)
      if (!isFusableElementType(type))
        return op.emitOpError("a rec.fused body computes with floats and "
                              "booleans, got ")
               << formatTensorType(type);
  }

  std::optional<SmallVector<Dim>> shape = getIterationShape();
  if (!shape)
    return emitOpError("the values of the body do not broadcast to one "
                       "iteration shape");
  auto checkKind = [&](Value value, Operation *at) -> LogicalResult {
    if (!classify(value.getType(), *shape))
      return at->emitOpError("value of type ")
             << formatTensorType(value.getType()) << " is neither the "
             << "iteration shape " << formatDims(*shape)
             << ", one element per row, per column, nor a scalar";
    return success();
  };
  for (BlockArgument arg : body.getArguments())
    if (failed(checkKind(arg, *this)))
      return failure();
  for (Operation &op : body) {
    for (Value result : op.getResults())
      if (failed(checkKind(result, &op)))
        return failure();
    if (!isa<ReduceSumOp, ReduceMeanOp, ReduceMaxOp, ReduceMinOp>(op))
      continue;
    Value x = op.getOperand(0);
    if (classify(x.getType(), *shape) != FusedValueKind::full)
      return op.emitOpError("in a rec.fused body reduces a value of the "
                            "iteration shape ")
             << formatDims(*shape) << ", got " << formatTensorType(x.getType());
  }
  for (auto [i, value] : llvm::enumerate(yield.getValues())) {
    auto kind = classify(value.getType(), *shape);
    if (kind != FusedValueKind::full && kind != FusedValueKind::row)
      return yield.emitOpError("result #")
             << i << " of type " << formatTensorType(value.getType())
             << " is neither the iteration shape " << formatDims(*shape)
             << " nor one element per row";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Fusion: multi-tensor optimizer updates
//===----------------------------------------------------------------------===//

/// What both multi-tensor updates share: at least one parameter (the
/// segments' types already match pairwise), distinct parameters, a 0/1
/// decay flag per parameter, and the scalar norm they return.
static LogicalResult verifyMultiUpdate(Operation *op, Value step, Value hparams,
                                       ValueRange params,
                                       ArrayRef<int64_t> decay, Value norm) {
  if (params.empty())
    return op->emitOpError("needs at least one parameter");
  if (decay.size() != params.size())
    return op->emitOpError("has ") << decay.size() << " decay flags for "
                                   << params.size() << " parameters";
  for (auto [i, flag] : llvm::enumerate(decay))
    if (flag != 0 && flag != 1)
      return op->emitOpError("decay flag ")
             << i << " is " << flag << ", expected 0 or 1";
  llvm::SmallPtrSet<Value, 16> seen;
  for (auto [i, param] : llvm::enumerate(params))
    if (!seen.insert(param).second)
      return op->emitOpError("updates parameter operand ") << i << " twice";
  if (!isScalar(norm))
    return op->emitOpError("result is a scalar");
  return verifyOptimizerOperands(op, step, hparams, Value());
}

LogicalResult MultiAdamWUpdateOp::verify() {
  return verifyMultiUpdate(*this, getStep(), getHparams(), getParams(),
                           getDecay(), getNorm());
}

LogicalResult MultiSgdUpdateOp::verify() {
  return verifyMultiUpdate(*this, getStep(), getHparams(), getParams(),
                           getDecay(), getNorm());
}
