//===- PlanValidator.cpp - the meaning checks of the plan loader ----------===//
//
// Walks a verified plan top-down: header, dims, segments, parameters, then
// each entry's tensors, bindings and kernels. Per-op rules are in
// OpSignatures.cpp and OpShapeRules.cpp. All arithmetic on sizes read from
// the file is overflow-checked; the limits in PlanLimits keep every product
// computed later (by the executor and kernels) far from overflow.
//
//===----------------------------------------------------------------------===//

#include "onerec/Runtime/PlanValidator.h"

#include "PlanChecks.h"
#include "onerec/Runtime/PlanFile.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <string_view>
#include <unordered_map>

namespace onerec::runtime {

using namespace detail;

namespace {

/// Names and locations come from the file: keep messages printable and short.
std::string printable(std::string_view text) {
  return printableText(text, 120);
}

std::string printable(const flatbuffers::String *text) {
  return text ? printable(text->string_view()) : std::string();
}

bool isPowerOfTwo(uint64_t v) { return v && !(v & (v - 1)); }

/// The FlatBuffers 2.0 verifier checks a vector's length field but not that
/// 8-byte elements (longs, Extent structs) are 8-byte aligned; reading them
/// misaligned would be undefined behaviour. The buffer itself starts
/// 64-byte aligned, so absolute addresses decide. (Empty vectors are not
/// padded by builders, and have nothing to read.)
template <typename V> bool elementsAligned(const V *vector) {
  return !vector || vector->size() == 0 ||
         (reinterpret_cast<uintptr_t>(vector) +
          sizeof(flatbuffers::uoffset_t)) %
                 8 ==
             0;
}

template <typename T> uint32_t sizeOf(const flatbuffers::Vector<T> *v) {
  return v ? v->size() : 0;
}

/// Element count of `extents` with each extent at most kMaxElements;
/// nullopt past kMaxElements.
std::optional<int64_t> boundedProduct(const std::vector<int64_t> &extents) {
  int64_t n = 1;
  for (int64_t e : extents)
    if (e <= 0 || __builtin_mul_overflow(n, e, &n) ||
        n > PlanLimits::kMaxElements)
      return std::nullopt;
  return n;
}

/// A tensor's element count as static product and symbols, to compare the
/// sizes of two views of one buffer for every binding.
struct SymbolicCount {
  int64_t staticProduct = 1;
  std::vector<int32_t> symbols;
  bool operator==(const SymbolicCount &o) const {
    return staticProduct == o.staticProduct && symbols == o.symbols;
  }
};

SymbolicCount symbolicCount(const SymShape &shape) {
  SymbolicCount count;
  for (int i = 0; i < shape.rank; ++i) {
    if (shape[i].isStatic())
      count.staticProduct *= shape[i].size; // bounded by kMaxElements
    else
      count.symbols.push_back(shape[i].symbol);
  }
  std::sort(count.symbols.begin(), count.symbols.end());
  return count;
}

class Validator {
public:
  Validator(const plan::Plan &plan, const PlanFileLayout &layout)
      : plan_(plan), layout_(layout) {}

  StatusOr<PlanFacts> run();

private:
  Status fail(const std::string &where, const std::string &message) const {
    return Status::error(Status::Code::Corrupt,
                         layout_.fileName + ": " +
                             (where.empty() ? "" : where + ": ") + message);
  }
  Status checkHeader();
  Status checkDims();
  Status checkSegments();
  Status checkParameters();
  Status checkOptimizerState(uint32_t index, const std::string &where);
  Status checkTrainConfig();
  Status checkGenerate();
  Status checkCudaKernels();
  Status checkInPlace(const plan::Entry &entry, const plan::Kernel &kernel,
                      const KernelChecker &checker);
  StatusOr<EntryFacts> checkEntry(uint32_t index);
  Status checkTensor(const plan::Entry &entry, uint32_t index,
                     const std::string &where);
  Status checkBindings(const plan::Entry &entry, const std::string &where);
  Status checkKernel(const plan::Entry &entry, uint32_t index,
                     const std::string &entryWhere, EntryFacts &facts);
  Status checkAliasing(const plan::Entry &entry, const plan::Kernel &kernel,
                       const KernelChecker &checker);

