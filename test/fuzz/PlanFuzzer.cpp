//===- PlanFuzzer.cpp - fuzz target: bytes -> plan loader -> executor -----===//
//
// Any byte string is a valid input: the loader must reject it with a
// message (the target then returns -1) or accept it (0), never crash. An
// accepted plan is then held to the validator's promise: every entry is run
// with every symbolic dim at its maximum, zero inputs (ids 0), and "touch"
// kernels that read every byte of every operand and write every byte of every
// result. Under AddressSanitizer (ONEREC_FUZZ builds) a view the validator let
// through that reaches outside the arena, a parameter or an input is reported
// as an overflow.
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

/// Entries needing more memory than this are validated but not run.
constexpr uint64_t kMaxRunBytes = 64 << 20;

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

/// Runs entry `index` at the dims' maxima; aborts if a validated plan fails
/// in a way validation should have excluded.
void runAtMaxima(const PlanFile &plan, int index, ParameterStore &params) {
  const onerec::plan::Entry &entry = plan.entry(index);
  uint64_t bytes = entry.arena_bytes();
  if (bytes > kMaxRunBytes)
    return;
  std::vector<HostTensor> inputs;
  std::vector<NamedTensorView> views;
  for (uint32_t i = 0; entry.inputs() && i < entry.inputs()->size(); ++i) {
    const onerec::plan::Binding &binding = *entry.inputs()->Get(i);
    const onerec::plan::Tensor &tensor =
        *entry.tensors()->Get(binding.tensor());
    Shape shape;
    for (const onerec::plan::Extent *e : *tensor.shape())
      shape.dims[shape.rank++] =
          e->symbol() < 0 ? e->static_size()
                          : plan.plan()
                                .dims()
                                ->Get(static_cast<uint32_t>(e->symbol()))
                                ->max();
    bytes += static_cast<uint64_t>(shape.numel()) *
             dtypeSize(static_cast<DType>(tensor.dtype()));
    if (bytes > kMaxRunBytes)
      return;
    inputs.emplace_back(static_cast<DType>(tensor.dtype()), shape);
    views.push_back({binding.name()->str(), inputs.back().view()});
  }
  if (bytes > kMaxRunBytes)
    return;
  ExecutorOptions options;
  options.threads = 1;
  auto executor = Executor::create(plan, entry.name()->string_view(), params,
                                   touchRegistry(), options);
  if (!executor)
    return; // e.g. the arena cannot be allocated
  auto outputs = (*executor)->run(views);
  if (!outputs) {
    std::fprintf(stderr, "a validated plan failed to run at its maxima: %s\n",
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
  for (size_t i = 0; i < params.size(); ++i) {
    const TensorView &view = params.view(i);
    volatile uint8_t sink =
        static_cast<const uint8_t *>(view.data)[view.bytes() - 1];
    (void)sink;
  }
  for (uint32_t e = 0;
       file.plan().entries() && e < file.plan().entries()->size(); ++e) {
    const onerec::plan::Entry &entry = file.entry(static_cast<int>(e));
    for (uint32_t t = 0; entry.tensors() && t < entry.tensors()->size(); ++t)
      (void)formatTensorType(file.plan(), *entry.tensors()->Get(t));
    runAtMaxima(file, static_cast<int>(e), params);
  }
  return 0;
}
