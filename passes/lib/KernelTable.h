//===- KernelTable.h - which runtime kernel realizes each rec op -*- C++
//-*-===//
//
// The one place the compiler knows how a rec op maps onto the plan: its
// kernel (plan::OpCode), whether it is a view that needs no kernel, the
// kernel's attributes in plan form (negative axes normalized), and its
// floating-point operation count. rec-select-kernels, rec-plan-memory and
// the plan emitter all ask here.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_PASSES_LIB_KERNELTABLE_H
#define ONEREC_PASSES_LIB_KERNELTABLE_H

#include "mlir/IR/Operation.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace onerec {

/// How an op is realized at run time.
enum class KernelKind {
  /// A plan kernel (KernelChoice::opcode).
  Kernel,
  /// A view: the result is the operand's bytes (reshape; dropout outside
  /// training).
  View,
  /// Produces no tensor of its own (rec.param_ref: parameter storage).
  Parameter,
  /// Not executable yet; KernelChoice::reason says why.
  Unsupported,
};

struct KernelChoice {
  KernelKind kind = KernelKind::Unsupported;
  /// The plan::OpCode name ("Matmul") for KernelKind::Kernel.
  std::string opcode;
  std::string reason;
};

/// Decides the realization of `op` (a rec op inside an entry function).
/// `training` is true for entries that train (dropout draws masks).
KernelChoice chooseKernel(mlir::Operation *op, bool training);

/// A kernel attribute in plan form.
using PlanAttrValue = std::variant<int64_t, double, std::vector<int64_t>>;
using PlanAttrs = std::vector<std::pair<std::string, PlanAttrValue>>;

/// The plan attributes of the kernel realizing `op`.
PlanAttrs kernelAttrs(mlir::Operation *op);

/// Floating-point operations of one execution of `op` with every symbolic
/// dimension at its maximum (`maxima`: dim name -> max).
double estimateFlops(mlir::Operation *op,
                     const llvm::StringMap<int64_t> &maxima);

/// Elements of a rec tensor type with symbolic dims at their maxima.
int64_t numElementsAtMax(mlir::Type type,
                         const llvm::StringMap<int64_t> &maxima);

/// The operands of the kernel realizing `op` in plan order, with a null
/// Value where an optional operand (an attention mask, say) is absent.
llvm::SmallVector<mlir::Value> kernelOperands(mlir::Operation *op);

/// The results of the kernel realizing `op` in plan order, with a null Value
/// where an optional result (MoeGrad's dgate_proj) is absent.
llvm::SmallVector<mlir::Value> kernelResults(mlir::Operation *op);

/// True for elementwise kernels whose result may take the bytes of an
/// operand of the same size that dies at the op.
bool mayComputeInPlace(mlir::Operation *op);

} // namespace onerec

#endif // ONEREC_PASSES_LIB_KERNELTABLE_H
