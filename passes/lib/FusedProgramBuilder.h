//===- FusedProgramBuilder.h - rec.fused bodies as plan programs -*- C++
//-*-===//
//
// Turns the body of a rec.fused op into the FusedProgram of its Fused plan
// kernel (plan format 1.2): registers for the body's values, reused once a
// value is dead; broadcasts and casts (f32 and booleans are both f32
// registers) are free.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_PASSES_LIB_FUSEDPROGRAMBUILDER_H
#define ONEREC_PASSES_LIB_FUSEDPROGRAMBUILDER_H

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "plan_generated.h"

namespace onerec {

/// Writes the program of `op` into `fbb`; an error at the op when the body
/// has something the program cannot express.
mlir::FailureOr<flatbuffers::Offset<plan::FusedProgram>>
buildFusedProgram(flatbuffers::FlatBufferBuilder &fbb, rec::FusedOp op);

} // namespace onerec

#endif // ONEREC_PASSES_LIB_FUSEDPROGRAMBUILDER_H
