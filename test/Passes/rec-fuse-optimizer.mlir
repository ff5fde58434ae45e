// RUN: onerec-opt %s --split-input-file --rec-fuse-optimizer | FileCheck %s

!s = !rec.tensor<[], f32>
!i = !rec.tensor<[], i64>
!h = !rec.tensor<[8], f32>
!w = !rec.tensor<[4, 2], f32>
!b = !rec.tensor<[2], f32>

// The AdamW updates of a train_step and the norm they clip by become one
// multi-tensor update that returns the norm; the decay flags become a mask.
// CHECK-LABEL: func.func @adamw
// CHECK-NOT: rec.global_norm
// CHECK-NOT: rec.adamw_update
// CHECK: %[[N:.*]] = rec.multi_adamw_update %arg3, %arg4 params(%[[W:.*]], %[[B:.*]]) grads(%arg0, %arg1) m(%[[WM:.*]], %[[BM:.*]]) v(%[[WV:.*]], %[[BV:.*]]) {decay = array<i64: 1, 0>, decoupled} : !rec.tensor<[], i64>, !rec.tensor<[8], f32>, (!rec.tensor<[4, 2], f32>, !rec.tensor<[2], f32>) -> !rec.tensor<[], f32>
// CHECK-NOT: rec.adamw_update
// CHECK: return %arg2, %[[N]]
module @adamw attributes {rec.model = "adamw"} {
  rec.param @w : !w init <zeros>
  rec.param @b : !b init <zeros> no_decay
  rec.param @w.adam_m : !w init <zeros> no_decay state_of @w
  rec.param @w.adam_v : !w init <zeros> no_decay state_of @w
  rec.param @b.adam_m : !b init <zeros> no_decay state_of @b
  rec.param @b.adam_v : !b init <zeros> no_decay state_of @b
  func.func @adamw(%gw: !w {rec.name = "gw", rec.role = #rec<role input>}, %gb: !b {rec.name = "gb", rec.role = #rec<role input>}, %loss: !s {rec.name = "loss", rec.role = #rec<role input>}, %step: !i {rec.name = "step", rec.role = #rec<role input>}, %hp: !h {rec.name = "hp", rec.role = #rec<role input>}) -> (!s, !s) attributes {rec.entry = #rec<entry train_step>} {
    %n = rec.global_norm %gw, %gb : (!w, !b) -> !s
    %w = rec.param_ref @w : !w
    %wm = rec.param_ref @w.adam_m : !w
    %wv = rec.param_ref @w.adam_v : !w
    rec.adamw_update %w, %gw, %wm, %wv, %step, %hp, %n {decay, decoupled} : !w, !w, !w, !w, !i, !h, !s
    %b = rec.param_ref @b : !b
    %bm = rec.param_ref @b.adam_m : !b
    %bv = rec.param_ref @b.adam_v : !b
    rec.adamw_update %b, %gb, %bm, %bv, %step, %hp, %n {decoupled} : !b, !b, !b, !b, !i, !h, !s
    return %loss, %n : !s, !s
  }
}

// -----

!s = !rec.tensor<[], f32>
!i = !rec.tensor<[], i64>
!h = !rec.tensor<[8], f32>
!w = !rec.tensor<[3], f32>

// SGD updates fuse the same way; ops after the last update (clearing the
// accumulators) stay where they are.
// CHECK-LABEL: func.func @sgd
// CHECK: %[[N:.*]] = rec.multi_sgd_update %arg2, %arg3 params(%{{.*}}, %{{.*}}) grads(%arg0, %arg1) momentum(%{{.*}}, %{{.*}}) {decay = array<i64: 1, 1>}
// CHECK-NEXT: rec.fill
// CHECK-NEXT: return %[[N]]
module @sgd attributes {rec.model = "sgd"} {
  rec.param @u : !w init <zeros>
  rec.param @x : !w init <zeros>
  rec.param @u.momentum : !w init <zeros> no_decay state_of @u
  rec.param @x.momentum : !w init <zeros> no_decay state_of @x
  func.func @sgd(%gu: !w {rec.name = "gu", rec.role = #rec<role input>}, %gx: !w {rec.name = "gx", rec.role = #rec<role input>}, %step: !i {rec.name = "step", rec.role = #rec<role input>}, %hp: !h {rec.name = "hp", rec.role = #rec<role input>}) -> !s attributes {rec.entry = #rec<entry train_step>} {
    %n = rec.global_norm %gu, %gx : (!w, !w) -> !s
    %u = rec.param_ref @u : !w
    %um = rec.param_ref @u.momentum : !w
    rec.sgd_update %u, %gu, %um, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    %x = rec.param_ref @x : !w
    %xm = rec.param_ref @x.momentum : !w
    rec.sgd_update %x, %gx, %xm, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    rec.fill %um {value = 0.0 : f64} : !w
    return %n : !s
  }
}

// -----

!s = !rec.tensor<[], f32>
!i = !rec.tensor<[], i64>
!h = !rec.tensor<[8], f32>
!w = !rec.tensor<[3], f32>

// Near misses, each left as it is: not a train_step; a norm over other
// tensors than the updates' gradients (or in another order); a norm with
// another user; an op between the updates; the same parameter twice.
// CHECK-LABEL: func.func @not_a_step
// CHECK: rec.global_norm
// CHECK-COUNT-2: rec.sgd_update
// CHECK-LABEL: func.func @other_order
// CHECK: rec.global_norm
// CHECK-COUNT-2: rec.sgd_update
// CHECK-LABEL: func.func @norm_used
// CHECK: rec.global_norm
// CHECK-COUNT-2: rec.sgd_update
// CHECK-LABEL: func.func @op_between
// CHECK: rec.global_norm
// CHECK: rec.sgd_update
// CHECK: rec.exp
// CHECK: rec.sgd_update
// CHECK-LABEL: func.func @same_param
// CHECK: rec.global_norm
// CHECK-COUNT-2: rec.sgd_update
// CHECK-NOT: rec.multi_sgd_update
module @near attributes {rec.model = "near"} {
  rec.param @u : !w init <zeros>
  rec.param @x : !w init <zeros>
  rec.param @u.momentum : !w init <zeros> no_decay state_of @u
  rec.param @x.momentum : !w init <zeros> no_decay state_of @x
  func.func @not_a_step(%gu: !w {rec.name = "gu", rec.role = #rec<role input>}, %gx: !w {rec.name = "gx", rec.role = #rec<role input>}, %step: !i {rec.name = "step", rec.role = #rec<role input>}, %hp: !h {rec.name = "hp", rec.role = #rec<role input>}) -> !s attributes {rec.entry = #rec<entry grad>} {
    %n = rec.global_norm %gu, %gx : (!w, !w) -> !s
    %u = rec.param_ref @u : !w
    %um = rec.param_ref @u.momentum : !w
    rec.sgd_update %u, %gu, %um, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    %x = rec.param_ref @x : !w
    %xm = rec.param_ref @x.momentum : !w
    rec.sgd_update %x, %gx, %xm, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    return %n : !s
  }
  func.func @other_order(%gu: !w {rec.name = "gu", rec.role = #rec<role input>}, %gx: !w {rec.name = "gx", rec.role = #rec<role input>}, %step: !i {rec.name = "step", rec.role = #rec<role input>}, %hp: !h {rec.name = "hp", rec.role = #rec<role input>}) -> !s attributes {rec.entry = #rec<entry train_step>} {
    %n = rec.global_norm %gx, %gu : (!w, !w) -> !s
    %u = rec.param_ref @u : !w
    %um = rec.param_ref @u.momentum : !w
    rec.sgd_update %u, %gu, %um, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    %x = rec.param_ref @x : !w
    %xm = rec.param_ref @x.momentum : !w
    rec.sgd_update %x, %gx, %xm, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    return %n : !s
  }
  func.func @norm_used(%gu: !w {rec.name = "gu", rec.role = #rec<role input>}, %gx: !w {rec.name = "gx", rec.role = #rec<role input>}, %step: !i {rec.name = "step", rec.role = #rec<role input>}, %hp: !h {rec.name = "hp", rec.role = #rec<role input>}) -> !s attributes {rec.entry = #rec<entry train_step>} {
    %n = rec.global_norm %gu, %gx : (!w, !w) -> !s
    %u = rec.param_ref @u : !w
    %um = rec.param_ref @u.momentum : !w
    rec.sgd_update %u, %gu, %um, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    %x = rec.param_ref @x : !w
    %xm = rec.param_ref @x.momentum : !w
    rec.sgd_update %x, %gx, %xm, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    %e = rec.exp %n : !s
    return %e : !s
  }
  func.func @op_between(%gu: !w {rec.name = "gu", rec.role = #rec<role input>}, %gx: !w {rec.name = "gx", rec.role = #rec<role input>}, %step: !i {rec.name = "step", rec.role = #rec<role input>}, %hp: !h {rec.name = "hp", rec.role = #rec<role input>}) -> !s attributes {rec.entry = #rec<entry train_step>} {
    %n = rec.global_norm %gu, %gx : (!w, !w) -> !s
    %u = rec.param_ref @u : !w
    %um = rec.param_ref @u.momentum : !w
    rec.sgd_update %u, %gu, %um, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    %x = rec.param_ref @x : !w
    %e = rec.exp %u : !w
    %xm = rec.param_ref @x.momentum : !w
    rec.sgd_update %x, %e, %xm, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    return %n : !s
  }
  func.func @same_param(%gu: !w {rec.name = "gu", rec.role = #rec<role input>}, %gx: !w {rec.name = "gx", rec.role = #rec<role input>}, %step: !i {rec.name = "step", rec.role = #rec<role input>}, %hp: !h {rec.name = "hp", rec.role = #rec<role input>}) -> !s attributes {rec.entry = #rec<entry train_step>} {
    %n = rec.global_norm %gu, %gx : (!w, !w) -> !s
    %u = rec.param_ref @u : !w
    %um = rec.param_ref @u.momentum : !w
    rec.sgd_update %u, %gu, %um, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    %u2 = rec.param_ref @u : !w
    %xm = rec.param_ref @x.momentum : !w
    rec.sgd_update %u2, %gx, %xm, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    return %n : !s
  }
}

// -----

!s = !rec.tensor<[], f32>
!i = !rec.tensor<[], i64>
!h = !rec.tensor<[8], f32>
!w = !rec.tensor<[3], f32>

// More parameters than max-params: left as it is.
// RUN: onerec-opt %s --split-input-file --rec-fuse-optimizer="max-params=1" | FileCheck %s --check-prefix=LIMIT
// LIMIT-LABEL: func.func @limit
// LIMIT: rec.global_norm
// LIMIT-COUNT-2: rec.sgd_update
// CHECK-LABEL: func.func @limit
// CHECK: rec.multi_sgd_update
module @limit attributes {rec.model = "limit"} {
  rec.param @u : !w init <zeros>
  rec.param @x : !w init <zeros>
  rec.param @u.momentum : !w init <zeros> no_decay state_of @u
  rec.param @x.momentum : !w init <zeros> no_decay state_of @x
  func.func @limit(%gu: !w {rec.name = "gu", rec.role = #rec<role input>}, %gx: !w {rec.name = "gx", rec.role = #rec<role input>}, %step: !i {rec.name = "step", rec.role = #rec<role input>}, %hp: !h {rec.name = "hp", rec.role = #rec<role input>}) -> !s attributes {rec.entry = #rec<entry train_step>} {
    %n = rec.global_norm %gu, %gx : (!w, !w) -> !s
    %u = rec.param_ref @u : !w
    %um = rec.param_ref @u.momentum : !w
    rec.sgd_update %u, %gu, %um, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    %x = rec.param_ref @x : !w
    %xm = rec.param_ref @x.momentum : !w
    rec.sgd_update %x, %gx, %xm, %step, %hp, %n {decay} : !w, !w, !w, !i, !h, !s
    return %n : !s
  }
}
