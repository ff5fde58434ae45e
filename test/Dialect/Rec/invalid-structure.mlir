// RUN: onerec-opt %s --split-input-file --verify-diagnostics

// Verifiers of the model structure (params, generation, training), constants
// and casts, the discardable rec.* attributes, types and initializers.

//===----------------------------------------------------------------------===//
// Initializers
//===----------------------------------------------------------------------===//

// expected-error @+1 {{uniform initializer needs low < high, got [1, 0.5)}}
rec.param @p : !rec.tensor<[4], f32> init #rec.init<uniform(1.0, 0.5), seed = 1>

// -----

// expected-error @+1 {{xavier_uniform initializer needs a positive gain, got 0}}
rec.param @p : !rec.tensor<[4], f32> init #rec.init<xavier_uniform(0.0), seed = 1>

// -----

// expected-error @+1 {{unknown initializer 'gaussian'}}
rec.param @p : !rec.tensor<[4], f32> init #rec.init<gaussian(0.0, 1.0)>

// -----

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

// expected-error @+1 {{id vocabulary must be >= 0 (0 = unbounded), got -1}}
func.func @negative_vocab(%x: !rec.tensor<[4], !rec.id<-1>>)

// -----

//===----------------------------------------------------------------------===//
// Discardable attributes: rec.model, rec.entry, rec.role, rec.name (and no others)
//===----------------------------------------------------------------------===//

// expected-error @+1 {{'rec.model' is a string attribute of a module}}
module attributes {rec.model = 1 : i64} {
}

// -----

// expected-error @+1 {{'rec.model' is a string attribute of a module}}
func.func @model_on_func() attributes {rec.model = "m"} {
  return
}

// -----

// expected-error @+1 {{unknown rec attribute 'rec.source'}}
module attributes {rec.source = "m.rdsl"} {
}

// -----

// expected-error @+1 {{'rec.entry' is an entry kind on a func.func}}
module attributes {rec.entry = #rec<entry def>} {
}

// -----

// expected-error @+1 {{'rec.entry' is an entry kind on a func.func}}
func.func @entry_not_kind() attributes {rec.entry = "loss"} {
  return
}

// -----

// expected-error @+1 {{unknown rec attribute 'rec.entries'}}
func.func @unknown_attr() attributes {rec.entries = #rec<entry def>} {
  return
}

// -----

