//===- BindDims.cpp - the rec-bind-dims pass ------------------------------===//

#include "onerec/Passes/Passes.h"

#include "mlir/IR/AttrTypeSubElements.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"

namespace onerec {
#define GEN_PASS_DEF_RECBINDDIMS
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;

namespace {
struct RecBindDimsPass : public onerec::impl::RecBindDimsBase<RecBindDimsPass> {
  using RecBindDimsBase::RecBindDimsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::StringMap<int64_t> bindings;
    for (const std::string &binding : dims) {
      auto [name, value] = StringRef(binding).split('=');
      int64_t size;
      if (name.empty() || value.getAsInteger(10, size) || size < 1) {
        module.emitError("rec-bind-dims: expected NAME=SIZE with a positive "
                         "size, got '")
            << binding << "'";
        return signalPassFailure();
      }
      bindings[name] = size;
    }

    // Check each binding against its declaration, then drop the declaration.
    for (auto dim : llvm::make_early_inc_range(module.getOps<rec::DimOp>())) {
      auto it = bindings.find(dim.getSymName());
      if (it == bindings.end())
        continue;
      if (it->second > static_cast<int64_t>(dim.getMax())) {
        dim.emitError("dimension '")
            << dim.getSymName() << "' bound to " << it->second
            << ", above its declared maximum " << dim.getMax();
        return signalPassFailure();
      }
      dim.erase();
    }

    // Rewrite every type that names a bound dimension, wherever it appears
    // (values, function signatures, type attributes of params and generate).
    AttrTypeReplacer replacer;
    replacer.addReplacement(
        [&](rec::RecTensorType type) -> std::optional<Type> {
          SmallVector<rec::Dim> dims(type.getDims());
          bool changed = false;
          for (rec::Dim &dim : dims) {
            if (dim.isSymbolic())
              if (auto it = bindings.find(dim.symbol.getValue());
                  it != bindings.end()) {
                dim = rec::Dim::fixed(it->second);
                changed = true;
              }
          }
          if (!changed)
            return std::nullopt;
          return type.withDims(dims);
        });
    replacer.recursivelyReplaceElementsIn(module, /*replaceAttrs=*/true,
                                          /*replaceLocs=*/false,
                                          /*replaceTypes=*/true);
  }
};
} // namespace
