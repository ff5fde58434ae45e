// RUN: onerec-opt %s --split-input-file --verify-diagnostics --rec-bind-dims="dims=B=32,W=4" | FileCheck %s
// RUN: not onerec-opt %s --split-input-file --rec-bind-dims="dims=B" 2>&1 | FileCheck %s --check-prefix=NOSIZE
// RUN: not onerec-opt %s --split-input-file --rec-bind-dims="dims=W=0" 2>&1 | FileCheck %s --check-prefix=ZERO
// RUN: not onerec-opt %s --split-input-file --rec-bind-dims="dims==4" 2>&1 | FileCheck %s --check-prefix=NONAME

// A binding that is not NAME=SIZE with a positive size fails the pass.
// NOSIZE: error: rec-bind-dims: expected NAME=SIZE with a positive size, got 'B'
// ZERO: error: rec-bind-dims: expected NAME=SIZE with a positive size, got 'W=0'
// NONAME: error: rec-bind-dims: expected NAME=SIZE with a positive size, got '=4'

// CHECK-LABEL: module @bind
// CHECK-NOT: rec.dim @B
// CHECK-NOT: rec.dim @W
// CHECK: rec.dim @L max 64
// CHECK: func.func @f(%{{.*}}: !rec.tensor<[32, 4, L], f32> {rec.name = "x", rec.role = #rec<role input>}) -> !rec.tensor<[32, 4, L], f32>
// CHECK: rec.exp %{{.*}} : !rec.tensor<[32, 4, L], f32>
// CHECK: rec.generate @s : !rec.tensor<[32, 2, 3], !rec.sid<8>>
module @bind attributes {rec.model = "bind"} {
  rec.dim @B max 64
  rec.dim @W max 8
  rec.dim @L max 64
  func.func @f(%x: !rec.tensor<[B, W, L], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> !rec.tensor<[B, W, L], f32> attributes {rec.entry = #rec<entry def>} {
    %0 = rec.exp %x : !rec.tensor<[B, W, L], f32>
    return %0 : !rec.tensor<[B, W, L], f32>
  }
  func.func @d(%l: !rec.tensor<[B, 2, 3, 8], f32> {rec.role = #rec<role argument>, rec.name = "l"}) -> !rec.tensor<[B, 2, 3, 8], f32> attributes {rec.entry = #rec<entry def>} {
    return %l : !rec.tensor<[B, 2, 3, 8], f32>
  }
  rec.generate @s : !rec.tensor<[B, 2, 3], !rec.sid<8>> = beam(@f, @d) {constrain = #rec<constraint catalog>, items = 2, width = 4}
}

// -----

module attributes {rec.model = "over"} {
  // expected-error @+1 {{dimension 'B' bound to 32, above its declared maximum 16}}
  rec.dim @B max 16
}