  const plan::Plan &plan_;
  const PlanFileLayout &layout_;
  /// Per tensor of the entry being checked: bytes at the dims' maxima.
  std::vector<uint64_t> tensorBytes_;
  /// Parameter name -> index of its first declaration (checkParameters).
  std::unordered_map<std::string_view, uint32_t> paramIndex_;
};

StatusOr<PlanFacts> Validator::run() {
  for (Status s : {checkHeader(), checkDims(), checkSegments(),
                   checkParameters(), checkCudaKernels()})
    if (!s)
      return s;
  PlanFacts facts;
  std::set<std::string_view> names;
  for (uint32_t i = 0; i < sizeOf(plan_.entries()); ++i) {
    std::string_view name = plan_.entries()->Get(i)->name()->string_view();
    if (!names.insert(name).second)
      return fail("",
                  fmt::format("entry '{}' is defined twice", printable(name)));
    StatusOr<EntryFacts> entry = checkEntry(i);
    if (!entry)
      return entry.status();
    facts.entries.push_back(std::move(entry.value()));
  }
  if (Status s = checkTrainConfig(); !s)
    return s;
  if (Status s = checkGenerate(); !s)
    return s;
  return facts;
}

Status Validator::checkHeader() {
  uint16_t major = plan_.format_major(), minor = plan_.format_minor();
  if (major != kPlanFormatMajor || minor > kPlanFormatMinor)
    return Status::error(
        Status::Code::Unsupported,
        fmt::format(
            "{}: plan format {}.{} is {} than this runtime reads ({}.{}); {}",
            layout_.fileName, major, minor,
            major < kPlanFormatMajor ? "older" : "newer", kPlanFormatMajor,
            kPlanFormatMinor,
            major < kPlanFormatMajor ? "recompile the model with this onerecc"
                                     : "use a newer onerec-run"));
  uint64_t known = static_cast<uint64_t>(plan::Requirement::ANY);
  if (uint64_t unknown = static_cast<uint64_t>(plan_.requirements()) & ~known)
    return fail("", fmt::format("unknown requirement bits 0x{:x}", unknown));
  return Status::ok();
}

Status Validator::checkDims() {
  std::set<std::string_view> names;
  for (uint32_t i = 0; i < sizeOf(plan_.dims()); ++i) {
    const plan::Dim *dim = plan_.dims()->Get(i);
    std::string where = fmt::format("dim {} ('{}')", i, printable(dim->name()));
    if (dim->name()->size() == 0)
      return fail(fmt::format("dim {}", i), "has an empty name");
    if (!names.insert(dim->name()->string_view()).second)
      return fail(where, "is declared twice");
    if (dim->max() <= 0 || dim->max() > PlanLimits::kMaxElements)
      return fail(where, fmt::format("has maximum {}, expected 1 to {}",
                                     dim->max(), PlanLimits::kMaxElements));
  }
  return Status::ok();
}

Status Validator::checkSegments() {
  uint32_t count = sizeOf(plan_.segments());
  if (count == 0)
    return Status::ok();
  uint64_t alignment = plan_.segment_alignment();
  if (!isPowerOfTwo(alignment) || alignment < PlanLimits::kParameterAlignment ||
      alignment > 65536)
    return fail(
        "", fmt::format(
                "segment_alignment is {}, expected a power of two from {} to "
                "65536",
                alignment, PlanLimits::kParameterAlignment));
  std::vector<uint32_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  for (uint32_t i = 0; i < count; ++i) {
    const plan::Segment *segment = plan_.segments()->Get(i);
    std::string where = fmt::format("segment {}", i);
    uint64_t offset = segment->offset(), size = segment->size();
    if (offset % alignment != 0)
      return fail(
          where,
          fmt::format("offset {} is not a multiple of the segment alignment {}",
                      offset, alignment));
    if (offset < layout_.tableBytes)
      return fail(
          where,
          fmt::format(
              "starts at offset {}, inside the FlatBuffer (which ends at "
              "{})",
              offset, layout_.tableBytes));
    if (size > layout_.fileBytes || offset > layout_.fileBytes - size)
      return fail(
          where,
          fmt::format(
              "bytes [{}, {}) lie outside the file ({} bytes); is the file "
              "truncated?",
              offset, uint64_t(offset + size), layout_.fileBytes));
  }
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return plan_.segments()->Get(a)->offset() <
           plan_.segments()->Get(b)->offset();
  });
  for (uint32_t i = 1; i < count; ++i) {
    const plan::Segment *prev = plan_.segments()->Get(order[i - 1]);
    const plan::Segment *next = plan_.segments()->Get(order[i]);
    if (prev->offset() + prev->size() > next->offset())
      return fail(fmt::format("segment {}", order[i]),
                  fmt::format("overlaps segment {}", order[i - 1]));
  }
  return Status::ok();
}

Status Validator::checkParameters() {
  std::set<std::string_view> names;
  // Built once, so that finding each state's owner is not a scan (a plan
  // with P weights has up to 3P state parameters).
  paramIndex_.clear();
  for (uint32_t j = 0; j < sizeOf(plan_.params()); ++j)
    if (const flatbuffers::String *name = plan_.params()->Get(j)->name())
      paramIndex_.emplace(name->string_view(), j); // keeps the first
  for (uint32_t i = 0; i < sizeOf(plan_.params()); ++i) {
    const plan::Parameter *param = plan_.params()->Get(i);
    std::string where =
        fmt::format("parameter {} ('{}')", i, printable(param->name()));
    if (param->name()->size() == 0)
      return fail(fmt::format("parameter {}", i), "has an empty name");
    if (!names.insert(param->name()->string_view()).second)
      return fail(where, "is declared twice");
    if (!elementsAligned(param->shape()))
      return fail(where, "its shape vector is misaligned");
    if (param->dtype() > plan::DType::MAX)
      return fail(where,
                  fmt::format("has unknown dtype {}", int(param->dtype())));
    if (param->init() && param->init()->kind() > plan::InitKind::MAX)
      return fail(where, fmt::format("has unknown initializer kind {}",
                                     int(param->init()->kind())));
    if (param->role() > plan::ParameterRole::MAX)
      return fail(where,
                  fmt::format("has unknown role {}", int(param->role())));
    std::vector<int64_t> extents;
    if (param->shape())
      extents.assign(param->shape()->begin(), param->shape()->end());
    if (extents.size() > static_cast<size_t>(Shape::kMaxRank))
      return fail(where, fmt::format("has rank {}, at most {} is supported",
                                     extents.size(), Shape::kMaxRank));
    std::optional<int64_t> numel = boundedProduct(extents);
    if (!numel)
      return fail(
          where,
          fmt::format("has shape {} with an extent below 1 or more than {} "
                      "elements",
                      formatParameterType(*param), PlanLimits::kMaxElements));
    if (param->role() == plan::ParameterRole::OptimizerState) {
      // No stored bytes: segment and offset mean nothing.
      if (Status s = checkOptimizerState(i, where); !s)
        return s;
      continue;
    }
    if (param->state_of() && param->state_of()->size())
      return fail(where, fmt::format("is a weight but names state_of '{}'; "
                                     "only optimizer state belongs to a "
                                     "parameter",
                                     printable(param->state_of())));
    if (param->segment() >= sizeOf(plan_.segments()))
      return fail(
          where,
          fmt::format("lives in segment {}, but the plan has {} segment(s)",
                      param->segment(), sizeOf(plan_.segments())));
    const plan::Segment *segment = plan_.segments()->Get(param->segment());
    uint64_t bytes =
        uint64_t(*numel) * dtypeSize(static_cast<DType>(param->dtype()));
    uint64_t offset = param->offset();
    if (bytes > segment->size() || offset > segment->size() - bytes)
      return fail(
          where, fmt::format("bytes [{}, {}) lie outside segment {} ({} bytes)",
                             offset, offset + bytes, param->segment(),
                             segment->size()));
    if ((segment->offset() + offset) % PlanLimits::kParameterAlignment != 0)
      return fail(where,
                  fmt::format("starts at file offset {}, not {}-byte aligned",
                              segment->offset() + offset,
                              PlanLimits::kParameterAlignment));
  }
  return Status::ok();
}

