//===- EntryCost.h - the work of one call of a lowered entry ------*- C++
//-*-===//
#ifndef ONEREC_PASSES_ENTRYCOST_H
#define ONEREC_PASSES_ENTRYCOST_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cstdint>

namespace onerec {

/// What one call of an entry does, with every symbolic dim at its maximum.
struct EntryCost {
  /// Kernels launched (views and parameter reads launch none).
  int64_t kernels = 0;
  /// Floating-point operations of those kernels (as the plan records).
  double flops = 0;
  /// Bytes the kernels read and write: each operand and result once.
  double bytes = 0;
};

/// The cost of entry `func` after rec-select-kernels (ops carry
/// `rec.kernel`); dims are at the maxima the module's rec.dim ops declare.
EntryCost estimateEntryCost(mlir::func::FuncOp func);

} // namespace onerec

#endif // ONEREC_PASSES_ENTRYCOST_H
