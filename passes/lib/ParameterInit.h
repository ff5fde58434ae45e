//===- ParameterInit.h - initial values of model parameters ------*- C++
//-*-===//
//
// Draws a parameter's initial values from its #rec.init attribute with the
// counter-based Philox generator: element i of a parameter depends only on
// (seed, i), so weights are reproducible and independent of the order in
// which parameters are created or initialized.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_PASSES_LIB_PARAMETERINIT_H
#define ONEREC_PASSES_LIB_PARAMETERINIT_H

#include "onerec/Dialect/Rec/IR/Rec.h"

#include <cstdint>

namespace onerec {

/// Writes `count` f32 initial values for a parameter of `shape` into `out`.
void initializeParameter(rec::InitAttr init, llvm::ArrayRef<int64_t> shape,
                         float *out, int64_t count);

} // namespace onerec

#endif // ONEREC_PASSES_LIB_PARAMETERINIT_H
