//===- PlanGenerator.cpp - beam search's StepModel over a plan ------------===//

#include "onerec/Driver/PlanGenerator.h"

#include "onerec/Runtime/Kernel.h"

#include <fmt/format.h>

#include <chrono>
#include <cstring>

using namespace onerec::runtime;

namespace onerec::driver {

namespace {

Status invalid(std::string message) {
  return Status::error(Status::Code::InvalidArgument, std::move(message));
}

std::string str(const flatbuffers::String *s) {
  return s ? s->str() : std::string();
}

/// A binding of `entry` by name, or null.
const plan::Binding *
findBinding(const flatbuffers::Vector<flatbuffers::Offset<plan::Binding>> *list,
            std::string_view name) {
  for (uint32_t i = 0; list && i < list->size(); ++i)
    if (list->Get(i)->name()->string_view() == name)
      return list->Get(i);
  return nullptr;
}

/// The extents of a binding's tensor: static sizes, or -1 for a symbolic
/// dim (whose maximum goes to `maxima`).
struct TensorSig {
  plan::DType dtype = plan::DType::f32;
  std::vector<int64_t> dims;
  std::vector<int64_t> maxima;
};

TensorSig signature(const PlanFile &plan, const plan::Entry &entry,
                    const plan::Binding &binding) {
  const plan::Tensor &t = *entry.tensors()->Get(binding.tensor());
  TensorSig sig;
  sig.dtype = t.dtype();
  for (uint32_t i = 0; t.shape() && i < t.shape()->size(); ++i) {
    const plan::Extent *e = t.shape()->Get(i);
    bool symbolic = e->symbol() >= 0;
    sig.dims.push_back(symbolic ? -1 : e->static_size());
    sig.maxima.push_back(
        symbolic ? plan.plan().dims()->Get(uint32_t(e->symbol()))->max()
                 : e->static_size());
  }
  return sig;
}

Shape shapeOf(std::initializer_list<int64_t> head, const Shape &tail) {
  Shape s;
  for (int64_t d : head)
    s.dims[s.rank++] = d;
  for (int i = 0; i < tail.rank; ++i)
    s.dims[s.rank++] = tail.dims[i];
  return s;
}

TensorView viewOf(DType dtype, const Shape &shape, const void *data) {
  TensorView v;
  v.dtype = dtype;
  v.shape = shape;
  v.data = const_cast<void *>(data);
  return v;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

StatusOr<const plan::Generate *> findGenerate(const PlanFile &plan,
                                              std::string_view name) {
  const auto *list = plan.plan().generate();
  std::vector<std::string> names;
  for (uint32_t i = 0; list && i < list->size(); ++i) {
    const plan::Generate *gen = list->Get(i);
    if (name.empty() || gen->name()->string_view() == name)
      return gen;
    names.push_back(gen->name()->str());
  }
  if (names.empty())
    return invalid(fmt::format(
        "{}: the plan has no generate section (model '{}'); compile a model "
        "with one, such as models/tiger.rdsl",
        plan.name(), str(plan.plan().model())));
  return invalid(fmt::format("{}: no generate section '{}' (it has: {})",
                             plan.name(), name, fmt::join(names, ", ")));
}

StatusOr<std::unique_ptr<PlanStepModel>>
PlanStepModel::create(const PlanFile &plan, ParameterStore &params,
                      const plan::Generate &generate, unsigned threads) {
  if (!generate.init() || !generate.step() || generate.init()->size() == 0)
    return invalid(fmt::format(
        "{}: generate '{}' has no decoding entries: its decoder cannot run "
        "one token at a time (onerecc warned why when it compiled the plan)",
        plan.name(), str(generate.name())));
  std::unique_ptr<PlanStepModel> model(new PlanStepModel(plan, generate));
  ExecutorOptions options;
  options.threads = threads;
  options.training = false;
  struct Slot {
    std::unique_ptr<Executor> *executor;
    const flatbuffers::String *name;
  };
  for (Slot slot : {Slot{&model->encoder_, generate.encoder()},
                    Slot{&model->init_, generate.init()},
                    Slot{&model->step_, generate.step()}}) {
    StatusOr<std::unique_ptr<Executor>> executor = Executor::create(
        plan, str(slot.name), params, defaultKernelRegistry(), options);
    if (!executor)
      return executor.status();
    *slot.executor = std::move(executor.value());
  }
  model->shape_.items = generate.items();
  model->shape_.levels = generate.levels();
  model->shape_.codebook = generate.codebook();
  model->length_ = generate.length();
  if (Status s = model->checkContract(); !s)
    return s;
  return model;
}

Status PlanStepModel::checkContract() {
  const plan::Entry &step = step_->entry();
  const plan::Entry &init = init_->entry();
  std::string where =
      fmt::format("{}: entry '{}'", plan_.name(), str(step.name()));
  auto need = [&](const plan::Binding *b, std::string_view name,
                  std::string_view what) -> StatusOr<TensorSig> {
    if (!b)
      return invalid(fmt::format("{} has no {} '{}' (the decoding contract, "
                                 "docs/generation.md)",
                                 where, what, name));
    return signature(plan_, step, *b);
  };
  // tokens [beams, 1], positions [beams], rows [beams].
  StatusOr<TensorSig> tokens =
      need(findBinding(step.inputs(), "tokens"), "tokens", "input");
  if (!tokens)
    return tokens.status();
  if (tokens->dims.size() != 2 || tokens->dims[0] != -1 ||
      tokens->dims[1] != 1 || tokens->dtype != plan::DType::i64)
    return invalid(where + ": tokens must be i64 [beams, 1]");
  maxRows_ = tokens->maxima[0];
  for (const char *name : {"positions", "rows"}) {
    StatusOr<TensorSig> sig =
        need(findBinding(step.inputs(), name), name, "input");
    if (!sig)
      return sig.status();
    if (sig->dims.size() != 1 || sig->dims[0] != -1 ||
        sig->dtype != plan::DType::i64)
      return invalid(fmt::format("{}: {} must be i64 [beams]", where, name));
  }
  StatusOr<TensorSig> logits =
      need(findBinding(step.outputs(), "logits"), "logits", "output");
  if (!logits)
    return logits.status();
  if (logits->dims != std::vector<int64_t>{-1, shape_.levels, shape_.codebook})
    return invalid(fmt::format("{}: logits must be f32 [beams, {}, {}]", where,
                               shape_.levels, shape_.codebook));
  // Contexts: init's outputs, the step's inputs of the same name.
  maxSlots_ = 0;
  for (uint32_t i = 0; i < init.outputs()->size(); ++i) {
    const plan::Binding &out = *init.outputs()->Get(i);
    std::string name = out.name()->str();
    const plan::Binding *in = findBinding(step.inputs(), name);
    if (!in)
      return invalid(fmt::format("{} does not read '{}', an output of '{}'",
                                 where, name, str(init.name())));
    TensorSig sig = signature(plan_, init, out);
    TensorSig stepSig = signature(plan_, step, *in);
    if (sig.dims != stepSig.dims || sig.dims.empty() || sig.dims[0] != -1 ||
        sig.dtype != plan::DType::f32)
      return invalid(fmt::format("{}: '{}' must be f32 [B, ...] as '{}' "
                                 "returns it",
                                 where, name, str(init.name())));
    Context context;
    context.name = name;
    context.rowElements = 1;
    for (size_t d = 1; d < sig.dims.size(); ++d) {
      context.row.dims[context.row.rank++] = sig.dims[d];
      context.rowElements *= sig.dims[d];
    }
    maxSlots_ = maxSlots_ ? std::min(maxSlots_, sig.maxima[0]) : sig.maxima[0];
    contexts_.push_back(std::move(context));
  }
  if (!maxSlots_)
    maxSlots_ = maxRows_;
  // Caches: every other input, cache.k.j / cache.v.j [beams, length, W],
  // each with its `.new` output [beams, 1, W].
  for (uint32_t i = 0; i < step.inputs()->size(); ++i) {
    const plan::Binding &in = *step.inputs()->Get(i);
    std::string name = in.name()->str();
    if (name == "tokens" || name == "positions" || name == "rows" ||
        findBinding(init.outputs(), name))
      continue;
    if (name.rfind("cache.", 0) != 0)
      return invalid(fmt::format("{} has input '{}', which the decoding "
                                 "contract does not know",
                                 where, name));
    TensorSig sig = signature(plan_, step, in);
    const plan::Binding *out = findBinding(step.outputs(), name + ".new");
    if (sig.dims.size() != 3 || sig.dims[0] != -1 || sig.dims[1] != length_ ||
        sig.dtype != plan::DType::f32 || !out)
      return invalid(fmt::format("{}: cache '{}' must be f32 [beams, {}, "
                                 "width] with an output '{}.new'",
                                 where, name, length_, name));
    TensorSig outSig = signature(plan_, step, *out);
    if (outSig.dims != std::vector<int64_t>{-1, 1, sig.dims[2]})
      return invalid(fmt::format("{}: '{}.new' must be f32 [beams, 1, {}]",
                                 where, name, sig.dims[2]));
    Cache cache;
    cache.name = name;
    cache.width = sig.dims[2];
    caches_.push_back(std::move(cache));
  }
  // The encoder's outputs feed init's inputs: by name, or the one to the one.
  const plan::Entry &encoder = encoder_->entry();
  if (init.inputs()->size() != 1 &&
      init.inputs()->size() != encoder.outputs()->size())
    return invalid(fmt::format(
        "{}: entry '{}' takes {} inputs but the encoder '{}' returns {}",
        plan_.name(), str(init.name()), init.inputs()->size(),
        str(encoder.name()), encoder.outputs()->size()));
  return Status::ok();
}

Status PlanStepModel::reserve(int64_t rows, int64_t slots) {
  if (rows > maxRows_ || slots > maxSlots_)
    return invalid(fmt::format("{} rows and {} request slots: the plan takes "
                               "at most {} and {}",
                               rows, slots, maxRows_, maxSlots_));
  rows_ = rows;
  slots_ = slots;
  for (Context &c : contexts_)
    c.slots = HostTensor(DType::f32, shapeOf({slots}, c.row));
  for (Cache &c : caches_) {
    c.current = HostTensor(DType::f32, shapeOf({rows, length_, c.width}, {}));
    c.next = HostTensor(DType::f32, shapeOf({rows, length_, c.width}, {}));
  }
  return Status::ok();
}

Status PlanStepModel::encode(const GenerationRequest *const *requests,
                             const int64_t *slots, size_t count) {
  auto start = std::chrono::steady_clock::now();
  // The requests' inputs, stacked along the batch.
  const plan::Entry &encoder = encoder_->entry();
  std::vector<NamedTensor> batch;
  for (uint32_t i = 0; i < encoder.inputs()->size(); ++i) {
    std::string name = encoder.inputs()->Get(i)->name()->str();
    const HostTensor *first = nullptr;
    for (const NamedTensor &t : requests[0]->inputs)
      if (t.name == name)
        first = &t.tensor;
    if (!first || first->shape().rank == 0 || first->shape().dims[0] != 1)
      return invalid(
          fmt::format("the request has no input '{}' of batch 1", name));
    Shape shape = first->shape();
    shape.dims[0] = int64_t(count);
    HostTensor stacked(first->dtype(), shape);
    size_t rowBytes = first->bytes();
    for (size_t r = 0; r < count; ++r) {
      const HostTensor *t = nullptr;
      for (const NamedTensor &named : requests[r]->inputs)
        if (named.name == name)
          t = &named.tensor;
      if (!t || t->bytes() != rowBytes || t->dtype() != first->dtype())
        return invalid(fmt::format("request {} has no input '{}' like the "
                                   "others",
                                   r, name));
      std::memcpy(stacked.data() + r * rowBytes, t->data(), rowBytes);
    }
    batch.push_back({name, std::move(stacked)});
  }
  std::vector<NamedTensorView> views;
  for (NamedTensor &t : batch)
    views.push_back(
        {t.name, viewOf(t.tensor.dtype(), t.tensor.shape(), t.tensor.data())});
  StatusOr<std::vector<NamedTensor>> memory = encoder_->run(views);
  if (!memory)
    return memory.status();
  // init reads the encoder's outputs.
  const plan::Entry &init = init_->entry();
  views.clear();
  for (uint32_t i = 0; i < init.inputs()->size(); ++i) {
    std::string name = init.inputs()->Get(i)->name()->str();
    const NamedTensor *source = nullptr;
    if (memory->size() == 1)
      source = &memory->front();
    for (const NamedTensor &t : *memory)
      if (t.name == name)
        source = &t;
    if (!source)
      return invalid(fmt::format("the encoder returns no '{}' for '{}'", name,
                                 str(init.name())));
    views.push_back(
        {name, viewOf(source->tensor.dtype(), source->tensor.shape(),
                      source->tensor.data())});
  }
  StatusOr<std::vector<NamedTensor>> contexts = init_->run(views);
  if (!contexts)
    return contexts.status();
  for (Context &c : contexts_)
    for (const NamedTensor &t : *contexts)
      if (t.name == c.name)
        for (size_t r = 0; r < count; ++r)
          std::memcpy(c.slots.as<float>() + slots[r] * c.rowElements,
                      t.tensor.as<float>() + int64_t(r) * c.rowElements,
                      size_t(c.rowElements) * sizeof(float));
  encodeSeconds_ += secondsSince(start);
  return Status::ok();
}

StatusOr<const float *> PlanStepModel::step(int64_t n, const int64_t *tokens,
                                            const int64_t *positions,
                                            const int64_t *slots) {
  auto start = std::chrono::steady_clock::now();
  std::vector<NamedTensorView> views = {
      {"tokens", viewOf(DType::i64, shapeOf({n, 1}, {}), tokens)},
      {"positions", viewOf(DType::i64, shapeOf({n}, {}), positions)},
      {"rows", viewOf(DType::i64, shapeOf({n}, {}), slots)}};
  for (const Context &c : contexts_)
    views.push_back(
        {c.name, viewOf(DType::f32, c.slots.shape(), c.slots.data())});
  for (const Cache &c : caches_)
    views.push_back(
        {c.name, viewOf(DType::f32, shapeOf({n, length_, c.width}, {}),
                        c.current.data())});
  StatusOr<std::vector<NamedTensor>> out = step_->run(views);
  if (!out)
    return out.status();
  stepOutputs_ = std::move(out.value());
  logits_ = nullptr;
  for (const NamedTensor &t : stepOutputs_) {
    if (t.name == "logits") {
      logits_ = t.tensor.as<float>();
      continue;
    }
    // cache.k.j.new: the fed token's row, written at its position.
    for (Cache &c : caches_) {
      if (t.name.size() != c.name.size() + 4 ||
          t.name.compare(0, c.name.size(), c.name) != 0)
        continue;
      for (int64_t r = 0; r < n; ++r)
        std::memcpy(c.current.as<float>() +
                        (r * length_ + positions[r]) * c.width,
                    t.tensor.as<float>() + r * c.width,
                    size_t(c.width) * sizeof(float));
    }
  }
  stepSeconds_ += secondsSince(start);
  return logits_;
}

void PlanStepModel::reorder(int64_t n, const int32_t *parents,
                            const int64_t *lengths) {
  for (Cache &c : caches_) {
    const float *from = c.current.as<float>();
    float *to = c.next.as<float>();
    for (int64_t i = 0; i < n; ++i)
      if (parents[i] >= 0)
        std::memcpy(to + i * length_ * c.width,
                    from + int64_t(parents[i]) * length_ * c.width,
                    size_t(lengths[i] * c.width) * sizeof(float));
    std::swap(c.current, c.next);
  }
}

} // namespace onerec::driver
