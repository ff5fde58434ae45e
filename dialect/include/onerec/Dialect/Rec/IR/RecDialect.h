//===- RecDialect.h - the rec dialect -----------------------------*- C++
//-*-===//
#ifndef ONEREC_DIALECT_REC_IR_RECDIALECT_H
#define ONEREC_DIALECT_REC_IR_RECDIALECT_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Dialect.h"

#include "onerec/Dialect/Rec/IR/RecDialect.h.inc"

#endif // ONEREC_DIALECT_REC_IR_RECDIALECT_H
