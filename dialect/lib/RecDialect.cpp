//===- RecDialect.cpp - the rec dialect -----------------------------------===//
//
// Dialect registration, attributes, the constant materializer, the inliner
// hook, and verification of the discardable attributes the dialect owns
// (`rec.model` on modules, `rec.entry` on entry functions, `rec.role` and
// `rec.name` on entry arguments).
//
//===----------------------------------------------------------------------===//

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Transforms/InliningUtils.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace onerec::rec;

#include "onerec/Dialect/Rec/IR/RecDialect.cpp.inc"
#include "onerec/Dialect/Rec/IR/RecEnums.cpp.inc"
#include "onerec/Dialect/Rec/IR/RecInterfaces.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "onerec/Dialect/Rec/IR/RecAttrs.cpp.inc"

namespace {
/// Every rec op can be inlined: none of them depends on the function it is in.
struct RecInlinerInterface : public DialectInlinerInterface {
  using DialectInlinerInterface::DialectInlinerInterface;
  bool isLegalToInline(Operation *, Region *, bool, IRMapping &) const final {
    return true;
  }
  bool isLegalToInline(Region *, Region *, bool, IRMapping &) const final {
    return true;
  }
};
} // namespace

void RecDialect::initialize() {
  registerTypes();
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "onerec/Dialect/Rec/IR/RecOps.cpp.inc"
      >();
  addInterfaces<RecInlinerInterface>();
}

void RecDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "onerec/Dialect/Rec/IR/RecAttrs.cpp.inc"
      >();
}

Operation *RecDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  if (!isa<RecTensorType>(type) || !isa<FloatAttr, IntegerAttr>(value))
    return nullptr;
  return builder.create<ConstantOp>(loc, type, value);
}

//===----------------------------------------------------------------------===//
// InitAttr: #rec.init<normal(0.0, 0.02), seed = 7>
//===----------------------------------------------------------------------===//

unsigned InitAttr::getNumArgs(InitKind kind) {
  switch (kind) {
  case InitKind::zeros:
  case InitKind::ones:
    return 0;
  case InitKind::constant:
  case InitKind::xavier_uniform:
    return 1;
  case InitKind::normal:
  case InitKind::truncated_normal:
  case InitKind::uniform:
    return 2;
  }
  llvm_unreachable("unknown InitKind");
}

bool InitAttr::isRandom() const {
  InitKind kind = getKind();
  return kind != InitKind::zeros && kind != InitKind::ones &&
         kind != InitKind::constant;
}

LogicalResult InitAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               InitKind kind, llvm::APFloat aValue,
                               llvm::APFloat bValue, uint64_t seed) {
  double a = aValue.convertToDouble(), b = bValue.convertToDouble();
  switch (kind) {
  case InitKind::normal:
  case InitKind::truncated_normal:
    if (!(b > 0))
      return emitError() << stringifyInitKind(kind)
                         << " initializer needs a positive standard deviation, "
                            "got "
                         << formatNumber(b);
    break;
  case InitKind::uniform:
    if (!(a < b))
      return emitError() << "uniform initializer needs low < high, got ["
                         << formatNumber(a) << ", " << formatNumber(b) << ")";
    break;
  case InitKind::xavier_uniform:
    if (!(a > 0))
      return emitError() << "xavier_uniform initializer needs a positive gain, "
                            "got "
                         << formatNumber(a);
    break;
  default:
    break;
  }
  return success();
}

Attribute InitAttr::parse(AsmParser &parser, Type) {
  StringRef keyword;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() || parser.parseKeyword(&keyword))
    return {};
  std::optional<InitKind> kind = symbolizeInitKind(keyword);
  if (!kind) {
    parser.emitError(loc) << "unknown initializer '" << keyword << "'";
    return {};
  }
  double args[2] = {0.0, 0.0};
  unsigned numArgs = getNumArgs(*kind);
  if (numArgs > 0) {
    if (parser.parseLParen())
      return {};
    for (unsigned i = 0; i < numArgs; ++i) {
      if ((i > 0 && parser.parseComma()) || parser.parseFloat(args[i]))
        return {};
    }
    if (parser.parseRParen())
      return {};
  }
  uint64_t seed = 0;
  if (succeeded(parser.parseOptionalComma())) {
    if (parser.parseKeyword("seed") || parser.parseEqual() ||
        parser.parseInteger(seed))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<InitAttr>(parser.getContext(), *kind,
                                     llvm::APFloat(args[0]),
                                     llvm::APFloat(args[1]), seed);
}