/// Optimizer state starts from a constant (no bytes are stored) and belongs
/// to a weight of its shape.
Status Validator::checkOptimizerState(uint32_t index,
                                      const std::string &where) {
  const plan::Parameter &param = *plan_.params()->Get(index);
  plan::InitKind init =
      param.init() ? param.init()->kind() : plan::InitKind::Zeros;
  if (init != plan::InitKind::Zeros && init != plan::InitKind::Ones &&
      init != plan::InitKind::Constant)
    return fail(where,
                fmt::format("is optimizer state initialized by {}; it must "
                            "start from Zeros, Ones or Constant (its values "
                            "are not stored)",
                            plan::EnumNameInitKind(init)));
  if (init == plan::InitKind::Constant && !std::isfinite(param.init()->a()))
    return fail(where, fmt::format("starts from the constant {}, expected a "
                                   "finite number",
                                   param.init()->a()));
  if (param.dtype() != plan::DType::f32)
    return fail(where,
                fmt::format("is optimizer state of dtype {}, expected "
                            "f32",
                            dtypeName(static_cast<DType>(param.dtype()))));
  std::string_view owner =
      param.state_of() ? param.state_of()->string_view() : std::string_view();
  if (owner.empty())
    return fail(where, "is optimizer state but names no state_of parameter");
  if (auto found = paramIndex_.find(owner); found != paramIndex_.end()) {
    uint32_t j = found->second;
    const plan::Parameter &other = *plan_.params()->Get(j);
    if (other.role() != plan::ParameterRole::Weight)
      return fail(where, fmt::format("is state of parameter {} ('{}'), which "
                                     "is not a weight",
                                     j, printable(owner)));
    std::vector<int64_t> a, b;
    if (param.shape())
      a.assign(param.shape()->begin(), param.shape()->end());
    if (other.shape())
      b.assign(other.shape()->begin(), other.shape()->end());
    if (a != b)
      return fail(where,
                  fmt::format("{} is state of parameter {} ('{}') {}, "
                              "but the shapes differ",
                              formatParameterType(param), j, printable(owner),
                              formatParameterType(other)));
    return Status::ok();
  }
  return fail(where, fmt::format("is state of parameter '{}', which the plan "
                                 "does not have",
                                 printable(owner)));
}

Status Validator::checkTrainConfig() {
  const plan::TrainConfig *train = plan_.train();
  if (!train)
    return Status::ok();
  const std::string where = "train";
  if (train->optimizer() > plan::OptimizerKind::MAX)
    return fail(where, fmt::format("has unknown optimizer {}",
                                   int(train->optimizer())));
  if (train->schedule() > plan::ScheduleKind::MAX)
    return fail(where,
                fmt::format("has unknown schedule {}", int(train->schedule())));
  struct Real {
    const char *name;
    double value, lo, hi;
    bool hiOpen;
  };
  for (const Real &v :
       {Real{"lr", train->lr(), 0, HUGE_VAL, true},
        Real{"beta1", train->beta1(), 0, 1, true},
        Real{"beta2", train->beta2(), 0, 1, true},
        Real{"eps", train->eps(), 0, HUGE_VAL, true},
        Real{"weight_decay", train->weight_decay(), 0, HUGE_VAL, true},
        Real{"momentum", train->momentum(), 0, HUGE_VAL, true},
        Real{"min_lr", train->min_lr(), 0, HUGE_VAL, true},
        Real{"grad_clip", train->grad_clip(), 0, HUGE_VAL, true}})
    if (!(v.value >= v.lo && v.value < v.hi))
      return fail(where, fmt::format("{} is {}, expected a finite value in "
                                     "[{}, {})",
                                     v.name, v.value, v.lo, v.hi));
  struct Count {
    const char *name;
    int64_t value, min;
  };
  for (const Count &c :
       {Count{"accumulate", train->accumulate(), 1},
        Count{"warmup", train->warmup(), 0}, Count{"total", train->total(), 0},
        Count{"batch", train->batch(), 0}})
    if (c.value < c.min)
      return fail(where, fmt::format("{} is {}, expected at least {}", c.name,
                                     c.value, c.min));
  std::set<std::string_view> names;
  for (uint32_t i = 0; i < sizeOf(train->stages()); ++i) {
    const plan::Stage &stage = *train->stages()->Get(i);
    std::string stageWhere =
        fmt::format("train stage {} ('{}')", i, printable(stage.name()));
    if (stage.name()->size() == 0)
      return fail(fmt::format("train stage {}", i), "has an empty name");
    if (!names.insert(stage.name()->string_view()).second)
      return fail(stageWhere, "is named twice");
    if (stage.epochs() < 0 || stage.steps() < 0)
      return fail(stageWhere,
                  fmt::format("has {} epochs and {} steps, expected counts "
                              "of at least 0",
                              stage.epochs(), stage.steps()));
    // A stage without an entry (one that aligns by reinforcement, whose
    // entries come with the alignment driver) runs nothing yet.
    if (!stage.entry())
      continue;
    std::string_view entryName = stage.entry()->string_view();
    const plan::Entry *found = nullptr;
    for (uint32_t e = 0; e < sizeOf(plan_.entries()); ++e)
      if (plan_.entries()->Get(e)->name()->string_view() == entryName)
        found = plan_.entries()->Get(e);
    if (!found)
      return fail(stageWhere, fmt::format("runs entry '{}', which the plan "
                                          "does not have",
                                          printable(entryName)));
    if (found->kind() != plan::EntryKind::TrainStep)
      return fail(stageWhere,
                  fmt::format("runs entry '{}' of kind {}, expected a "
                              "TrainStep entry",
                              printable(entryName),
                              plan::EnumNameEntryKind(found->kind())));
  }
  return Status::ok();
}