// expected-error @+1 {{'func.func' op entry argument #0 is not a rec tensor}}
func.func @scalar_arg(%x: f32 {rec.role = #rec<role input>, rec.name = "x"}) attributes {rec.entry = #rec<entry def>} {
  return
}

// -----

// expected-error @+1 {{'func.func' op a reward entry returns one float per row (a rank-1 float tensor)}}
func.func @r(%x: !rec.tensor<[4, 2], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> !rec.tensor<[4, 2], f32> attributes {rec.entry = #rec<entry reward>} {
  return %x : !rec.tensor<[4, 2], f32>
}

// -----

// expected-error @+1 {{'rec.role' of argument #0 must be a #rec<role ...>}}
func.func @bad_role(%x: !rec.tensor<[4], f32> {rec.role = "input"}) {
  return
}

// -----

// expected-error @+1 {{'rec.name' of argument #1 must be a non-empty string}}
func.func @empty_name(%x: !rec.tensor<[4], f32>, %y: !rec.tensor<[4], f32> {rec.name = ""}) {
  return
}

// -----

// expected-error @+1 {{unknown rec argument attribute 'rec.roles'}}
func.func @unknown_arg_attr(%x: !rec.tensor<[4], f32> {rec.roles = #rec<role input>}) {
  return
}

// -----

//===----------------------------------------------------------------------===//
// Parameters and generation
//===----------------------------------------------------------------------===//

// expected-error @+1 {{'rec.param' op parameters hold floats, got i64[4]}}
rec.param @p : !rec.tensor<[4], i64> init #rec.init<zeros>

// -----

module {
  func.func @d() attributes {rec.entry = #rec<entry def>} {
    return
  }
  // expected-error @+1 {{'rec.generate' op the session dimension of sid<8>[B, 4, 3] must be items = 5}}
  rec.generate @g : !rec.tensor<[B, 4, 3], !rec.sid<8>> = beam(@d, @d) {constrain = #rec<constraint none>, items = 5, width = 4}
}

// -----

module {
  func.func @d() attributes {rec.entry = #rec<entry def>} {
    return
  }
  // expected-error @+1 {{'rec.generate' op decoder @missing is not a function of the module}}
  rec.generate @g : !rec.tensor<[B, 5, 3], !rec.sid<8>> = beam(@d, @missing) {constrain = #rec<constraint none>, items = 5, width = 4}
}

// -----

//===----------------------------------------------------------------------===//
// Training
//===----------------------------------------------------------------------===//

module {
  func.func @l() -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %0 = rec.constant(0.0) : !rec.tensor<[], f32>
    return %0 : !rec.tensor<[], f32>
  }
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
    // expected-error @+1 {{'rec.stage' op duplicate stage 's'}}
    rec.stage "s" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    // expected-error @+1 {{'rec.constant' op is not allowed in rec.train}}
    %0 = rec.constant(0.0) : !rec.tensor<[], f32>
  }
}

// -----

module {
  // expected-error @+1 {{'rec.train' op has more than one rec.schedule}}
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.schedule constant {}
    rec.schedule constant {}
  }
}

// -----

module {
  // expected-error @+1 {{'rec.train' op needs at least one rec.stage}}
  rec.train {
    rec.optimizer sgd {lr = 0.1}
  }
}

// -----

module {
  func.func @l() -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %0 = rec.constant(0.0) : !rec.tensor<[], f32>
    return %0 : !rec.tensor<[], f32>
  }
  // expected-error @+1 {{'rec.train' op unknown training setting 'batch_size'; known: batch, grad_clip, accumulate, seed, eval_every}}
  rec.train attributes {batch_size = 32} {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

module {
  func.func @l() -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %0 = rec.constant(0.0) : !rec.tensor<[], f32>
    return %0 : !rec.tensor<[], f32>
  }
  // expected-error @+1 {{'rec.train' op grad_clip must be a positive float}}
  rec.train attributes {grad_clip = 1} {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

module {
  func.func @l() -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %0 = rec.constant(0.0) : !rec.tensor<[], f32>
    return %0 : !rec.tensor<[], f32>
  }
  // expected-error @+1 {{'rec.train' op training setting 'batch' must be a positive integer}}
  rec.train attributes {batch = 0} {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

module {
  rec.train {
    // expected-error @+1 {{'rec.optimizer' op parameter 'lr' of adam must be a number or a boolean}}
    rec.optimizer adam {lr = "fast"}
    rec.stage "s" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

module {
  rec.train {
    // expected-error @+1 {{'rec.optimizer' op needs a positive learning rate 'lr'}}
    rec.optimizer sgd {momentum = 0.9}
    rec.stage "s" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    // expected-error @+1 {{'rec.schedule' op cosine schedule needs a positive 'total' step count}}
    rec.schedule cosine {warmup = 10}
    rec.stage "s" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    // expected-error @+1 {{'rec.stage' op needs a name}}
    rec.stage "" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    // expected-error @+1 {{'rec.stage' op stage 'empty' has no objective}}
    rec.stage "empty" {
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      // expected-error @+1 {{'rec.schedule' op is not an objective of a rec.stage}}
      rec.schedule constant {}
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    // expected-error @+1 {{'rec.stage' op stage setting 'steps' must be a positive integer, got 0}}
    rec.stage "s" attributes {steps = 0} {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      // expected-error @+1 {{'rec.minimize' op needs at least one loss}}
      rec.minimize []
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      // expected-error @+1 {{'rec.minimize' op loss @missing is not a function of the module}}
      rec.minimize [#rec.term<@missing, 1.0>]
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      // expected-error @+1 {{'rec.dpo' op beta must be positive}}
      rec.dpo reward [#rec.term<@r, 1.0>] {beta = 0.0, weight = 1.0, group = 8, fraction = 0.5}
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      // expected-error @+1 {{'rec.dpo' op a preference pair needs a group of at least 2}}
      rec.dpo reward [#rec.term<@r, 1.0>] {beta = 0.1, weight = 1.0, group = 1, fraction = 0.5}
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      // expected-error @+1 {{'rec.dpo' op fraction must be in (0, 1]}}
      rec.dpo reward [#rec.term<@r, 1.0>] {beta = 0.1, weight = 1.0, group = 8, fraction = 1.5}
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      // expected-error @+1 {{'rec.dpo' op needs at least one reward}}
      rec.dpo reward [] {beta = 0.1, weight = 1.0, group = 8, fraction = 0.5}
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      // expected-error @+1 {{'rec.ecpo' op group advantages need a group of at least 2}}
      rec.ecpo reward [#rec.term<@r, 1.0>] {group = 1, delta = 0.1, epsilon = 0.2, format_k = 1}
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      // expected-error @+1 {{'rec.ecpo' op epsilon must be positive}}
      rec.ecpo reward [#rec.term<@r, 1.0>] {group = 8, delta = 0.1, epsilon = 0.0, format_k = 1}
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      // expected-error @+1 {{'rec.ecpo' op delta must be >= 0}}
      rec.ecpo reward [#rec.term<@r, 1.0>] {group = 8, delta = -0.1, epsilon = 0.2, format_k = 1}
    }
  }
}

// -----

module {
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      // expected-error @+1 {{'rec.ecpo' op format_k must be in [1, group]}}
      rec.ecpo reward [#rec.term<@r, 1.0>] {group = 8, delta = 0.1, epsilon = 0.2, format_k = 9}
    }
  }
}

// -----

module {
  func.func @r(%x: !rec.tensor<[4, 2], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> !rec.tensor<[4], f32> attributes {rec.entry = #rec<entry reward>} {
    %0 = rec.reduce_sum %x {axes = array<i64: 1>} : (!rec.tensor<[4, 2], f32>) -> !rec.tensor<[4], f32>
    return %0 : !rec.tensor<[4], f32>
  }
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      // expected-error @+1 {{'rec.ecpo' op format reward @legal is not a function of the module}}
      rec.ecpo reward [#rec.term<@r, 1.0>] format @legal {group = 8, delta = 0.1, epsilon = 0.2, format_k = 2}
    }
  }
}

// -----

//===----------------------------------------------------------------------===//
// Constants, iota, casts, reshapes
//===----------------------------------------------------------------------===//

func.func @constant_string() {
  // expected-error @+1 {{expects a float or integer value}}
  %0 = rec.constant("one") : !rec.tensor<[], f32>
  return
}

// -----

func.func @constant_bool() {
  // expected-error @+1 {{'rec.constant' op a boolean constant is 0 or 1, got 2}}
  %0 = rec.constant(2) : !rec.tensor<[], i1>
  return
}

// -----

func.func @constant_codebook() {
  // expected-error @+1 {{'rec.constant' op code 8 is outside the codebook of 8}}
  %0 = rec.constant(8) : !rec.tensor<[], !rec.sid<8>>
  return
}

// -----

func.func @iota_vocab() {
  // expected-error @+1 {{'rec.iota' op positions along axis 0 exceed the id vocabulary of 10}}
  %0 = rec.iota {axis = 0} : !rec.tensor<[20], !rec.id<10>>
  return
}

// -----

func.func @cast_shape(%a: !rec.tensor<[3], f32>) {
  // expected-error @+1 {{'rec.cast' op casts change the element type only: f32[3] -> f16[4]}}
  %0 = rec.cast %a : !rec.tensor<[3], f32> -> !rec.tensor<[4], f16>
  return
}

// -----

func.func @reshape_dtype(%a: !rec.tensor<[4, 6], f32>) {
  // expected-error @+1 {{'rec.reshape' op reshape keeps the element type: f32[4, 6] -> f16[24]}}
  %0 = rec.reshape %a : !rec.tensor<[4, 6], f32> -> !rec.tensor<[24], f16>
  return
}

// -----

module {
  func.func @l() -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %0 = rec.constant(0.0) : !rec.tensor<[], f32>
    return %0 : !rec.tensor<[], f32>
  }
  // The seed may be any integer (negative too), but not a float.
  // expected-error @+1 {{'rec.train' op training setting 'seed' must be an integer}}
  rec.train attributes {seed = 1.5} {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

module {
  func.func @l() -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %0 = rec.constant(0.0) : !rec.tensor<[], f32>
    return %0 : !rec.tensor<[], f32>
  }
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    // expected-error @+1 {{'rec.stage' op unknown stage setting 'step'; stage settings are 'steps' and 'epochs'}}
    rec.stage "s" attributes {step = 3} {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}
