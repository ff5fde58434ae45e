// RUN: onerec-opt %s --split-input-file --canonicalize | FileCheck %s

// CHECK-LABEL: func.func @identities
// CHECK-SAME: (%[[X:.*]]: !rec.tensor<[B, 4], f32>)
// CHECK-NEXT: return %[[X]], %[[X]], %[[X]], %[[X]]
func.func @identities(%x: !rec.tensor<[B, 4], f32>) -> (!rec.tensor<[B, 4], f32>, !rec.tensor<[B, 4], f32>, !rec.tensor<[B, 4], f32>, !rec.tensor<[B, 4], f32>) {
  %zero = rec.constant(0.0) : !rec.tensor<[], f32>
  %one = rec.constant(1.0) : !rec.tensor<[], f32>
  %0 = rec.add %x, %zero : !rec.tensor<[B, 4], f32>, !rec.tensor<[], f32> -> !rec.tensor<[B, 4], f32>
  %1 = rec.mul %one, %x : !rec.tensor<[], f32>, !rec.tensor<[B, 4], f32> -> !rec.tensor<[B, 4], f32>
  %2 = rec.div %x, %one : !rec.tensor<[B, 4], f32>, !rec.tensor<[], f32> -> !rec.tensor<[B, 4], f32>
  %n = rec.neg %x : !rec.tensor<[B, 4], f32>
  %3 = rec.neg %n : !rec.tensor<[B, 4], f32>
  return %0, %1, %2, %3 : !rec.tensor<[B, 4], f32>, !rec.tensor<[B, 4], f32>, !rec.tensor<[B, 4], f32>, !rec.tensor<[B, 4], f32>
}

// -----

// Adding zero that broadcasts x to a larger shape is not an identity.
// CHECK-LABEL: func.func @broadcasting_zero
// CHECK: rec.add
func.func @broadcasting_zero(%x: !rec.tensor<[4], f32>) -> !rec.tensor<[B, 4], f32> {
  %zero = rec.constant(0.0) : !rec.tensor<[B, 1], f32>
  %0 = rec.add %x, %zero : !rec.tensor<[4], f32>, !rec.tensor<[B, 1], f32> -> !rec.tensor<[B, 4], f32>
  return %0 : !rec.tensor<[B, 4], f32>
}

// -----

// Constants fold through the element type: 0.1 + 0.2 rounded to f32.
// CHECK-LABEL: func.func @constant_folding
// CHECK-NEXT: %[[C:.*]] = rec.constant(0.30000001192092896) : !rec.tensor<[], f32>
// CHECK-NEXT: %[[D:.*]] = rec.constant(-6.000000e+00) : !rec.tensor<[], f32>
// CHECK-NEXT: return %[[C]], %[[D]]
func.func @constant_folding() -> (!rec.tensor<[], f32>, !rec.tensor<[], f32>) {
  %a = rec.constant(0.1) : !rec.tensor<[], f32>
  %b = rec.constant(0.2) : !rec.tensor<[], f32>
  %c = rec.add %a, %b : !rec.tensor<[], f32>, !rec.tensor<[], f32> -> !rec.tensor<[], f32>
  %three = rec.constant(3.0) : !rec.tensor<[], f32>
  %two = rec.constant(2.0) : !rec.tensor<[], f32>
  %m = rec.mul %three, %two : !rec.tensor<[], f32>, !rec.tensor<[], f32> -> !rec.tensor<[], f32>
  %d = rec.neg %m : !rec.tensor<[], f32>
  return %c, %d : !rec.tensor<[], f32>, !rec.tensor<[], f32>
}

// -----