void InitAttr::print(AsmPrinter &printer) const {
  printer << '<' << stringifyInitKind(getKind());
  unsigned numArgs = getNumArgs(getKind());
  if (numArgs > 0) {
    printer << '(';
    printer.printFloat(getA());
    if (numArgs > 1) {
      printer << ", ";
      printer.printFloat(getB());
    }
    printer << ')';
  }
  if (isRandom())
    printer << ", seed = " << getSeed();
  printer << '>';
}

//===----------------------------------------------------------------------===//
// TermAttr: #rec.term<@ntp, 1.0>
//===----------------------------------------------------------------------===//

Attribute TermAttr::parse(AsmParser &parser, Type) {
  FlatSymbolRefAttr entry;
  double weight;
  if (parser.parseLess() || parser.parseAttribute(entry) ||
      parser.parseComma() || parser.parseFloat(weight) || parser.parseGreater())
    return {};
  return TermAttr::get(parser.getContext(), entry, weight);
}

void TermAttr::print(AsmPrinter &printer) const {
  printer << '<';
  printer.printAttributeWithoutType(getEntry());
  printer << ", ";
  printer.printFloat(getWeight());
  printer << '>';
}

//===----------------------------------------------------------------------===//
// Discardable attribute verification
//===----------------------------------------------------------------------===//