/// 1.3: the generate sections. Their numbers describe the decoder's token
/// layout, which the decoding driver indexes with, so they must agree; the
/// entries they name must exist. (The driver checks the entries' signatures
/// against the decoding contract when it prepares them.)
Status Validator::checkGenerate() {
  constexpr int64_t kMaxCount = int64_t(1) << 24;
  std::set<std::string_view> names;
  for (uint32_t i = 0; i < sizeOf(plan_.generate()); ++i) {
    const plan::Generate &gen = *plan_.generate()->Get(i);
    std::string where =
        fmt::format("generate {} ('{}')", i, printable(gen.name()));
    if (gen.name()->size() == 0 ||
        !names.insert(gen.name()->string_view()).second)
      return fail(where, "has an empty or repeated name");
    struct Count {
      const char *name;
      int64_t value;
    };
    for (const Count &c :
         {Count{"width", gen.width()}, Count{"items", gen.items()},
          Count{"levels", gen.levels()}, Count{"codebook", gen.codebook()}})
      if (c.value < 1 || c.value > kMaxCount)
        return fail(where, fmt::format("has {} {}, expected 1 to {}", c.name,
                                       c.value, kMaxCount));
    if (gen.length() != gen.items() * (gen.levels() + 1) ||
        gen.bos() != gen.levels() * gen.codebook())
      return fail(where,
                  fmt::format("has length {} and bos {}, expected items x "
                              "(levels + 1) = {} and levels x codebook = {}",
                              gen.length(), gen.bos(),
                              gen.items() * (gen.levels() + 1),
                              gen.levels() * gen.codebook()));
    auto named = [](const flatbuffers::String *s) { return s && s->size(); };
    if (named(gen.init()) != named(gen.step()))
      return fail(where, "names one of its init and step entries without "
                         "the other");
    for (const flatbuffers::String *entry :
         {gen.encoder(), gen.init(), gen.step()}) {
      if (!entry || entry->size() == 0)
        continue;
      bool found = false;
      for (uint32_t e = 0; e < sizeOf(plan_.entries()) && !found; ++e)
        found = plan_.entries()->Get(e)->name()->string_view() ==
                entry->string_view();
      if (!found)
        return fail(where, fmt::format("names entry '{}', which the plan "
                                       "does not have",
                                       printable(entry)));
    }
  }
  return Status::ok();
}

