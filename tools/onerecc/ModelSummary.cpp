//===- ModelSummary.cpp - a readable overview of a compiled model ---------===//

#include "ModelSummary.h"

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/Format.h"

using namespace mlir;

namespace {

/// 12345678 -> "12.3M".
std::string humanCount(double n) {
  const char *units[] = {"", "K", "M", "B"};
  int unit = 0;
  while (n >= 1000 && unit < 3) {
    n /= 1000;
    ++unit;
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  if (unit == 0)
    os << static_cast<int64_t>(n);
  else
    os << llvm::format("%.1f", n) << units[unit];
  return text;
}

void printModel(ModuleOp module, llvm::raw_ostream &os,
                llvm::StringRef indent) {
  auto name = module->getAttrOfType<StringAttr>(
      onerec::rec::RecDialect::kModelAttrName);
  os << indent << "model " << (name ? name.getValue() : "?") << "\n";
  for (auto dim : module.getOps<onerec::rec::DimOp>())
    os << indent << "  dim " << dim.getSymName() << " <= " << dim.getMax()
       << "\n";

  int64_t count = 0, trainable = 0, buffers = 0;
  unsigned tensors = 0;
  for (auto param : module.getOps<onerec::rec::ParamOp>()) {
    int64_t n = param.getTensorType().getStaticNumElements().value_or(0);
    count += n;
    ++tensors;
    (param.getBuffer() ? buffers : trainable) += n;
  }
  os << indent << "  parameters " << humanCount(count) << " (" << tensors
     << " tensors; " << humanCount(trainable) << " trainable";
  if (buffers)
    os << ", " << humanCount(buffers) << " buffers";
  os << ")\n";

  for (auto func : module.getOps<func::FuncOp>()) {
    auto kind = func->getAttrOfType<onerec::rec::EntryKindAttr>(
        onerec::rec::RecDialect::kEntryAttrName);
    if (!kind)
      continue;
    os << indent << "  " << onerec::rec::stringifyEntryKind(kind.getValue())
       << " " << func.getSymName() << "(";
    for (unsigned i = 0; i < func.getNumArguments(); ++i) {
      auto argName = func.getArgAttrOfType<StringAttr>(
          i, onerec::rec::RecDialect::kNameAttrName);
      os << (i ? ", " : "") << (argName ? argName.getValue() : "?") << " : "
         << onerec::rec::formatTensorType(func.getArgumentTypes()[i]);
    }
    os << ") -> ";
    llvm::interleaveComma(func.getResultTypes(), os, [&](Type type) {
      os << onerec::rec::formatTensorType(type);
    });
    unsigned ops = 0;
    func.walk([&](Operation *op) {
      if (isa<onerec::rec::RecDialect>(op->getDialect()))
        ++ops;
    });
    os << "  [" << ops << " ops]\n";
  }
  for (auto gen : module.getOps<onerec::rec::GenerateOp>())
    os << indent << "  generate " << gen.getSymName() << " : "
       << onerec::rec::formatTensorType(gen.getType()) << " = "
       << onerec::rec::stringifyDecodeStrategy(gen.getStrategy()) << "("
       << gen.getEncoder() << ", " << gen.getDecoder()
       << ", width = " << gen.getWidth() << ")\n";
  for (auto train : module.getOps<onerec::rec::TrainOp>()) {
    for (Operation &op : train.getBody().front()) {
      if (auto opt = dyn_cast<onerec::rec::OptimizerOp>(op))
        os << indent << "  optimizer "
           << onerec::rec::stringifyOptimizerKind(opt.getKind()) << "\n";
      if (auto stage = dyn_cast<onerec::rec::StageOp>(op)) {
        os << indent << "  stage " << stage.getName() << ":";
        for (Operation &objective : stage.getBody().front())
          os << " " << objective.getName().stripDialect();
        os << "\n";
      }
    }
  }
  for (auto nested : module.getOps<ModuleOp>()) {
    os << indent << "  import " << nested.getSymName().value_or("?") << ":\n";
    printModel(nested, os, (indent + "    ").str());
  }
}

} // namespace

void onerec::printModelSummary(ModuleOp module, llvm::raw_ostream &os) {
  printModel(module, os, "");
}
