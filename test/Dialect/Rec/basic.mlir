// RUN: onerec-opt %s | FileCheck %s
// RUN: onerec-opt %s | onerec-opt | FileCheck %s
// RUN: onerec-opt %s --mlir-print-op-generic | onerec-opt | FileCheck %s

// Model structure: dims, parameters, an entry with input arguments.

// CHECK-LABEL: module @structure
module @structure attributes {rec.model = "structure"} {
  // CHECK: rec.dim @B max 1024
  rec.dim @B max 1024
  // CHECK: rec.param @table : !rec.tensor<[100, 8], f32> init <normal(0.000000e+00, 2.000000e-02), seed = 3>
  rec.param @table : !rec.tensor<[100, 8], f32> init #rec.init<normal(0.0, 0.02), seed = 3>
  // CHECK: rec.param @gain : !rec.tensor<[8], f32> init <ones> no_decay
  rec.param @gain : !rec.tensor<[8], f32> init #rec.init<ones> no_decay
  // CHECK: rec.param @bias : !rec.tensor<[4], f32> init <zeros> buffer no_decay
  rec.param @bias : !rec.tensor<[4], f32> init #rec.init<zeros> buffer no_decay
  // CHECK: rec.param @u : !rec.tensor<[4], f32> init <uniform(-1.000000e-01, 1.000000e-01), seed = 9>
  rec.param @u : !rec.tensor<[4], f32> init #rec.init<uniform(-0.1, 0.1), seed = 9>
  // CHECK: rec.param @c : !rec.tensor<[4], f32> init <constant(5.000000e-01)>
  rec.param @c : !rec.tensor<[4], f32> init #rec.init<constant(0.5)>

  // CHECK: func.func @forward(%{{.*}}: !rec.tensor<[B, 4], !rec.id<100>> {rec.name = "ids", rec.role = #rec<role input>}) -> !rec.tensor<[B, 4, 8], f32> attributes {rec.entry = #rec<entry def>}
  func.func @forward(%ids: !rec.tensor<[B, 4], !rec.id<100>> {rec.role = #rec<role input>, rec.name = "ids"}) -> !rec.tensor<[B, 4, 8], f32> attributes {rec.entry = #rec<entry def>} {
    // CHECK: rec.param_ref @table : !rec.tensor<[100, 8], f32>
    %t = rec.param_ref @table : !rec.tensor<[100, 8], f32>
    %g = rec.param_ref @gain : !rec.tensor<[8], f32>
    // CHECK: rec.embedding
    %e = rec.embedding %t, %ids : (!rec.tensor<[100, 8], f32>, !rec.tensor<[B, 4], !rec.id<100>>) -> !rec.tensor<[B, 4, 8], f32>
    // CHECK: rec.rms_norm
    %n = rec.rms_norm %e, %g {eps = 1.0e-6} : (!rec.tensor<[B, 4, 8], f32>, !rec.tensor<[8], f32>) -> !rec.tensor<[B, 4, 8], f32>
    return %n : !rec.tensor<[B, 4, 8], f32>
  }

  // CHECK-LABEL: func.func @mean_loss
  func.func @mean_loss(%x: !rec.tensor<[B, 4, 8], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    // CHECK: rec.reduce_mean %{{.*}} {axes = array<i64>}
    %m = rec.reduce_mean %x {axes = array<i64>} : (!rec.tensor<[B, 4, 8], f32>) -> !rec.tensor<[], f32>
    return %m : !rec.tensor<[], f32>
  }

  // CHECK-LABEL: func.func @per_row
  func.func @per_row(%x: !rec.tensor<[B, 4, 8], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> !rec.tensor<[B], f32> attributes {rec.entry = #rec<entry reward>} {
    %m = rec.reduce_sum %x {axes = array<i64: 1, 2>} : (!rec.tensor<[B, 4, 8], f32>) -> !rec.tensor<[B], f32>
    return %m : !rec.tensor<[B], f32>
  }

  // CHECK: rec.train attributes {batch = 32 : i64, grad_clip = 1.000000e+00 : f64} {
  // CHECK-NEXT: rec.optimizer adamw {lr = 1.000000e-03 : f64, weight_decay = 1.000000e-01 : f64}
  // CHECK-NEXT: rec.schedule cosine {total = 100 : i64, warmup = 10 : i64}
  // CHECK-NEXT: rec.stage "pretrain" attributes {steps = 50 : i64} {
  // CHECK-NEXT: rec.minimize [#rec.term<@mean_loss, 1.000000e+00>]
  // CHECK: rec.stage "align" {
  // CHECK-NEXT: rec.dpo reward [#rec.term<@per_row, 1.000000e+00>] {beta = 1.000000e-01 : f64, fraction = 1.000000e-02 : f64, group = 8 : i64, weight = 1.000000e+00 : f64}
  // CHECK-NEXT: rec.ecpo reward [#rec.term<@per_row, 5.000000e-01>] format @per_row {delta = 1.000000e-01 : f64, epsilon = 2.000000e-01 : f64, format_k = 2 : i64, group = 8 : i64}
  rec.train attributes {batch = 32, grad_clip = 1.0} {
    rec.optimizer adamw {lr = 1.0e-3, weight_decay = 0.1}
    rec.schedule cosine {warmup = 10, total = 100}
    rec.stage "pretrain" attributes {steps = 50} {
      rec.minimize [#rec.term<@mean_loss, 1.0>]
    }
    rec.stage "align" {
      rec.dpo reward [#rec.term<@per_row, 1.0>] {beta = 0.1, weight = 1.0, group = 8, fraction = 0.01}
      rec.ecpo reward [#rec.term<@per_row, 0.5>] format @per_row {group = 8, delta = 0.1, epsilon = 0.2, format_k = 2}
    }
  }
}

// Generation over semantic IDs.

// CHECK-LABEL: module @generation
module @generation attributes {rec.model = "generation"} {
  rec.dim @B max 8
  func.func @enc(%x: !rec.tensor<[B, 4], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> !rec.tensor<[B, 4], f32> attributes {rec.entry = #rec<entry def>} {
    return %x : !rec.tensor<[B, 4], f32>
  }
  func.func @dec(%l: !rec.tensor<[B, 5, 3, 16], f32> {rec.role = #rec<role argument>, rec.name = "l"}) -> !rec.tensor<[B, 5, 3, 16], f32> attributes {rec.entry = #rec<entry def>} {
    return %l : !rec.tensor<[B, 5, 3, 16], f32>
  }
  // CHECK: rec.generate @sessions : !rec.tensor<[B, 5, 3], !rec.sid<16>> = beam(@enc, @dec) {constrain = #rec<constraint catalog>, items = 5 : i64, width = 8 : i64}
  rec.generate @sessions : !rec.tensor<[B, 5, 3], !rec.sid<16>> = beam(@enc, @dec) {constrain = #rec<constraint catalog>, items = 5, width = 8}
}