// CHECK-LABEL: func.func @reshapes
// CHECK-SAME: (%[[X:.*]]: !rec.tensor<[B, 4, 6], f32>)
// CHECK-NEXT: %[[R:.*]] = rec.reshape %[[X]] : !rec.tensor<[B, 4, 6], f32> -> !rec.tensor<[B, 24], f32>
// CHECK-NEXT: return %[[R]], %[[X]]
func.func @reshapes(%x: !rec.tensor<[B, 4, 6], f32>) -> (!rec.tensor<[B, 24], f32>, !rec.tensor<[B, 4, 6], f32>) {
  %0 = rec.reshape %x : !rec.tensor<[B, 4, 6], f32> -> !rec.tensor<[B, 2, 12], f32>
  %1 = rec.reshape %0 : !rec.tensor<[B, 2, 12], f32> -> !rec.tensor<[B, 24], f32>
  %2 = rec.reshape %x : !rec.tensor<[B, 4, 6], f32> -> !rec.tensor<[B, 4, 6], f32>
  return %1, %2 : !rec.tensor<[B, 24], f32>, !rec.tensor<[B, 4, 6], f32>
}

// -----

// CHECK-LABEL: func.func @transposes
// CHECK-SAME: (%[[X:.*]]: !rec.tensor<[2, 3, 4], f32>)
// CHECK-NEXT: %[[T:.*]] = rec.transpose %[[X]] {permutation = array<i64: 2, 0, 1>}
// CHECK-NEXT: return %[[T]], %[[X]]
func.func @transposes(%x: !rec.tensor<[2, 3, 4], f32>) -> (!rec.tensor<[4, 2, 3], f32>, !rec.tensor<[2, 3, 4], f32>) {
  %0 = rec.transpose %x {permutation = array<i64: 1, 0, 2>} : (!rec.tensor<[2, 3, 4], f32>) -> !rec.tensor<[3, 2, 4], f32>
  %1 = rec.transpose %0 {permutation = array<i64: 2, 1, 0>} : (!rec.tensor<[3, 2, 4], f32>) -> !rec.tensor<[4, 2, 3], f32>
  %2 = rec.transpose %x {permutation = array<i64: 0, 1, 2>} : (!rec.tensor<[2, 3, 4], f32>) -> !rec.tensor<[2, 3, 4], f32>
  return %1, %2 : !rec.tensor<[4, 2, 3], f32>, !rec.tensor<[2, 3, 4], f32>
}

// -----

// A splat stays a splat under broadcast and reshape.
// CHECK-LABEL: func.func @splats
// CHECK-NEXT: %[[C:.*]] = rec.constant(1.000000e+00) : !rec.tensor<[B, 4, 2], f32>
// CHECK-NEXT: return %[[C]]
func.func @splats() -> !rec.tensor<[B, 4, 2], f32> {
  %c = rec.constant(1.0) : !rec.tensor<[], f32>
  %b = rec.broadcast %c : !rec.tensor<[], f32> -> !rec.tensor<[B, 8], f32>
  %r = rec.reshape %b : !rec.tensor<[B, 8], f32> -> !rec.tensor<[B, 4, 2], f32>
  return %r : !rec.tensor<[B, 4, 2], f32>
}

// -----

// CHECK-LABEL: func.func @trivial_shape_ops
// CHECK-SAME: (%[[X:.*]]: !rec.tensor<[4, 6], f32>, %[[M:.*]]: !rec.tensor<[4], i1>)
// CHECK-NEXT: %[[F:.*]] = rec.cast %[[M]]
// CHECK-NEXT: return %[[X]], %[[X]], %[[M]], %[[F]]
func.func @trivial_shape_ops(%x: !rec.tensor<[4, 6], f32>, %m: !rec.tensor<[4], i1>) -> (!rec.tensor<[4, 6], f32>, !rec.tensor<[4, 6], f32>, !rec.tensor<[4], i1>, !rec.tensor<[4], f32>) {
  %0 = rec.concat %x {axis = 0 : i64} : (!rec.tensor<[4, 6], f32>) -> !rec.tensor<[4, 6], f32>
  %1 = rec.slice %x {axis = 1 : i64, start = 0 : i64, end = 6 : i64} : (!rec.tensor<[4, 6], f32>) -> !rec.tensor<[4, 6], f32>
  %2 = rec.cast %m : !rec.tensor<[4], i1> -> !rec.tensor<[4], i1>
  %3 = rec.cast %m : !rec.tensor<[4], i1> -> !rec.tensor<[4], f32>
  return %0, %1, %2, %3 : !rec.tensor<[4, 6], f32>, !rec.tensor<[4, 6], f32>, !rec.tensor<[4], i1>, !rec.tensor<[4], f32>
}
