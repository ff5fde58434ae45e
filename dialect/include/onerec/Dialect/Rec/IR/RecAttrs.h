//===- RecAttrs.h - rec dialect attributes ------------------------*- C++
//-*-===//
#ifndef ONEREC_DIALECT_REC_IR_RECATTRS_H
#define ONEREC_DIALECT_REC_IR_RECATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"

#include "onerec/Dialect/Rec/IR/RecEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "onerec/Dialect/Rec/IR/RecAttrs.h.inc"

#endif // ONEREC_DIALECT_REC_IR_RECATTRS_H
