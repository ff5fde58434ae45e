//===- RecInterfaces.td - rec dialect interfaces -----------*- tablegen -*-===//
#ifndef ONEREC_DIALECT_REC_IR_RECINTERFACES_TD
#define ONEREC_DIALECT_REC_IR_RECINTERFACES_TD

include "mlir/IR/OpBase.td"

def Rec_ShapeInferenceOpInterface : OpInterface<"ShapeInferenceOpInterface"> {
  let cppNamespace = "::onerec::rec";
  let description = [{
    Ops whose result types follow from their operand types and attributes.

    `inferResultTypes` is the one place an op's shape rule lives. The frontend
    calls it while building IR (so a shape error in a `.rdsl` program is
    reported at the source line that caused it), the `rec-infer-shapes` pass
    calls it to refresh types after operand types change, and the verifier
    calls it to check that the stored result types are the inferred ones.
    On invalid operands it emits an error on the op and fails.
  }];
  let methods = [
    InterfaceMethod<[{
        Computes the result types from the current operand types and
        attributes. Emits an error on the op and returns failure when the
        operands are not valid for this op.
      }],
      "::mlir::LogicalResult", "inferResultTypes",
      (ins "::llvm::SmallVectorImpl<::mlir::Type> &":$results)>,
  ];
  let verify = [{
    return ::onerec::rec::detail::verifyInferredResultTypes($_op);
  }];
}

#endif // ONEREC_DIALECT_REC_IR_RECINTERFACES_TD
