// RUN: onerec-opt %s --split-input-file --verify-diagnostics --rec-autodiff --canonicalize | FileCheck %s

// A two-layer scorer trained with BCE. train_grad returns the loss and one
// gradient per trainable parameter in declaration order; the buffer `r` and
// the unreached `unused` get none. Backward ops follow the forward ones:
// BCE's backward kernel, the product rule with the broadcast reduced back to
// v's shape, relu's mask, and the weight gradient as x^T dy.
// CHECK-LABEL: module @mlp
// CHECK-DAG: rec.param @w.adam_m : !rec.tensor<[4, 2], f32> init <zeros> no_decay state_of @w
// CHECK-DAG: rec.param @w.adam_v : !rec.tensor<[4, 2], f32> init <zeros> no_decay state_of @w
// CHECK-DAG: rec.param @v.adam_m : !rec.tensor<[2], f32> init <zeros> no_decay state_of @v
// CHECK-NOT: rec.param @r.adam_m
// CHECK-NOT: rec.param @unused.adam_m
// CHECK-LABEL: func.func @train_grad
// CHECK-SAME: rec.name = "x"
// CHECK-SAME: -> (!rec.tensor<[], f32> {rec.name = "loss"}, !rec.tensor<[4, 2], f32> {rec.name = "grad.w"}, !rec.tensor<[2], f32> {rec.name = "grad.v"})
// CHECK-SAME: rec.entry = #rec<entry grad>
// CHECK: %[[ONE:.*]] = rec.constant(1.000000e+00) : !rec.tensor<[], f32>
// CHECK: %[[LOSS:.*]] = rec.bce_with_logits %[[LOGIT:[0-9]+]], %arg1
// CHECK: rec.bce_with_logits_grad %[[LOGIT]], %arg1, %[[ONE]]
// CHECK: %[[ROWS:.*]] = rec.broadcast
// CHECK: %[[DV:.*]] = rec.reduce_sum {{.*}}axes = array<i64: 0>{{.*}} -> !rec.tensor<[2], f32>
// CHECK: rec.cmp gt
// CHECK: %[[DH:.*]] = rec.select
// CHECK: %[[DW:.*]] = rec.matmul %arg0, %[[DH]] {transpose_a}
// CHECK: return %[[LOSS]], %[[DW]], %[[DV]]
//
// train_step: the same, then the global norm over every gradient and one
// AdamW update per parameter (decay from no_decay, decoupled for adamw).
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: rec.name = "optimizer.step", rec.role = #rec<role control>
// CHECK-SAME: rec.name = "optimizer.hparams", rec.role = #rec<role control>
// CHECK-SAME: {rec.name = "loss"}, !rec.tensor<[], f32> {rec.name = "grad_norm"})
// CHECK-SAME: rec.entry = #rec<entry train_step>
// CHECK: %[[NORM:.*]] = rec.global_norm %{{.*}}, %{{.*}} : (!rec.tensor<[4, 2], f32>, !rec.tensor<[2], f32>) -> !rec.tensor<[], f32>
// CHECK: rec.adamw_update %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %arg2, %arg3, %[[NORM]] {decay, decoupled}
// CHECK: rec.adamw_update %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %arg2, %arg3, %[[NORM]] {decoupled}
// CHECK: return %{{.*}}, %[[NORM]]
// CHECK-NOT: func.func @train_accumulate
module @mlp attributes {rec.model = "mlp"} {
  rec.dim @B max 8
  rec.param @w : !rec.tensor<[4, 2], f32> init <zeros>
  rec.param @v : !rec.tensor<[2], f32> init <ones> no_decay
  rec.param @r : !rec.tensor<[2], f32> init <zeros> buffer
  rec.param @unused : !rec.tensor<[2], f32> init <zeros>
  func.func @l(%x: !rec.tensor<[B, 4], f32> {rec.name = "x", rec.role = #rec<role input>}, %y: !rec.tensor<[B], f32> {rec.name = "y", rec.role = #rec<role target>}) -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %w = rec.param_ref @w : !rec.tensor<[4, 2], f32>
    %v = rec.param_ref @v : !rec.tensor<[2], f32>
    %r = rec.param_ref @r : !rec.tensor<[2], f32>
    %0 = rec.matmul %x, %w : (!rec.tensor<[B, 4], f32>, !rec.tensor<[4, 2], f32>) -> !rec.tensor<[B, 2], f32>
    %1 = rec.add %0, %r : !rec.tensor<[B, 2], f32>, !rec.tensor<[2], f32> -> !rec.tensor<[B, 2], f32>
    %2 = rec.relu %1 : !rec.tensor<[B, 2], f32>
    %3 = rec.mul %2, %v : !rec.tensor<[B, 2], f32>, !rec.tensor<[2], f32> -> !rec.tensor<[B, 2], f32>
    %4 = rec.reduce_sum %3 {axes = array<i64: 1>} : (!rec.tensor<[B, 2], f32>) -> !rec.tensor<[B], f32>
    %5 = rec.bce_with_logits %4, %y {reduction = #rec<reduction mean>} : (!rec.tensor<[B], f32>, !rec.tensor<[B], f32>) -> !rec.tensor<[], f32>
    return %5 : !rec.tensor<[], f32>
  }
  rec.train {
    rec.optimizer adamw {lr = 1.0e-03 : f64, weight_decay = 1.0e-01 : f64}
    rec.stage "main" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

// Two weighted terms are inlined into one objective: 0.5 * a + b. With
// accumulate = 4, train_accumulate adds gradients into accumulators that
// train_step adds, uses and clears; SGD keeps a momentum buffer. A later
// stage's entries carry its name.
// CHECK-LABEL: module @terms
// CHECK-DAG: rec.param @w.grad_acc : !rec.tensor<[3], f32> init <zeros> no_decay state_of @w
// CHECK-DAG: rec.param @w.momentum : !rec.tensor<[3], f32> init <zeros> no_decay state_of @w
// CHECK-LABEL: func.func @train_grad
// CHECK: %[[HALF:.*]] = rec.constant(5.000000e-01) : !rec.tensor<[], f32>
// CHECK: %[[A:.*]] = rec.mul %{{.*}}, %[[HALF]] : !rec.tensor<[], f32>
// CHECK: rec.add %[[A]], %{{.*}}
// CHECK-LABEL: func.func @train_step
// CHECK: %[[ACC:.*]] = rec.param_ref @w.grad_acc
// CHECK: %[[TOTAL:.*]] = rec.add %{{.*}}, %[[ACC]]
// CHECK: rec.global_norm %[[TOTAL]]
// CHECK: rec.sgd_update %{{.*}}, %[[TOTAL]], %{{.*}}, %arg1, %arg2, %{{.*}} {decay}
// CHECK: rec.fill %[[ACC]] {value = 0.000000e+00 : f64}
// CHECK-LABEL: func.func @train_accumulate
// CHECK-SAME: -> (!rec.tensor<[], f32> {rec.name = "loss"})
// CHECK: rec.assign_add %{{.*}}, %{{.*}} : !rec.tensor<[3], f32>, !rec.tensor<[3], f32>
// CHECK-LABEL: func.func @finetune.train_grad
// CHECK-LABEL: func.func @finetune.train_step
module @terms attributes {rec.model = "terms"} {
  rec.param @w : !rec.tensor<[3], f32> init <ones>
  func.func @a(%x: !rec.tensor<[3], f32> {rec.name = "x", rec.role = #rec<role input>}) -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %w = rec.param_ref @w : !rec.tensor<[3], f32>
    %0 = rec.mul %x, %w : !rec.tensor<[3], f32>, !rec.tensor<[3], f32> -> !rec.tensor<[3], f32>
    %1 = rec.reduce_sum %0 {axes = array<i64>} : (!rec.tensor<[3], f32>) -> !rec.tensor<[], f32>
    return %1 : !rec.tensor<[], f32>
  }
  func.func @b(%x: !rec.tensor<[3], f32> {rec.name = "x", rec.role = #rec<role input>}) -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %w = rec.param_ref @w : !rec.tensor<[3], f32>
    %0 = rec.exp %w : !rec.tensor<[3], f32>
    %1 = rec.reduce_mean %0 {axes = array<i64>} : (!rec.tensor<[3], f32>) -> !rec.tensor<[], f32>
    return %1 : !rec.tensor<[], f32>
  }
  rec.train attributes {accumulate = 4 : i64} {
    rec.optimizer sgd {lr = 1.0e-01 : f64, momentum = 9.0e-01 : f64}
    rec.stage "pretrain" {
      rec.minimize [#rec.term<@a, 0.5>, #rec.term<@b, 1.0>]
    }
    rec.stage "finetune" {
      rec.minimize [#rec.term<@b, 1.0>]
    }
  }
}

// -----

// An op without a gradient rule on the path from a parameter to the loss is
// an error at that op.
module @norule attributes {rec.model = "norule"} {
  rec.param @w : !rec.tensor<[4], f32> init <ones>
  func.func @l(%x: !rec.tensor<[4], f32> {rec.name = "x", rec.role = #rec<role input>}) -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %w = rec.param_ref @w : !rec.tensor<[4], f32>
    %0 = rec.mul %x, %w : !rec.tensor<[4], f32>, !rec.tensor<[4], f32> -> !rec.tensor<[4], f32>
    // expected-error @+1 {{'rec.topk' op has no gradient rule, and the objective's gradient flows through it}}
    %v, %i = rec.topk %0 {k = 2 : i64} : (!rec.tensor<[4], f32>) -> (!rec.tensor<[2], f32>, !rec.tensor<[2], i64>)
    %1 = rec.reduce_sum %v {axes = array<i64>} : (!rec.tensor<[2], f32>) -> !rec.tensor<[], f32>
    return %1 : !rec.tensor<[], f32>
  }
  rec.train {
    rec.optimizer adam {lr = 1.0e-03 : f64}
    rec.stage "main" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

// A loss that no trainable parameter reaches cannot be minimized.
module @constant attributes {rec.model = "constant"} {
  rec.param @r : !rec.tensor<[4], f32> init <ones> buffer
  func.func @l(%x: !rec.tensor<[4], f32> {rec.name = "x", rec.role = #rec<role input>}) -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %r = rec.param_ref @r : !rec.tensor<[4], f32>
    %0 = rec.mul %x, %r : !rec.tensor<[4], f32>, !rec.tensor<[4], f32> -> !rec.tensor<[4], f32>
    %1 = rec.reduce_sum %0 {axes = array<i64>} : (!rec.tensor<[4], f32>) -> !rec.tensor<[], f32>
    return %1 : !rec.tensor<[], f32>
  }
  rec.train {
    rec.optimizer adam {lr = 1.0e-03 : f64}
    rec.stage "main" {
      // expected-error @below {{the stage objective depends on no trainable parameter}}
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

// A model parameter named like a parameter's optimizer state is refused.
module @collide attributes {rec.model = "collide"} {
  rec.param @w : !rec.tensor<[4], f32> init <ones>
  // expected-error @below {{'rec.param' op is named like the optimizer state of 'w'; rename the parameter}}
  rec.param @w.adam_m : !rec.tensor<[4], f32> init <zeros>
  func.func @l(%x: !rec.tensor<[4], f32> {rec.name = "x", rec.role = #rec<role input>}) -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %w = rec.param_ref @w : !rec.tensor<[4], f32>
    %0 = rec.mul %x, %w : !rec.tensor<[4], f32>, !rec.tensor<[4], f32> -> !rec.tensor<[4], f32>
    %1 = rec.reduce_sum %0 {axes = array<i64>} : (!rec.tensor<[4], f32>) -> !rec.tensor<[], f32>
    return %1 : !rec.tensor<[], f32>
  }
  rec.train {
    rec.optimizer adam {lr = 1.0e-03 : f64}
    rec.stage "main" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

// pow's base gradient is r·l^(r-1) (finite at l = 0) and its exponent
// gradient is masked where l <= 0; a maximum's gradient is shared by its
// ties (divided by their count). Stage entries are recorded on the stage:
// an alignment stage listed first gets none, the minimize stage after it
// the unprefixed entries.
// CHECK-LABEL: module @rules
// CHECK: rec.stage "align" {
// CHECK: rec.stage "fit" attributes {rec.train_entry = "train_step"}
// CHECK-LABEL: func.func @train_grad
// CHECK: %[[W:.*]] = rec.param_ref @w :
// CHECK: %[[E:.*]] = rec.param_ref @e :
// CHECK: %[[P:.*]] = rec.pow %[[W]], %[[E]] :
// CHECK: %[[M:.*]] = rec.reduce_max %[[P]]
// CHECK: %[[HIT:.*]] = rec.cmp eq, %[[P]]
// CHECK: %[[ONES:.*]] = rec.cast %[[HIT]] : !rec.tensor<[4], i1> -> !rec.tensor<[4], f32>
// CHECK: %[[TIES:.*]] = rec.reduce_sum %[[ONES]]
// CHECK: rec.div %{{.*}}, %[[TIES]]
// CHECK-DAG: rec.sub %[[E]], %{{.*}}
// CHECK-DAG: rec.cmp gt, %[[W]]
// CHECK-DAG: rec.log
// CHECK: return
module @rules attributes {rec.model = "rules"} {
  rec.param @w : !rec.tensor<[4], f32> init <zeros>
  rec.param @e : !rec.tensor<[4], f32> init <ones>
  func.func @l(%x: !rec.tensor<[4], f32> {rec.name = "x", rec.role = #rec<role input>}) -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %w = rec.param_ref @w : !rec.tensor<[4], f32>
    %e = rec.param_ref @e : !rec.tensor<[4], f32>
    %0 = rec.pow %w, %e : !rec.tensor<[4], f32>, !rec.tensor<[4], f32> -> !rec.tensor<[4], f32>
    %1 = rec.reduce_max %0 {axes = array<i64>} : (!rec.tensor<[4], f32>) -> !rec.tensor<[], f32>
    return %1 : !rec.tensor<[], f32>
  }
  func.func @r(%x: !rec.tensor<[4], f32> {rec.name = "x", rec.role = #rec<role input>}) -> !rec.tensor<[4], f32> attributes {rec.entry = #rec<entry reward>} {
    return %x : !rec.tensor<[4], f32>
  }
  rec.train {
    rec.optimizer adam {lr = 1.0e-03 : f64}
    rec.stage "align" {
      rec.dpo reward [#rec.term<@r, 1.0>] {beta = 0.1 : f64, fraction = 0.01 : f64, group = 4 : i64, weight = 1.0 : f64}
    }
    rec.stage "fit" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}
