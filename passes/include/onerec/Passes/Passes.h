//===- Passes.h - onerec compiler passes --------------------------*- C++
//-*-===//
#ifndef ONEREC_PASSES_PASSES_H
#define ONEREC_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"
#include "onerec/Dialect/Rec/IR/Rec.h"

#include <memory>

namespace onerec {

#define GEN_PASS_DECL
#include "onerec/Passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "onerec/Passes/Passes.h.inc"

} // namespace onerec

#endif // ONEREC_PASSES_PASSES_H
