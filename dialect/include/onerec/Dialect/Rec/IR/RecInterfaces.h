//===- RecInterfaces.h - rec dialect op interfaces ----------------*- C++
//-*-===//
#ifndef ONEREC_DIALECT_REC_IR_RECINTERFACES_H
#define ONEREC_DIALECT_REC_IR_RECINTERFACES_H

#include "mlir/IR/OpDefinition.h"

namespace onerec::rec::detail {
/// Verifies that an op's result types are the ones its shape rule infers.
mlir::LogicalResult verifyInferredResultTypes(mlir::Operation *op);
} // namespace onerec::rec::detail

#include "onerec/Dialect/Rec/IR/RecInterfaces.h.inc"

#endif // ONEREC_DIALECT_REC_IR_RECINTERFACES_H
