//===- CompilerValue.cpp - values of .rdsl expressions --------------------===//

#include "CompilerValue.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace onerec;
using namespace onerec::frontend;

CompilerValue CompilerValue::integer(int64_t v) {
  CompilerValue result(Kind::Int);
  result.intValue = v;
  return result;
}

CompilerValue CompilerValue::floating(double v) {
  CompilerValue result(Kind::Float);
  result.floatValue = v;
  return result;
}

CompilerValue CompilerValue::boolean(bool v) {
  CompilerValue result(Kind::Bool);
  result.intValue = v;
  return result;
}

CompilerValue CompilerValue::string(std::string v) {
  CompilerValue result(Kind::String);
  result.text = std::move(v);
  return result;
}

CompilerValue CompilerValue::word(std::string v) {
  CompilerValue result(Kind::Word);
  result.text = std::move(v);
  return result;
}

CompilerValue CompilerValue::dtype(mlir::Type type) {
  CompilerValue result(Kind::DType);
  result.type = type;
  return result;
}

CompilerValue CompilerValue::dim(std::string name) {
  CompilerValue result(Kind::Dim);
  result.text = std::move(name);
  return result;
}

CompilerValue CompilerValue::list(std::vector<CompilerValue> elements) {
  CompilerValue result(Kind::List);
  result.elements = std::move(elements);
  return result;
}

CompilerValue CompilerValue::tensor(mlir::Value value) {
  CompilerValue result(Kind::Tensor);
  result.value = value;
  return result;
}

CompilerValue CompilerValue::tuple(std::vector<CompilerValue> elements) {
  CompilerValue result(Kind::Tuple);
  result.elements = std::move(elements);
  return result;
}

bool CompilerValue::isCompileTime() const {
  switch (kind) {
  case Kind::Tensor:
  case Kind::Poison:
    return false;
  case Kind::List:
  case Kind::Tuple:
    return llvm::all_of(
        elements, [](const CompilerValue &e) { return e.isCompileTime(); });
  default:
    return true;
  }
}

bool CompilerValue::containsPoison() const {
  if (kind == Kind::Poison)
    return true;
  return llvm::any_of(
      elements, [](const CompilerValue &e) { return e.containsPoison(); });
}

double CompilerValue::asDouble() const {
  return kind == Kind::Float ? floatValue : static_cast<double>(intValue);
}

rec::RecTensorType CompilerValue::getTensorType() const {
  return llvm::cast<rec::RecTensorType>(value.getType());
}

std::string CompilerValue::describe() const {
  std::string out;
  llvm::raw_string_ostream os(out);
  switch (kind) {
  case Kind::Poison:
    os << "an invalid value";
    break;
  case Kind::None:
    os << "none";
    break;
  case Kind::Int:
    os << "the integer " << intValue;
    break;
  case Kind::Float: {
    std::string number = rec::formatNumber(floatValue);
    if (number.find_first_of(".ein") == std::string::npos)
      number += ".0"; // 1.0, not 1: it is a float
    os << "the number " << number;
    break;
  }
  case Kind::Bool:
    os << (intValue ? "true" : "false");
    break;
  case Kind::String:
    os << "the string \"" << text << "\"";
    break;
  case Kind::Word:
    os << "the word '" << text << "'";
    break;
  case Kind::DType:
    os << "the type "
       << rec::formatTensorType(rec::RecTensorType::getScalar(type));
    break;
  case Kind::Dim:
    os << "the dimension '" << text << "'";
    break;
  case Kind::List:
    os << "a list of " << elements.size();
    break;
  case Kind::Tensor:
    os << "a tensor " << rec::formatTensorType(value.getType());
    break;
  case Kind::Tuple:
    os << elements.size() << " values";
    break;
  }
  return out;
}