/// 1.2: the CUDA kernels of fused groups. The runtime hands their bytes to
/// the CUDA driver, so what is checked is what a loader and a launch rely
/// on: a name to look up, code to load, and a launch shape and domain that
/// are valid for every binding.
Status Validator::checkCudaKernels() {
  uint32_t count = sizeOf(plan_.cuda_kernels());
  if (count && !(static_cast<uint64_t>(plan_.requirements()) &
                 static_cast<uint64_t>(plan::Requirement::Cuda)))
    return fail("", fmt::format("has {} CUDA kernels but does not require Cuda",
                                count));
  std::set<std::string_view> names;
  for (uint32_t i = 0; i < count; ++i) {
    const plan::CudaKernel &k = *plan_.cuda_kernels()->Get(i);
    std::string where =
        fmt::format("CUDA kernel {} ('{}')", i, printable(k.name()));
    std::string_view name = k.name()->string_view();
    bool identifier = !name.empty() && name.size() <= 256 &&
                      !(name[0] >= '0' && name[0] <= '9') &&
                      std::all_of(name.begin(), name.end(), [](char c) {
                        return c == '_' || (c >= 'a' && c <= 'z') ||
                               (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                      });
    if (!identifier)
      return fail(where, "has a name that is not a C identifier");
    if (!names.insert(name).second)
      return fail(where, "is stored twice");
    if (sizeOf(k.cubin()) == 0 && (!k.ptx() || k.ptx()->size() == 0))
      return fail(where, "has neither a cubin nor PTX");
    uint32_t tpr = k.threads_per_row(), rpb = k.rows_per_block();
    if (!isPowerOfTwo(tpr) || tpr > 1024 || rpb == 0 ||
        uint64_t(tpr) * rpb > 1024)
      return fail(where, fmt::format("has a launch shape of {} threads per "
                                     "row and {} rows per block; expected a "
                                     "power of two and at most 1024 threads",
                                     tpr, rpb));
    if (!elementsAligned(k.domain()))
      return fail(where, "its domain is misaligned");
    if (sizeOf(k.domain()) > Shape::kMaxRank)
      return fail(where, fmt::format("has a domain of rank {}, at most {}",
                                     sizeOf(k.domain()), Shape::kMaxRank));
    for (uint32_t d = 0; d < sizeOf(k.domain()); ++d) {
      const plan::Extent &e = *k.domain()->Get(d);
      bool ok = e.symbol() < 0
                    ? e.static_size() > 0 &&
                          e.static_size() <= PlanLimits::kMaxElements
                    : static_cast<uint32_t>(e.symbol()) < sizeOf(plan_.dims());
      if (!ok)
        return fail(where, fmt::format("domain extent {} is invalid", d));
    }
  }
  return Status::ok();
}

StatusOr<EntryFacts> Validator::checkEntry(uint32_t index) {
  const plan::Entry &entry = *plan_.entries()->Get(index);
  std::string where = fmt::format("entry '{}'", printable(entry.name()));
  if (entry.name()->size() == 0)
    return fail(fmt::format("entry {}", index), "has an empty name");
  if (entry.kind() > plan::EntryKind::MAX)
    return fail(where, fmt::format("has unknown kind {}", int(entry.kind())));
  if (entry.arena_bytes() > PlanLimits::kMaxBytes)
    return fail(
        where, fmt::format("needs an arena of {} bytes, more than the limit {}",
                           entry.arena_bytes(), PlanLimits::kMaxBytes));
  if (!(entry.flops() >= 0))
    return fail(where,
                fmt::format("has flops {}, expected a non-negative number",
                            entry.flops()));
  tensorBytes_.assign(sizeOf(entry.tensors()), 0);
  for (uint32_t t = 0; t < sizeOf(entry.tensors()); ++t)
    if (Status s = checkTensor(entry, t, where); !s)
      return s;
  if (Status s = checkBindings(entry, where); !s)
    return s;
  EntryFacts facts;
  facts.dimMinimum.assign(sizeOf(plan_.dims()), 1);
  for (uint32_t k = 0; k < sizeOf(entry.kernels()); ++k)
    if (Status s = checkKernel(entry, k, where, facts); !s)
      return s;
  for (uint32_t d = 0; d < facts.dimMinimum.size(); ++d)
    if (facts.dimMinimum[d] > plan_.dims()->Get(d)->max())
      return fail(
          where,
          fmt::format("needs dim '{}' to be at least {}, but its maximum is {}",
                      printable(plan_.dims()->Get(d)->name()),
                      facts.dimMinimum[d], plan_.dims()->Get(d)->max()));
  return facts;
}

Status Validator::checkTensor(const plan::Entry &entry, uint32_t index,
                              const std::string &entryWhere) {
  const plan::Tensor &tensor = *entry.tensors()->Get(index);
  std::string where = fmt::format("{} tensor {}", entryWhere, index);
  if (tensor.name() && tensor.name()->size())
    where += fmt::format(" ('{}')", printable(tensor.name()));
  if (tensor.dtype() > plan::DType::MAX)
    return fail(where,
                fmt::format("has unknown dtype {}", int(tensor.dtype())));
  if (!elementsAligned(tensor.shape()))
    return fail(where, "its shape vector is misaligned");
  DType dtype = static_cast<DType>(tensor.dtype());
  if (tensor.index_bound() < 0 ||
      (tensor.index_bound() > 0 && !isInteger(dtype)))
    return fail(
        where,
        fmt::format(
            "has index_bound {}; it must be 0, or positive for an integer "
            "tensor",
            tensor.index_bound()));
  uint32_t rank = sizeOf(tensor.shape());
  if (rank > static_cast<uint32_t>(Shape::kMaxRank))
    return fail(where, fmt::format("has rank {}, at most {} is supported", rank,
                                   Shape::kMaxRank));
  std::vector<int64_t> maxima;
  for (uint32_t i = 0; i < rank; ++i) {
    const plan::Extent &extent = *tensor.shape()->Get(i);
    if (extent.symbol() >= 0) {
      if (static_cast<uint32_t>(extent.symbol()) >= sizeOf(plan_.dims()))
        return fail(
            where,
            fmt::format(
                "dimension {} refers to dim {}, but the plan declares {}", i,
                extent.symbol(), sizeOf(plan_.dims())));
      maxima.push_back(
          plan_.dims()->Get(static_cast<uint32_t>(extent.symbol()))->max());
    } else if (extent.symbol() == -1) {
      if (extent.static_size() <= 0)
        return fail(
            where,
            fmt::format("dimension {} has extent {}, expected a positive one",
                        i, extent.static_size()));
      maxima.push_back(extent.static_size());
    } else {
      return fail(
          where,
          fmt::format(
              "dimension {} has symbol {}, expected -1 (static) or a dim "
              "index",
              i, extent.symbol()));
    }
  }
  std::optional<int64_t> numel = boundedProduct(maxima);
  if (!numel)
    return fail(where,
                fmt::format("{} has more than {} elements at the dims' maxima",
                            formatTensorType(plan_, tensor),
                            PlanLimits::kMaxElements));
  uint64_t bytes = uint64_t(*numel) * dtypeSize(dtype);
  tensorBytes_[index] = bytes;
  switch (tensor.storage()) {
  case plan::Storage::Arena:
    if (tensor.offset() % dtypeSize(dtype) != 0)
      return fail(where, fmt::format("arena offset {} is not aligned to its "
                                     "{}-byte elements",
                                     tensor.offset(), dtypeSize(dtype)));
    if (bytes > entry.arena_bytes() ||
        tensor.offset() > entry.arena_bytes() - bytes)
      return fail(
          where,
          fmt::format(
              "occupies arena bytes [{}, {}) at the dims' maxima, but the "
              "arena has {}",
              tensor.offset(), tensor.offset() + bytes, entry.arena_bytes()));
    return Status::ok();
  case plan::Storage::Parameter: {
    if (tensor.index() >= sizeOf(plan_.params()))
      return fail(where, fmt::format("is parameter {}, but the plan has {}",
                                     tensor.index(), sizeOf(plan_.params())));
    const plan::Parameter &param = *plan_.params()->Get(tensor.index());
    std::vector<int64_t> paramExtents;
    if (param.shape())
      paramExtents.assign(param.shape()->begin(), param.shape()->end());
    bool allStatic = true;
    for (uint32_t i = 0; i < rank; ++i)
      allStatic &= tensor.shape()->Get(i)->symbol() < 0;
    if (tensor.dtype() != param.dtype() || !allStatic ||
        *numel != boundedProduct(paramExtents).value_or(-1))
      return fail(where, fmt::format("{} does not view parameter {} ('{}') {}",
                                     formatTensorType(plan_, tensor),
                                     tensor.index(), printable(param.name()),
                                     formatParameterType(param)));
    return Status::ok();
  }
  case plan::Storage::Input:
    if (tensor.index() >= sizeOf(entry.inputs()))
      return fail(where, fmt::format("is entry input {}, but the entry has {}",
                                     tensor.index(), sizeOf(entry.inputs())));
    return Status::ok();
  }
  return fail(where,
              fmt::format("has unknown storage {}", int(tensor.storage())));
}

Status Validator::checkBindings(const plan::Entry &entry,
                                const std::string &entryWhere) {
  uint32_t numTensors = sizeOf(entry.tensors());
  for (bool isInput : {true, false}) {
    const auto *bindings = isInput ? entry.inputs() : entry.outputs();
    std::set<std::string_view> names;
    for (uint32_t i = 0; i < sizeOf(bindings); ++i) {
      const plan::Binding &binding = *bindings->Get(i);
      std::string where = fmt::format("{} {} {} ('{}')", entryWhere,
                                      isInput ? "input" : "output", i,
                                      printable(binding.name()));
      if (binding.name()->size() == 0)
        return fail(where, "has an empty name");
      if (!names.insert(binding.name()->string_view()).second)
        return fail(where, "is named twice");
      if (binding.role() > plan::ArgRole::MAX)
        return fail(where,
                    fmt::format("has unknown role {}", int(binding.role())));
      if (binding.tensor() >= numTensors)
        return fail(where, fmt::format("is tensor {}, but the entry has {}",
                                       binding.tensor(), numTensors));
      const plan::Tensor &tensor = *entry.tensors()->Get(binding.tensor());
      if (isInput &&
          (tensor.storage() != plan::Storage::Input || tensor.index() != i))
        return fail(where,
                    fmt::format("is tensor {}, which is not stored as input {}",
                                binding.tensor(), i));
    }
  }
  // Every dim the entry's tensors use must be bound by an input's shape.
  std::vector<bool> bound(sizeOf(plan_.dims()), false);
  for (uint32_t i = 0; i < sizeOf(entry.inputs()); ++i) {
    SymShape shape =
        symbolicShape(*entry.tensors()->Get(entry.inputs()->Get(i)->tensor()));
    for (int d = 0; d < shape.rank; ++d)
      if (!shape[d].isStatic())
        bound[shape[d].symbol] = true;
  }
  for (uint32_t t = 0; t < numTensors; ++t) {
    SymShape shape = symbolicShape(*entry.tensors()->Get(t));
    for (int d = 0; d < shape.rank; ++d)
      if (!shape[d].isStatic() && !bound[shape[d].symbol])
        return fail(
            fmt::format("{} tensor {}", entryWhere, t),
            fmt::format("uses dim '{}', which no input of the entry binds",
                        printable(plan_.dims()->Get(shape[d].symbol)->name())));
  }
  // Other views of an input must cover the same elements for every binding.
  for (uint32_t t = 0; t < numTensors; ++t) {
    const plan::Tensor &view = *entry.tensors()->Get(t);
    if (view.storage() != plan::Storage::Input)
      continue;
    const plan::Tensor &input =
        *entry.tensors()->Get(entry.inputs()->Get(view.index())->tensor());
    if (view.dtype() != input.dtype() || !(symbolicCount(symbolicShape(view)) ==
                                           symbolicCount(symbolicShape(input))))
      return fail(
          fmt::format("{} tensor {}", entryWhere, t),
          fmt::format("{} does not view input {} {} element for element",
                      formatTensorType(plan_, view), view.index(),
                      formatTensorType(plan_, input)));
  }
  return Status::ok();
}

Status Validator::checkKernel(const plan::Entry &entry, uint32_t index,
                              const std::string &entryWhere,
                              EntryFacts &facts) {
  const plan::Kernel &kernel = *entry.kernels()->Get(index);
  std::string where = fmt::format("{} kernel {}", entryWhere, index);
  if (kernel.op() > plan::OpCode::MAX)
    return fail(where, fmt::format("has unknown op {}", int(kernel.op())));
  where += fmt::format(" ({}", plan::EnumNameOpCode(kernel.op()));
  if (kernel.location() && kernel.location()->size())
    where += " at " + printable(kernel.location());
  where += ")";
  uint32_t numTensors = sizeOf(entry.tensors());
  if (sizeOf(kernel.inputs()) > PlanLimits::kMaxOperands)
    return fail(where,
                fmt::format("has {} operands, at most {} are supported",
                            sizeOf(kernel.inputs()), PlanLimits::kMaxOperands));
  for (uint32_t i = 0; i < sizeOf(kernel.inputs()); ++i) {
    uint32_t t = kernel.inputs()->Get(i);
    if (t != kAbsentOperand && t >= numTensors)
      return fail(where,
                  fmt::format("operand {} is tensor {}, but the entry has {}",
                              i, t, numTensors));
  }
  for (uint32_t i = 0; i < sizeOf(kernel.outputs()); ++i) {
    uint32_t t = kernel.outputs()->Get(i);
    if (t == kAbsentOperand)
      continue; // allowed for optional results (checkSignature)
    if (t >= numTensors)
      return fail(where,
                  fmt::format("result {} is tensor {}, but the entry has {}", i,
                              t, numTensors));
    if (entry.tensors()->Get(t)->storage() == plan::Storage::Input)
      return fail(
          where,
          fmt::format("result {} is tensor {}, which is the caller's input", i,
                      t));
    if (entry.tensors()->Get(t)->storage() == plan::Storage::Parameter)
      return fail(
          where,
          fmt::format("result {} is tensor {}, which is parameter {}; only "
                      "the optimizer ops (AdamWUpdate, SgdUpdate, "
                      "MoeBiasUpdate, AssignAdd, Fill, Assign, "
                      "MultiAdamWUpdate, MultiSgdUpdate) of TrainStep entries "
                      "write parameters",
                      i, t, entry.tensors()->Get(t)->index()));
  }
  for (uint32_t i = 0; i < sizeOf(kernel.attrs()); ++i) {
    const plan::Attr &attr = *kernel.attrs()->Get(i);
    if (attr.value_type() == plan::AttrValue::NONE ||
        attr.value_type() > plan::AttrValue::MAX)
      return fail(where,
                  fmt::format("attribute '{}' has unknown kind {}",
                              printable(attr.name()), int(attr.value_type())));
    if (attr.value_type() == plan::AttrValue::IntsAttr &&
        !elementsAligned(attr.value_as_IntsAttr()->values()))
      return fail(where,
                  fmt::format("attribute '{}': its values are misaligned",
                              printable(attr.name())));
  }
  // 1.2: a fused group's CUDA kernel (checkCudaKernels checked the table).
  if (kernel.cuda_kernel() != kAbsentOperand &&
      kernel.cuda_kernel() >= sizeOf(plan_.cuda_kernels()))
    return fail(where, fmt::format("names CUDA kernel {}, but the plan has {}",
                                   kernel.cuda_kernel(),
                                   sizeOf(plan_.cuda_kernels())));
  KernelChecker checker(plan_, entry, kernel, layout_.fileName + ": " + where,
                        facts.dimMinimum);
  if (Status s = checkSignature(checker); !s)
    return s;
  if (Status s = checkShapeRules(checker); !s)
    return s;
  if (Status s = checkInPlace(entry, kernel, checker); !s)
    return s;
  return checkAliasing(entry, kernel, checker);
}

/// The optimizer ops write their in-place operands: parameters (weights or
/// optimizer state), only in TrainStep entries, and no other operand of the
/// kernel may share their bytes.
Status Validator::checkInPlace(const plan::Entry &entry,
                               const plan::Kernel &kernel,
                               const KernelChecker &checker) {
  plan::OpCode op = kernel.op();
  if (!inPlaceOperands(op) && !multiUpdateSegments(op))
    return Status::ok();
  if (entry.kind() != plan::EntryKind::TrainStep)
    return checker.fail(fmt::format(
        "updates parameters in place, which only TrainStep entries may do "
        "(this entry is {})",
        plan::EnumNameEntryKind(entry.kind())));
  for (int i = 0; i < checker.numInputs(); ++i) {
    if (!writesInPlace(op, i, checker.numInputs()) || !checker.present(i))
      continue;
    const plan::Tensor &target = checker.inTensor(i);
    if (target.storage() != plan::Storage::Parameter)
      return checker.fail(
          fmt::format("{} is written in place, so it must be a parameter",
                      checker.operand(i)));
    for (int j = 0; j < checker.numInputs(); ++j) {
      if (j == i || !checker.present(j))
        continue;
      const plan::Tensor &other = checker.inTensor(j);
      if (other.storage() == plan::Storage::Parameter &&
          other.index() == target.index())
        return checker.fail(fmt::format("{} is written in place and is also "
                                        "{}",
                                        checker.operand(i),
                                        checker.operand(j)));
    }
  }
  return Status::ok();
}

/// Results may not overlap each other or an operand, except an elementwise
/// result that reuses an operand's bytes exactly (same offset and shape).
Status Validator::checkAliasing(const plan::Entry &entry,
                                const plan::Kernel &kernel,
                                const KernelChecker &checker) {
  auto overlaps = [&](uint32_t a, uint32_t b) {
    const plan::Tensor &x = *entry.tensors()->Get(a),
                       &y = *entry.tensors()->Get(b);
    if (x.storage() != y.storage())
      return false;
    if (x.storage() == plan::Storage::Parameter)
      return x.index() == y.index();
    return x.offset() < y.offset() + tensorBytes_[b] &&
           y.offset() < x.offset() + tensorBytes_[a];
  };
  for (uint32_t r = 0; r < sizeOf(kernel.outputs()); ++r) {
    uint32_t result = kernel.outputs()->Get(r);
    if (result == kAbsentOperand)
      continue;
    for (uint32_t s = 0; s < r; ++s)
      if (kernel.outputs()->Get(s) != kAbsentOperand &&
          overlaps(result, kernel.outputs()->Get(s)))
        return checker.fail(fmt::format("{} overlaps {}",
                                        checker.result(static_cast<int>(r)),
                                        checker.result(static_cast<int>(s))));
    for (uint32_t i = 0; i < sizeOf(kernel.inputs()); ++i) {
      uint32_t operand = kernel.inputs()->Get(i);
      if (operand == kAbsentOperand || !overlaps(result, operand))
        continue;
      const plan::Tensor &x = *entry.tensors()->Get(result),
                         &y = *entry.tensors()->Get(operand);
      bool inPlace = isElementwise(kernel.op()) && x.offset() == y.offset() &&
                     x.index() == y.index() &&
                     dtypeSize(static_cast<DType>(x.dtype())) ==
                         dtypeSize(static_cast<DType>(y.dtype())) &&
                     symbolicShape(x) == symbolicShape(y);
      if (!inPlace)
        return checker.fail(
            fmt::format("{} overlaps {}{}", checker.result(static_cast<int>(r)),
                        checker.operand(static_cast<int>(i)),
                        isElementwise(kernel.op())
                            ? " without being the same bytes and shape"
                            : "; this op cannot compute in place"));
    }
  }
  return Status::ok();
}

} // namespace

