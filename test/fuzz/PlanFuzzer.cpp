//===- PlanFuzzer.cpp - fuzz target: bytes -> plan loader -> executor -----===//
//
// Any byte string is a valid input: the loader must reject it with a
// message (the target then returns -1) or accept it (0), never crash. An
// accepted plan is then held to the validator's promise: every entry is run
// with zero inputs (ids 0), every symbolic dim at its maximum (or, where that
// would touch too much memory, at its minimum), and "touch" kernels that read
// every byte of every operand and write every byte of every result. Under
// AddressSanitizer (ONEREC_FUZZ builds) a view the validator let through that
// reaches outside the arena, a parameter or an input is reported as an
// overflow.
//
//===----------------------------------------------------------------------===//

#include "onerec/Runtime/Executor.h"
#include "onerec/Runtime/PlanFile.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace onerec::runtime;

namespace {

/// Entries are run at the dims' maxima when their arena and inputs fit in
/// kMaxTouchBytes, else at the dims' minima; arenas beyond kMaxArenaBytes
/// are validated but not allocated.
constexpr uint64_t kMaxTouchBytes = 4 << 20;
constexpr uint64_t kMaxArenaBytes = 256 << 20;

Status touchKernel(const KernelCall &call) {
  volatile uint8_t sink = 0;
  for (int i = 0; i < call.numInputs; ++i) {
    const TensorView &in = call.in(i);
    const uint8_t *bytes = static_cast<const uint8_t *>(in.data);
    for (size_t b = 0; in.present() && b < in.bytes(); ++b)
      sink = sink + bytes[b];
  }
  for (int i = 0; i < call.numOutputs; ++i)
    std::memset(call.out(i).data, 0, call.out(i).bytes());
  (void)sink;
  return Status::ok();
}

const KernelRegistry &touchRegistry() {
  static const KernelRegistry registry = [] {
    KernelRegistry r;
    for (int op = 0; op <= static_cast<int>(onerec::plan::OpCode::MAX); ++op)
      for (int dtype = 0; dtype <= static_cast<int>(DType::i64); ++dtype)
        r.add(static_cast<OpCode>(op), static_cast<DType>(dtype), Device::Cpu,
              KernelVariant::Reference, touchKernel);
    return r;
  }();
  return registry;
}

/// The shape of `tensor` with every symbolic dim at `dims`.
Shape boundShape(const onerec::plan::Tensor &tensor,
                 const std::vector<int64_t> &dims) {
  Shape shape;
  for (const onerec::plan::Extent *e : *tensor.shape())
    shape.dims[shape.rank++] = e->symbol() < 0
                                   ? e->static_size()
                                   : dims[static_cast<size_t>(e->symbol())];
  return shape;
}

/// Runs entry `index` with zero inputs, at the dims' maxima where that is
/// cheap, else at their minima; aborts if a validated plan fails in a way
/// validation should have excluded.
void runEntry(const PlanFile &plan, int index, ParameterStore &params) {
  const onerec::plan::Entry &entry = plan.entry(index);
  if (entry.arena_bytes() > kMaxArenaBytes)
    return;
  std::vector<int64_t> maxima;
  for (uint32_t d = 0; plan.plan().dims() && d < plan.plan().dims()->size();
       ++d)
    maxima.push_back(plan.plan().dims()->Get(d)->max());
  uint64_t bytesAtMaxima = entry.arena_bytes();
  for (uint32_t i = 0; entry.inputs() && i < entry.inputs()->size(); ++i) {
    const onerec::plan::Tensor &tensor =
        *entry.tensors()->Get(entry.inputs()->Get(i)->tensor());
    bytesAtMaxima += static_cast<uint64_t>(boundShape(tensor, maxima).numel()) *
                     dtypeSize(static_cast<DType>(tensor.dtype()));
  }
  const std::vector<int64_t> &dims = bytesAtMaxima <= kMaxTouchBytes
                                         ? maxima
                                         : plan.entryFacts(index).dimMinimum;
  std::vector<HostTensor> inputs;
  std::vector<NamedTensorView> views;
  for (uint32_t i = 0; entry.inputs() && i < entry.inputs()->size(); ++i) {
    const onerec::plan::Binding &binding = *entry.inputs()->Get(i);
    const onerec::plan::Tensor &tensor =
        *entry.tensors()->Get(binding.tensor());
    inputs.emplace_back(static_cast<DType>(tensor.dtype()),
                        boundShape(tensor, dims));
    views.push_back({binding.name()->str(), inputs.back().view()});
  }
  ExecutorOptions options;
  options.threads = 1;
  auto executor = Executor::create(plan, entry.name()->string_view(), params,
                                   touchRegistry(), options);
  if (!executor)
    return; // e.g. the arena cannot be allocated
  auto outputs = (*executor)->run(views);
  if (!outputs) {
    std::fprintf(stderr, "a validated plan failed to run: %s\n",
                 outputs.status().message().c_str());
    std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto plan = PlanFile::fromBytes(data, size, "fuzz.fb");
  if (!plan) {
    if (plan.status().message().empty())
      std::abort(); // every rejection must say why
    return -1;      // libFuzzer: not worth keeping in the corpus
  }
  const PlanFile &file = **plan;
  ParameterStore params(file);
  // Every stored parameter's bytes are inside the file (optimizer state has
  // none until the store is made writable).
  for (size_t i = 0; i < params.size(); ++i) {
    const TensorView &view = params.view(i);
    if (params.isOptimizerState(i) || view.bytes() == 0)
      continue;
    volatile uint8_t sink =
        static_cast<const uint8_t *>(view.data)[view.bytes() - 1];
    (void)sink;
  }
  // Training steps write parameters in place: a writable store (weights
  // copied out of the file, optimizer state allocated) lets them run too.
  // Declared state can be larger than memory; then they are skipped (their
  // executor refuses a read-only store).
  if (file.fileSize() <= kMaxArenaBytes)
    (void)params.makeWritable();

  for (uint32_t e = 0;
       file.plan().entries() && e < file.plan().entries()->size(); ++e) {
    const onerec::plan::Entry &entry = file.entry(static_cast<int>(e));
    for (uint32_t t = 0; entry.tensors() && t < entry.tensors()->size(); ++t)
      (void)formatTensorType(file.plan(), *entry.tensors()->Get(t));
    runEntry(file, static_cast<int>(e), params);
  }
  return 0;
}
