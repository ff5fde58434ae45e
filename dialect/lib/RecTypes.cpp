//===- RecTypes.cpp - rec dialect types -----------------------------------===//
//
// The tensor type with symbolic dimensions, the id and semantic-id element
// types, and the broadcasting rule every elementwise op shares.
//
//===----------------------------------------------------------------------===//

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Format.h"

using namespace mlir;
using namespace onerec::rec;

#define GET_TYPEDEF_CLASSES
#include "onerec/Dialect/Rec/IR/RecTypes.cpp.inc"

void RecDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "onerec/Dialect/Rec/IR/RecTypes.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Dim and formatting
//===----------------------------------------------------------------------===//

llvm::raw_ostream &onerec::rec::operator<<(llvm::raw_ostream &os,
                                           const Dim &dim) {
  if (dim.isSymbolic())
    return os << dim.symbol.getValue();
  return os << dim.size;
}

std::string onerec::rec::formatDim(const Dim &dim) {
  return dim.isSymbolic() ? dim.symbol.getValue().str()
                          : std::to_string(dim.size);
}

std::string onerec::rec::formatNumber(double value) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::format("%g", value);
  return text;
}

std::string onerec::rec::formatDims(ArrayRef<Dim> dims) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << '[';
  llvm::interleaveComma(dims, os);
  os << ']';
  return text;
}

static void printElementTypeForUser(llvm::raw_ostream &os, Type type) {
  if (auto id = dyn_cast<IdType>(type)) {
    os << "id<" << id.getVocab() << '>';
  } else if (auto sid = dyn_cast<SidType>(type)) {
    os << "sid<" << sid.getCodebook() << '>';
  } else if (type.isInteger(1)) {
    os << "bool";
  } else {
    type.print(os);
  }
}

std::string onerec::rec::formatElementType(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  printElementTypeForUser(os, type);
  return text;
}

std::string onerec::rec::formatTensorType(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto tensor = dyn_cast<RecTensorType>(type)) {
    printElementTypeForUser(os, tensor.getElementType());
    os << formatDims(tensor.getDims());
  } else {
    type.print(os);
  }
  return text;
}

//===----------------------------------------------------------------------===//
// Broadcasting
//===----------------------------------------------------------------------===//

std::optional<SmallVector<Dim>> onerec::rec::broadcastDims(ArrayRef<Dim> lhs,
                                                           ArrayRef<Dim> rhs) {
  size_t rank = std::max(lhs.size(), rhs.size());
  SmallVector<Dim> result(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align from the right; a missing dimension acts as 1.
    std::optional<Dim> l, r;
    if (i < lhs.size())
      l = lhs[lhs.size() - 1 - i];
    if (i < rhs.size())
      r = rhs[rhs.size() - 1 - i];
    Dim &out = result[rank - 1 - i];
    if (!l || l->isOne()) {
      out = r ? *r : *l;
    } else if (!r || r->isOne() || *l == *r) {
      out = *l;
    } else {
      return std::nullopt;
    }
  }
  return result;
}

bool onerec::rec::isBroadcastableTo(ArrayRef<Dim> from, ArrayRef<Dim> to) {
  if (from.size() > to.size())
    return false;
  auto broadcast = broadcastDims(from, to);
  return broadcast && ArrayRef<Dim>(*broadcast) == to;
}

//===----------------------------------------------------------------------===//
// IdType / SidType
//===----------------------------------------------------------------------===//

LogicalResult IdType::verify(function_ref<InFlightDiagnostic()> emitError,
                             int64_t vocab) {
  if (vocab < 0)
    return emitError() << "id vocabulary must be >= 0 (0 = unbounded), got "
                       << vocab;
  return success();
}

LogicalResult SidType::verify(function_ref<InFlightDiagnostic()> emitError,
                              int64_t codebook) {
  if (codebook < 1)
    return emitError() << "semantic-id codebook must be positive, got "
                       << codebook;
  return success();
}

//===----------------------------------------------------------------------===//
// RecTensorType
//===----------------------------------------------------------------------===//

RecTensorType RecTensorType::getStatic(ArrayRef<int64_t> shape,
                                       Type elementType) {
  SmallVector<Dim> dims;
  for (int64_t size : shape)
    dims.push_back(Dim::fixed(size));
  return get(dims, elementType);
}

bool RecTensorType::hasStaticShape() const {
  return llvm::all_of(getDims(), [](const Dim &d) { return d.isStatic(); });
}

std::optional<int64_t> RecTensorType::getStaticNumElements() const {
  int64_t count = 1;
  for (const Dim &dim : getDims()) {
    if (dim.isSymbolic() || llvm::MulOverflow(count, dim.size, count))
      return std::nullopt;
  }
  return count;
}

bool RecTensorType::isIndexLike() const {
  Type elt = getElementType();
  return llvm::isa<IdType, SidType>(elt) ||
         (llvm::isa<IntegerType>(elt) && !elt.isInteger(1));
}

static bool isValidElementType(Type type) {
  if (isa<IdType, SidType>(type))
    return true;
  if (auto f = dyn_cast<FloatType>(type))
    return f.isF16() || f.isBF16() || f.isF32() || f.isF64();
  if (auto i = dyn_cast<IntegerType>(type))
    return i.isSignless() &&
           (i.getWidth() == 1 || i.getWidth() == 32 || i.getWidth() == 64);
  return false;
}

LogicalResult
RecTensorType::verify(function_ref<InFlightDiagnostic()> emitError,
                      ArrayRef<Dim> dims, Type elementType) {
  for (const Dim &dim : dims) {
    if (dim.isSymbolic() && dim.symbol.getValue().empty())
      return emitError() << "symbolic dimension has an empty name";
    if (dim.isStatic() && dim.size < 1)
      return emitError() << "tensor dimensions must be positive, got "
                         << dim.size;
  }
  if (!isValidElementType(elementType))
    return emitError() << "invalid rec tensor element type " << elementType
                       << "; expected f16, bf16, f32, f64, i1, i32, i64, "
                          "!rec.id<V> or !rec.sid<K>";
  return success();
}

/// `!rec.tensor<[B, 256, 64], f32>`
Type RecTensorType::parse(AsmParser &parser) {
  MLIRContext *ctx = parser.getContext();
  SmallVector<Dim> dims;
  if (parser.parseLess() || parser.parseLSquare())
    return {};
  if (failed(parser.parseOptionalRSquare())) {
    do {
      int64_t size;
      OptionalParseResult parsedInt = parser.parseOptionalInteger(size);
      if (parsedInt.has_value()) {
        if (failed(*parsedInt))
          return {};
        dims.push_back(Dim::fixed(size));
        continue;
      }
      StringRef name;
      if (parser.parseKeyword(&name))
        return {};
      dims.push_back(Dim::symbolic(StringAttr::get(ctx, name)));
    } while (succeeded(parser.parseOptionalComma()));
    if (parser.parseRSquare())
      return {};
  }
  Type elementType;
  if (parser.parseComma() || parser.parseType(elementType) ||
      parser.parseGreater())
    return {};
  return parser.getChecked<RecTensorType>(ctx, dims, elementType);
}

void RecTensorType::print(AsmPrinter &printer) const {
  printer << '<' << formatDims(getDims()) << ", ";
  printer.printType(getElementType());
  printer << '>';
}