//===----------------------------------------------------------------------===//
// Shared pieces (PlanChecks.h)
//===----------------------------------------------------------------------===//

namespace detail {

SymShape symbolicShape(const plan::Tensor &tensor) {
  SymShape shape;
  if (const auto *extents = tensor.shape())
    for (const plan::Extent *e : *extents)
      shape.push(e->symbol() >= 0 ? SymDim{0, e->symbol()}
                                  : SymDim::fixed(e->static_size()));
  return shape;
}

bool broadcastShapes(const SymShape &a, const SymShape &b, SymShape &result) {
  int rank = std::max(a.rank, b.rank);
  result.rank = rank;
  for (int i = 0; i < rank; ++i) {
    const SymDim *l = i < a.rank ? &a[a.rank - 1 - i] : nullptr;
    const SymDim *r = i < b.rank ? &b[b.rank - 1 - i] : nullptr;
    SymDim &out = result[rank - 1 - i];
    if (!l || l->isOne())
      out = r ? *r : *l;
    else if (!r || r->isOne() || *l == *r)
      out = *l;
    else
      return false;
  }
  return true;
}

bool broadcastsTo(const SymShape &from, const SymShape &to) {
  SymShape result;
  return from.rank <= to.rank && broadcastShapes(from, to, result) &&
         result == to;
}

bool isFloat(DType t) {
  return t == DType::f32 || t == DType::f16 || t == DType::bf16;
}
bool isInteger(DType t) { return t == DType::i32 || t == DType::i64; }
bool isNumeric(DType t) { return isFloat(t) || isInteger(t); }

KernelChecker::KernelChecker(const plan::Plan &plan, const plan::Entry &entry,
                             const plan::Kernel &kernel, std::string where,
                             std::vector<int64_t> &dimMinimum)
    : plan_(plan), entry_(entry), kernel_(kernel), where_(std::move(where)),
      dimMinimum_(dimMinimum), attrs_(decodeKernelAttrs(kernel)) {
  for (bool isInput : {true, false}) {
    const auto *indices = isInput ? kernel.inputs() : kernel.outputs();
    for (uint32_t i = 0; i < sizeOf(indices); ++i) {
      uint32_t t = indices->Get(i);
      const plan::Tensor *tensor =
          t == kAbsentOperand || t >= sizeOf(entry.tensors())
              ? nullptr
              : entry.tensors()->Get(t);
      (isInput ? inputs_ : outputs_).push_back(tensor);
      (isInput ? inputIndices_ : outputIndices_).push_back(t);
    }
  }
}

std::string KernelChecker::format(const SymDim &dim) const {
  if (dim.isStatic())
    return std::to_string(dim.size);
  return printable(
      plan_.dims()->Get(static_cast<uint32_t>(dim.symbol))->name());
}

std::string KernelChecker::format(const SymShape &shape) const {
  std::string text = "[";
  for (int i = 0; i < shape.rank; ++i)
    text += (i ? ", " : "") + format(shape[i]);
  return text + "]";
}

static std::string describe(const char *role, int i, uint32_t index,
                            const plan::Tensor &tensor,
                            const plan::Plan &plan) {
  std::string name = tensor.name() && tensor.name()->size()
                         ? fmt::format(" '{}'", printable(tensor.name()))
                         : std::string();
  return fmt::format("{} {} (tensor {}{}, {})", role, i, index, name,
                     formatTensorType(plan, tensor));
}

std::string KernelChecker::operand(int i) const {
  return describe("operand", i, inputIndices_[i], *inputs_[i], plan_);
}

std::string KernelChecker::result(int i) const {
  return describe("result", i, outputIndices_[i], *outputs_[i], plan_);
}

Status KernelChecker::fail(const std::string &message) const {
  return Status::error(Status::Code::Corrupt, where_ + ": " + message);
}

void KernelChecker::requireAtLeast(const SymDim &dim, int64_t minimum) {
  if (!dim.isStatic())
    dimMinimum_[dim.symbol] = std::max(dimMinimum_[dim.symbol], minimum);
}

Status KernelChecker::expectResult(int i, DType dtype,
                                   const SymShape &shape) const {
  if (!resultPresent(i) || (outDType(i) == dtype && outShape(i) == shape))
    return Status::ok();
  return fail(fmt::format("{} should be {}{}", result(i), dtypeName(dtype),
                          format(shape)));
}

} // namespace detail

StatusOr<PlanFacts> validatePlan(const plan::Plan &plan,
                                 const PlanFileLayout &layout) {
  return Validator(plan, layout).run();
}

} // namespace onerec::runtime
