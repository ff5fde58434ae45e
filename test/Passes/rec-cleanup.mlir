// RUN: onerec-opt %s --rec-cleanup | FileCheck %s
// RUN: onerec-opt %s --rec-cleanup="max-rounds=1" | FileCheck %s --check-prefix=ONE

// Folds, shared subexpressions and dead ops all go in one pass.
// CHECK-LABEL: func.func @cleanup
// CHECK-SAME: (%[[X:.*]]: !rec.tensor<[4, 8], f32>)
// CHECK-NEXT: %[[E:.*]] = rec.exp %[[X]]
// CHECK-NEXT: %[[S:.*]] = rec.add %[[E]], %[[E]]
// CHECK-NEXT: return %[[S]]
func.func @cleanup(%x: !rec.tensor<[4, 8], f32>) -> !rec.tensor<[4, 8], f32> {
  %one = rec.constant(1.0) : !rec.tensor<[], f32>
  %m = rec.mul %x, %one : !rec.tensor<[4, 8], f32>, !rec.tensor<[], f32> -> !rec.tensor<[4, 8], f32>
  %0 = rec.exp %m : !rec.tensor<[4, 8], f32>
  %1 = rec.exp %x : !rec.tensor<[4, 8], f32>
  %2 = rec.add %0, %1 : !rec.tensor<[4, 8], f32>, !rec.tensor<[4, 8], f32> -> !rec.tensor<[4, 8], f32>
  %dead = rec.tanh %2 : !rec.tensor<[4, 8], f32>
  return %2 : !rec.tensor<[4, 8], f32>
}

// Dead chains die whole: a value used only by dead ops is dead too.
// CHECK-LABEL: func.func @dead_chain
// CHECK-NEXT: return %arg0
// ONE-LABEL: func.func @dead_chain
// ONE-NEXT: return %arg0
func.func @dead_chain(%x: !rec.tensor<[4], f32>) -> !rec.tensor<[4], f32> {
  %0 = rec.exp %x : !rec.tensor<[4], f32>
  %1 = rec.log %0 : !rec.tensor<[4], f32>
  %2 = rec.neg %1 : !rec.tensor<[4], f32>
  return %x : !rec.tensor<[4], f32>
}

// Ops with effects stay even when nothing reads them.
// CHECK-LABEL: func.func @effects_stay
// CHECK: rec.fill
module @effects attributes {rec.model = "effects"} {
  rec.param @acc : !rec.tensor<[4], f32> init <zeros>
  func.func @effects_stay() {
    %p = rec.param_ref @acc : !rec.tensor<[4], f32>
    rec.fill %p {value = 0.0 : f64} : !rec.tensor<[4], f32>
    return
  }
}
