//===- RecOps.h - rec dialect operations --------------------------*- C++
//-*-===//
#ifndef ONEREC_DIALECT_REC_IR_RECOPS_H
#define ONEREC_DIALECT_REC_IR_RECOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "onerec/Dialect/Rec/IR/RecAttrs.h"
#include "onerec/Dialect/Rec/IR/RecDialect.h"
#include "onerec/Dialect/Rec/IR/RecInterfaces.h"
#include "onerec/Dialect/Rec/IR/RecTypes.h"

namespace onerec::rec {
/// Shared shape rules of op classes (RecOps.td's Rec_UnaryOp, Rec_BinaryOp,
/// Rec_ReduceOp).
mlir::LogicalResult inferUnaryTypes(mlir::Operation *op,
                                    llvm::SmallVectorImpl<mlir::Type> &results);
mlir::LogicalResult
inferArithmeticTypes(mlir::Operation *op,
                     llvm::SmallVectorImpl<mlir::Type> &results);
mlir::LogicalResult
inferReductionTypes(mlir::Operation *op, llvm::ArrayRef<int64_t> axes,
                    bool keepdim, llvm::SmallVectorImpl<mlir::Type> &results);

/// How a value of a `rec.fused` body maps onto the group's rows x cols
/// iteration domain (RecOps.td, rec.fused).
enum class FusedValueKind { full, row, column, scalar };
} // namespace onerec::rec

#define GET_OP_CLASSES
#include "onerec/Dialect/Rec/IR/RecOps.h.inc"

#endif // ONEREC_DIALECT_REC_IR_RECOPS_H