/// Every symbolic dimension named by a type in `module` (outside nested
/// modules, which verify themselves) is declared by a `rec.dim` of `module`.
static LogicalResult verifyDeclaredDims(ModuleOp module) {
  llvm::StringSet<> declared;
  for (auto dim : module.getOps<DimOp>())
    declared.insert(dim.getSymName());

  auto checkType = [&](Type type, Operation *where) -> LogicalResult {
    LogicalResult result = success();
    type.walk([&](RecTensorType tensor) {
      for (const Dim &dim : tensor.getDims()) {
        if (dim.isSymbolic() && !declared.contains(dim.symbol.getValue())) {
          where->emitError() << "symbolic dimension '" << dim.symbol.getValue()
                             << "' is not declared by a rec.dim";
          result = failure();
          return WalkResult::interrupt();
        }
      }
      return WalkResult::advance();
    });
    return result;
  };

  WalkResult walk = module.walk([&](Operation *op) -> WalkResult {
    if (op != module && isa<ModuleOp>(op))
      return WalkResult::skip();
    for (Type type : op->getResultTypes())
      if (failed(checkType(type, op)))
        return WalkResult::interrupt();
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          if (failed(checkType(arg.getType(), op)))
            return WalkResult::interrupt();
    for (NamedAttribute attr : op->getAttrs())
      if (auto typeAttr = dyn_cast<TypeAttr>(attr.getValue()))
        if (failed(checkType(typeAttr.getValue(), op)))
          return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

/// Entry functions: every argument says what feeds it; losses return one
/// float scalar, rewards one float per row.
static LogicalResult verifyEntry(func::FuncOp func, EntryKind kind) {
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
    if (!func.getArgAttrOfType<ArgRoleAttr>(i, RecDialect::kRoleAttrName) ||
        !func.getArgAttrOfType<StringAttr>(i, RecDialect::kNameAttrName))
      return func.emitOpError("entry argument #")
             << i << " needs '" << RecDialect::kRoleAttrName << "' and '"
             << RecDialect::kNameAttrName << "' attributes";
    if (!isa<RecTensorType>(func.getArgumentTypes()[i]))
      return func.emitOpError("entry argument #")
             << i << " is not a rec tensor";
  }
  ArrayRef<Type> results = func.getResultTypes();
  if (kind == EntryKind::loss) {
    auto tensor = results.size() == 1 ? dyn_cast<RecTensorType>(results[0])
                                      : RecTensorType();
    if (!tensor || tensor.getRank() != 0 || !tensor.isFloat())
      return func.emitOpError("a loss entry returns one float scalar");
  }
  if (kind == EntryKind::reward) {
    auto tensor = results.size() == 1 ? dyn_cast<RecTensorType>(results[0])
                                      : RecTensorType();
    if (!tensor || tensor.getRank() != 1 || !tensor.isFloat())
      return func.emitOpError(
          "a reward entry returns one float per row (a rank-1 float tensor)");
  }
  return success();
}

LogicalResult RecDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kModelAttrName) {
    auto module = dyn_cast<ModuleOp>(op);
    if (!module || !isa<StringAttr>(attr.getValue()))
      return op->emitError()
             << "'" << kModelAttrName << "' is a string attribute of a module";
    return verifyDeclaredDims(module);
  }
  if (name == kTrainEntryAttrName) {
    if (!isa<StageOp>(op) || !isa<StringAttr>(attr.getValue()))
      return op->emitError() << "'" << kTrainEntryAttrName
                             << "' is a string attribute of a rec.stage";
    return success();
  }
  if (name == "rec.seed") {
    if (!isa<ModuleOp>(op) || !isa<IntegerAttr>(attr.getValue()))
      return op->emitError()
             << "'rec.seed' is an integer attribute of a module";
    return success();
  }
  if (name == kEntryAttrName) {
    auto func = dyn_cast<func::FuncOp>(op);
    auto kind = dyn_cast<EntryKindAttr>(attr.getValue());
    if (!func || !kind)
      return op->emitError()
             << "'" << kEntryAttrName << "' is an entry kind on a func.func";
    return verifyEntry(func, kind.getValue());
  }
  // Lowering annotations: checked for their kind here; their meaning is
  // checked by the passes that read them.
  if (name == kKernelAttrName || name == kUnsupportedAttrName) {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitError() << "'" << name << "' is a string attribute";
    return success();
  }
  if (name == kOffsetsAttrName) {
    auto offsets = dyn_cast<DenseI64ArrayAttr>(attr.getValue());
    if (!offsets || offsets.size() != static_cast<int64_t>(op->getNumResults()))
      return op->emitError()
             << "'" << name << "' is an array of one byte offset per result";
    return success();
  }
  if (name == kArenaBytesAttrName || name == kArenaNaiveBytesAttrName) {
    if (!isa<func::FuncOp>(op) || !isa<IntegerAttr>(attr.getValue()))
      return op->emitError()
             << "'" << name << "' is an integer attribute of an entry";
    return success();
  }
  // CUDA code of fused groups (rec-generate-cuda, CudaCodegen.h).
  if (name == "rec.cuda_arch") {
    if (!isa<ModuleOp>(op) || !isa<StringAttr>(attr.getValue()))
      return op->emitError()
             << "'" << name << "' is a string attribute of a module";
    return success();
  }
  if (name.starts_with("rec.cuda_")) {
    if (!isa<FusedOp>(op))
      return op->emitError() << "'" << name << "' belongs on a rec.fused op";
    bool ok = name == "rec.cuda_domain" ? isa<TypeAttr>(attr.getValue())
              : name == "rec.cuda_launch"
                  ? isa<DenseI64ArrayAttr>(attr.getValue())
                  : (name == "rec.cuda_kernel" || name == "rec.cuda_source" ||
                     name == "rec.cuda_cubin" || name == "rec.cuda_ptx") &&
                        isa<StringAttr>(attr.getValue());
    if (!ok)
      return op->emitError()
             << "unknown or ill-typed rec attribute '" << name << "'";
    return success();
  }
  return op->emitError() << "unknown rec attribute '" << name << "'";
}

LogicalResult RecDialect::verifyRegionArgAttribute(Operation *op, unsigned,
                                                   unsigned argIndex,
                                                   NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kRoleAttrName) {
    if (!isa<ArgRoleAttr>(attr.getValue()))
      return op->emitError() << "'" << kRoleAttrName << "' of argument #"
                             << argIndex << " must be a #rec<role ...>";
    return success();
  }
  if (name == kNameAttrName) {
    auto str = dyn_cast<StringAttr>(attr.getValue());
    if (!str || str.getValue().empty())
      return op->emitError() << "'" << kNameAttrName << "' of argument #"
                             << argIndex << " must be a non-empty string";
    return success();
  }
  return op->emitError() << "unknown rec argument attribute '" << name << "'";
}
