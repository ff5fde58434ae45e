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

def Rec_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::onerec::rec";
  let description = [{
    Ops with a reverse-mode gradient rule. `rec-autodiff` walks an objective
    backwards and asks each op on the path from a parameter to the loss for
    the gradients of its operands, given the gradients of its results.

    Operands that carry no gradient (ids, masks, integers) get a null value
    explicitly. A rule is called only when at least one result has a
    gradient (so a single-result op always gets one); a result of a
    multi-result op that nothing downstream differentiates has a null entry
    in `resultGrads`, which the rule treats as zero. The
    gradient of an operand has the operand's type; rules reduce broadcast
    gradients back to the operand's shape themselves.
  }];
  let methods = [
    InterfaceMethod<[{
        Builds, at `builder`'s insertion point, the gradients of the operands
        from `resultGrads` (one per result, null = zero). Appends one value
        per operand to `operandGrads` (null = no gradient). Emits an error
        on the op and fails for a combination it cannot differentiate.
      }],
      "::mlir::LogicalResult", "buildGradients",
      (ins "::mlir::OpBuilder &":$builder,
           "::llvm::ArrayRef<::mlir::Value>":$resultGrads,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
  ];
}

#endif // ONEREC_DIALECT_REC_IR_RECINTERFACES_TD
