//===- Rec.h - everything a user of the rec dialect includes ------*- C++
//-*-===//
#ifndef ONEREC_DIALECT_REC_IR_REC_H
#define ONEREC_DIALECT_REC_IR_REC_H

#include "onerec/Dialect/Rec/IR/RecAttrs.h"
#include "onerec/Dialect/Rec/IR/RecDialect.h"
#include "onerec/Dialect/Rec/IR/RecInterfaces.h"
#include "onerec/Dialect/Rec/IR/RecOps.h"
#include "onerec/Dialect/Rec/IR/RecTypes.h"

#endif // ONEREC_DIALECT_REC_IR_REC_H
