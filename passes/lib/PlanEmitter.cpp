//===- PlanEmitter.cpp - writes a compiled module as a plan ---------------===//

#include "onerec/Passes/PlanEmitter.h"

#include "FusedProgramBuilder.h"
#include "KernelTable.h"
#include "ParameterInit.h"
#include "onerec/Dialect/Rec/IR/Rec.h"
#include "onerec/Passes/CudaCodegen.h"

#include "plan_generated.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Path.h"

#include <vector>

using namespace mlir;
using namespace onerec;
using rec::RecTensorType;
namespace fb = flatbuffers;

namespace {

constexpr uint32_t kSegmentAlignment = 64;
constexpr uint32_t kAbsentOperand = 0xFFFFFFFFu;

uint64_t alignTo(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

/// `sasrec.rdsl:36:18`: the innermost file location (the op's own site
/// inside the block or def that was instantiated).
std::string formatLocation(Location loc) {
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return (llvm::sys::path::filename(file.getFilename().getValue()) + ":" +
            llvm::Twine(file.getLine()) + ":" + llvm::Twine(file.getColumn()))
        .str();
  if (auto call = dyn_cast<CallSiteLoc>(loc))
    return formatLocation(call.getCallee());
  if (auto name = dyn_cast<NameLoc>(loc))
    return formatLocation(name.getChildLoc());
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations()) {
      std::string s = formatLocation(inner);
      if (!s.empty())
        return s;
    }
  return "";
}

/// The runtime dtype and index bound of a rec tensor's element type.
FailureOr<std::pair<plan::DType, int64_t>> runtimeType(RecTensorType type) {
  Type e = type.getElementType();
  if (auto id = dyn_cast<rec::IdType>(e))
    return std::make_pair(plan::DType::i64, id.getVocab());
  if (auto sid = dyn_cast<rec::SidType>(e))
    return std::make_pair(plan::DType::i64, sid.getCodebook());
  if (e.isF32())
    return std::make_pair(plan::DType::f32, int64_t(0));
  if (e.isF16())
    return std::make_pair(plan::DType::f16, int64_t(0));
  if (e.isBF16())
    return std::make_pair(plan::DType::bf16, int64_t(0));
  if (e.isInteger(1))
    return std::make_pair(plan::DType::bool8, int64_t(0));
  if (e.isInteger(32))
    return std::make_pair(plan::DType::i32, int64_t(0));
  if (e.isInteger(64))
    return std::make_pair(plan::DType::i64, int64_t(0));
  return failure();
}

std::optional<plan::OpCode> opcodeByName(StringRef name) {
  for (plan::OpCode op : plan::EnumValuesOpCode())
    if (name == plan::EnumNameOpCode(op))
      return op;
  return std::nullopt;
}

/// A parameter's plan name: nested (imported) models prefix their name,
/// `pscore.item_table`.
std::string paramKey(SymbolRefAttr ref) {
  std::string key = ref.getRootReference().str();
  for (FlatSymbolRefAttr nested : ref.getNestedReferences())
    key += "." + nested.getValue().str();
  return key;
}

struct ParamInfo {
  mutable rec::ParamOp op;
  std::string name;
  std::vector<int64_t> shape;
  uint64_t offset = 0; // in the segment
  uint64_t bytes = 0;
  /// Optimizer state: not stored, the runtime starts it from its init.
  bool stored = true;
  std::string stateOf;
};

class PlanWriter {
public:
  PlanWriter(ModuleOp module, const PlanEmitterOptions &options)
      : module(module), options(options) {}

  LogicalResult write(llvm::raw_ostream &os);

private:
  LogicalResult collectParams();
  /// Builds the FlatBuffer with the parameter segment at `segmentOffset`.
  LogicalResult build(fb::FlatBufferBuilder &fbb, uint64_t segmentOffset);
  FailureOr<fb::Offset<plan::Entry>> buildEntry(fb::FlatBufferBuilder &fbb,
                                                func::FuncOp func);
  fb::Offset<plan::TrainConfig> buildTrainConfig(fb::FlatBufferBuilder &fbb);
  /// 1.3: the generate sections and their decoding entries.
  std::vector<fb::Offset<plan::Generate>>
  buildGenerate(fb::FlatBufferBuilder &fbb);
  FailureOr<fb::Offset<plan::Tensor>>
  buildTensor(fb::FlatBufferBuilder &fbb, Value value, StringRef name,
              plan::Storage storage, uint64_t offset, uint32_t index);
  /// 1.2: the index in Plan.cuda_kernels of the CUDA kernel rec-generate-cuda
  /// attached to `op` (0xFFFFFFFF for none); each distinct kernel is stored
  /// once.
  FailureOr<uint32_t> cudaKernelIndex(Operation *op);
  FailureOr<std::vector<fb::Offset<plan::CudaKernel>>>
  buildCudaKernels(fb::FlatBufferBuilder &fbb);

  ModuleOp module;
  const PlanEmitterOptions &options;
  llvm::StringMap<int64_t> maxima;
  llvm::StringMap<int32_t> dimIndex;
  std::vector<ParamInfo> params;
  llvm::StringMap<uint32_t> paramIndex;
  uint64_t segmentBytes = 0;
  /// CUDA kernels by name, in first-use order (reset per build).
  llvm::StringMap<uint32_t> cudaIndex;
  std::vector<Operation *> cudaOps;
};

FailureOr<uint32_t> PlanWriter::cudaKernelIndex(Operation *op) {
  auto name = op->getAttrOfType<StringAttr>(cuda_attrs::kKernel);
  if (!name)
    return kAbsentOperand;
  if (!op->getAttrOfType<StringAttr>(cuda_attrs::kCubin) ||
      !op->getAttrOfType<StringAttr>(cuda_attrs::kPtx) ||
      !op->getAttrOfType<TypeAttr>(cuda_attrs::kDomain) ||
      !op->getAttrOfType<DenseI64ArrayAttr>(cuda_attrs::kLaunch))
    return op->emitError("plan: CUDA kernel ")
           << name << " has no cubin, PTX, domain or launch shape; run "
           << "rec-generate-cuda with compile=true";
  auto [it, inserted] = cudaIndex.try_emplace(name, cudaOps.size());
  if (inserted)
    cudaOps.push_back(op);
  return it->second;
}

FailureOr<std::vector<fb::Offset<plan::CudaKernel>>>
PlanWriter::buildCudaKernels(fb::FlatBufferBuilder &fbb) {
  auto arch = module->getAttrOfType<StringAttr>(cuda_attrs::kArch);
  std::vector<fb::Offset<plan::CudaKernel>> kernels;
  for (Operation *op : cudaOps) {
    auto domain = cast<RecTensorType>(
        op->getAttrOfType<TypeAttr>(cuda_attrs::kDomain).getValue());
    std::vector<plan::Extent> extents;
    for (rec::Dim d : domain.getDims()) {
      if (d.isStatic()) {
        extents.emplace_back(d.size, -1);
        continue;
      }
      auto it = dimIndex.find(d.symbol.getValue());
      if (it == dimIndex.end())
        return op->emitError("plan: dimension '")
               << d.symbol.getValue() << "' is not declared at the top level";
      extents.emplace_back(0, it->second);
    }
    StringRef cubin = op->getAttrOfType<StringAttr>(cuda_attrs::kCubin);
    auto launch = op->getAttrOfType<DenseI64ArrayAttr>(cuda_attrs::kLaunch);
    if (launch.size() != 2)
      return op->emitError("plan: rec.cuda_launch needs two numbers");
    std::vector<uint8_t> bytes(cubin.begin(), cubin.end());
    kernels.push_back(plan::CreateCudaKernelDirect(
        fbb, op->getAttrOfType<StringAttr>(cuda_attrs::kKernel).str().c_str(),
        arch ? arch.str().c_str() : "", &bytes,
        op->getAttrOfType<StringAttr>(cuda_attrs::kPtx).str().c_str(), &extents,
        static_cast<uint32_t>(launch[0]), static_cast<uint32_t>(launch[1])));
  }
  return kernels;
}

LogicalResult PlanWriter::collectParams() {
  // Walk the module and its imported models; a nested module's params are
  // prefixed with the names of the modules that enclose it.
  std::function<LogicalResult(ModuleOp, std::string)> visit =
      [&](ModuleOp m, std::string prefix) -> LogicalResult {
    for (Operation &op : m.getBody()->getOperations()) {
      if (auto nested = dyn_cast<ModuleOp>(op)) {
        std::string name =
            nested.getSymName() ? nested.getSymName()->str() : "";
        if (failed(visit(nested, prefix + name + ".")))
          return failure();
        continue;
      }
      auto param = dyn_cast<rec::ParamOp>(op);
      if (!param)
        continue;
      RecTensorType type = param.getTensorType();
      if (!type.hasStaticShape() || !type.getElementType().isF32())
        return param.emitError(
                   "plan: parameters must be static f32 tensors, got ")
               << rec::formatTensorType(type);
      ParamInfo info;
      info.op = param;
      info.name = prefix + param.getSymName().str();
      for (rec::Dim d : type.getDims())
        info.shape.push_back(d.size);
      info.bytes = *type.getStaticNumElements() * sizeof(float);
      if (auto owner = param.getStateOfAttr()) {
        info.stored = false;
        info.stateOf = prefix + owner.getValue().str();
      } else {
        info.offset = alignTo(segmentBytes, kSegmentAlignment);
        segmentBytes = info.offset + info.bytes;
      }
      paramIndex[info.name] = params.size();
      params.push_back(std::move(info));
    }
    return success();
  };
  return visit(module, "");
}

/// A number from a hyperparameter dictionary or a settings attribute.
std::optional<double> numberOf(Attribute attr) {
  if (auto f = dyn_cast_or_null<FloatAttr>(attr))
    return f.getValueAsDouble();
  if (auto i = dyn_cast_or_null<IntegerAttr>(attr))
    return static_cast<double>(i.getValue().getSExtValue());
  if (auto b = dyn_cast_or_null<BoolAttr>(attr))
    return b.getValue() ? 1.0 : 0.0;
  return std::nullopt;
}

fb::Offset<plan::TrainConfig>
PlanWriter::buildTrainConfig(fb::FlatBufferBuilder &fbb) {
  auto trains = module.getOps<rec::TrainOp>();
  if (trains.empty())
    return 0;
  rec::TrainOp train = *trains.begin();
  auto setting = [&](Operation *op, StringRef name, double fallback) {
    return numberOf(op->getAttr(name)).value_or(fallback);
  };
  auto asInt = [](double v) { return static_cast<int64_t>(v); };
  plan::OptimizerKind optimizer = plan::OptimizerKind::AdamW;
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0,
         momentum = 0, minLr = 0;
  bool nesterov = false;
  plan::ScheduleKind schedule = plan::ScheduleKind::Constant;
  int64_t warmup = 0, total = 0;
  std::vector<fb::Offset<plan::Stage>> stages;
  for (Operation &op : train.getBody().front()) {
    if (auto opt = dyn_cast<rec::OptimizerOp>(op)) {
      DictionaryAttr p = opt.getParams();
      auto get = [&](StringRef name, double fallback) {
        return numberOf(p.get(name)).value_or(fallback);
      };
      optimizer = static_cast<plan::OptimizerKind>(opt.getKind());
      lr = get("lr", 0.0);
      beta1 = get("beta1", 0.9);
      beta2 = get("beta2", 0.999);
      eps = get("eps", 1e-8);
      weightDecay = get("weight_decay", 0.0);
      momentum = get("momentum", 0.0);
      nesterov = get("nesterov", 0.0) != 0.0;
    } else if (auto s = dyn_cast<rec::ScheduleOp>(op)) {
      DictionaryAttr p = s.getParams();
      schedule = static_cast<plan::ScheduleKind>(s.getKind());
      warmup = asInt(numberOf(p.get("warmup")).value_or(0.0));
      total = asInt(numberOf(p.get("total")).value_or(0.0));
      minLr = numberOf(p.get("min_lr")).value_or(0.0);
    } else if (auto stage = dyn_cast<rec::StageOp>(op)) {
      // The stage's training step, as rec-autodiff recorded it (none for a
      // stage it built no entries for).
      auto step = stage->getAttrOfType<StringAttr>(
          rec::RecDialect::kTrainEntryAttrName);
      if (step) {
        auto func = module.lookupSymbol<func::FuncOp>(step);
        if (!func || func->hasAttr("rec.unsupported"))
          step = nullptr; // left out of the plan
      }
      std::string stepName = step ? step.str() : "";
      stages.push_back(plan::CreateStageDirect(
          fbb, stage.getName().str().c_str(), step ? stepName.c_str() : nullptr,
          asInt(setting(stage, "epochs", 0)),
          asInt(setting(stage, "steps", 0))));
    }
  }
  return plan::CreateTrainConfigDirect(
      fbb, optimizer, lr, beta1, beta2, eps, weightDecay, momentum, nesterov,
      schedule, warmup, total, minLr, setting(train, "grad_clip", 0.0),
      asInt(setting(train, "accumulate", 1.0)),
      asInt(setting(train, "batch", 0.0)), &stages);
}

FailureOr<fb::Offset<plan::Tensor>>
PlanWriter::buildTensor(fb::FlatBufferBuilder &fbb, Value value, StringRef name,
                        plan::Storage storage, uint64_t offset,
                        uint32_t index) {
  RecTensorType type = cast<RecTensorType>(value.getType());
  FailureOr<std::pair<plan::DType, int64_t>> dtype = runtimeType(type);
  if (failed(dtype)) {
    emitError(value.getLoc())
        << "plan: no runtime element type for " << rec::formatTensorType(type);
    return failure();
  }
  std::vector<plan::Extent> shape;
  for (rec::Dim d : type.getDims()) {
    if (d.isStatic()) {
      shape.emplace_back(d.size, -1);
      continue;
    }
    auto it = dimIndex.find(d.symbol.getValue());
    if (it == dimIndex.end()) {
      emitError(value.getLoc()) << "plan: dimension '" << d.symbol.getValue()
                                << "' is not declared at the top level";
      return failure();
    }
    shape.emplace_back(0, it->second);
  }
  return plan::CreateTensorDirect(fbb, name.str().c_str(), dtype->first,
                                  dtype->second, &shape, storage, offset,
                                  index);
}

FailureOr<fb::Offset<plan::Entry>>
PlanWriter::buildEntry(fb::FlatBufferBuilder &fbb, func::FuncOp func) {
  std::vector<fb::Offset<plan::Tensor>> tensors;
  std::vector<fb::Offset<plan::Kernel>> kernels;
  std::vector<fb::Offset<plan::Binding>> inputs, outputs;
  // Each value's tensor index, and where its bytes are (views share them).
  struct Place {
    uint32_t tensor;
    plan::Storage storage;
    uint64_t offset;
    uint32_t index;
  };
  llvm::DenseMap<Value, Place> places;
  // Values are placed in program order, so every operand has a place.
  auto placeOf = [&](Value value) -> const Place & {
    auto it = places.find(value);
    assert(it != places.end() && "a value is used before it is placed");
    return it->second;
  };
  auto addTensor = [&](Value value, StringRef name, plan::Storage storage,
                       uint64_t offset, uint32_t index) -> LogicalResult {
    FailureOr<fb::Offset<plan::Tensor>> t =
        buildTensor(fbb, value, name, storage, offset, index);
    if (failed(t))
      return failure();
    places[value] = {static_cast<uint32_t>(tensors.size()), storage, offset,
                     index};
    tensors.push_back(*t);
    return success();
  };

  Block &body = func.getBody().front();
  for (BlockArgument arg : body.getArguments()) {
    unsigned i = arg.getArgNumber();
    auto name = func.getArgAttrOfType<StringAttr>(i, "rec.name");
    auto role = func.getArgAttrOfType<rec::ArgRoleAttr>(i, "rec.role");
    std::string argName = name ? name.str() : ("arg" + llvm::Twine(i)).str();
    if (failed(addTensor(arg, argName, plan::Storage::Input, 0, i)))
      return failure();
    inputs.push_back(plan::CreateBindingDirect(
        fbb, argName.c_str(), placeOf(arg).tensor,
        role ? static_cast<plan::ArgRole>(role.getValue())
             : plan::ArgRole::Argument));
  }

  double flops = 0;
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      auto kind = func->getAttrOfType<rec::EntryKindAttr>("rec.entry");
      std::string base = "output";
      if (kind && kind.getValue() == rec::EntryKind::loss)
        base = "loss";
      else if (kind && kind.getValue() == rec::EntryKind::reward)
        base = "reward";
      for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
        // Training entries name their results (`loss`, `grad.<param>`).
        auto given = func.getResultAttrOfType<StringAttr>(
            i, rec::RecDialect::kNameAttrName);
        std::string name = given ? given.str()
                           : ret.getNumOperands() == 1
                               ? base
                               : base + std::to_string(i);
        outputs.push_back(plan::CreateBindingDirect(
            fbb, name.c_str(), placeOf(value).tensor, plan::ArgRole::Argument));
      }
      continue;
    }
    auto kernel = op.getAttrOfType<StringAttr>("rec.kernel");
    if (!kernel)
      return op.emitError("plan: op has no rec.kernel; run the lowering "
                          "pipeline first");
    std::string location = formatLocation(op.getLoc());
    std::string tensorName =
        (op.getName().stripDialect() + "@" + location).str();
    if (kernel.getValue() == "param") {
      auto ref = cast<rec::ParamRefOp>(op);
      auto it = paramIndex.find(paramKey(ref.getParam()));
      if (it == paramIndex.end())
        return op.emitError("plan: unknown parameter ") << ref.getParam();
      if (failed(addTensor(ref.getResult(), paramKey(ref.getParam()),
                           plan::Storage::Parameter, 0, it->second)))
        return failure();
      continue;
    }
    if (kernel.getValue() == "view") {
      Place from = placeOf(op.getOperand(0));
      if (failed(addTensor(op.getResult(0), tensorName, from.storage,
                           from.offset, from.index)))
        return failure();
      continue;
    }
    std::optional<plan::OpCode> opcode = opcodeByName(kernel.getValue());
    auto offsets = op.getAttrOfType<DenseI64ArrayAttr>("rec.offsets");
    if (!opcode || !offsets ||
        offsets.size() != static_cast<int64_t>(op.getNumResults()))
      return op.emitError(
                 "plan: op has no kernel or memory plan (rec.kernel = ")
             << kernel << ")";
    std::vector<uint32_t> in, out;
    for (Value operand : kernelOperands(&op))
      in.push_back(operand ? placeOf(operand).tensor : kAbsentOperand);
    for (auto [i, result] : llvm::enumerate(op.getResults())) {
      std::string name = op.getNumResults() == 1
                             ? tensorName
                             : tensorName + "#" + std::to_string(i);
      if (failed(addTensor(result, name, plan::Storage::Arena, offsets[i], 0)))
        return failure();
    }
    for (Value result : kernelResults(&op))
      out.push_back(result ? placeOf(result).tensor : kAbsentOperand);
    std::vector<fb::Offset<plan::Attr>> attrs;
    for (auto &[name, value] : kernelAttrs(&op)) {
      fb::Offset<void> v;
      plan::AttrValue kind;
      if (auto *i = std::get_if<int64_t>(&value)) {
        v = plan::CreateIntAttr(fbb, *i).Union();
        kind = plan::AttrValue::IntAttr;
      } else if (auto *f = std::get_if<double>(&value)) {
        v = plan::CreateFloatAttr(fbb, *f).Union();
        kind = plan::AttrValue::FloatAttr;
      } else {
        v = plan::CreateIntsAttrDirect(fbb,
                                       &std::get<std::vector<int64_t>>(value))
                .Union();
        kind = plan::AttrValue::IntsAttr;
      }
      attrs.push_back(plan::CreateAttr(fbb, fbb.CreateString(name), kind, v));
    }
    // 1.2: a fused group carries its program.
    fb::Offset<plan::FusedProgram> program = 0;
    if (auto fused = dyn_cast<rec::FusedOp>(op)) {
      auto built = buildFusedProgram(fbb, fused);
      if (failed(built))
        return failure();
      program = *built;
    }
    FailureOr<uint32_t> cudaKernel = cudaKernelIndex(&op);
    if (failed(cudaKernel))
      return failure();
    kernels.push_back(plan::CreateKernelDirect(fbb, *opcode, &in, &out, &attrs,
                                               location.c_str(), program,
                                               *cudaKernel));
    flops += estimateFlops(&op, maxima);
  }

  auto arena = func->getAttrOfType<IntegerAttr>("rec.arena_bytes");
  if (!arena)
    return func.emitError(
        "plan: entry has no memory plan; run rec-plan-memory");
  auto kind = func->getAttrOfType<rec::EntryKindAttr>("rec.entry");
  return plan::CreateEntryDirect(
      fbb, func.getSymName().str().c_str(),
      kind ? static_cast<plan::EntryKind>(kind.getValue())
           : plan::EntryKind::Def,
      &inputs, &outputs, &tensors, &kernels, arena.getInt(), flops);
}

LogicalResult PlanWriter::build(fb::FlatBufferBuilder &fbb,
                                uint64_t segmentOffset) {
  std::vector<fb::Offset<plan::Dim>> dims;
  for (auto dim : module.getOps<rec::DimOp>())
    dims.push_back(plan::CreateDimDirect(fbb, dim.getSymName().str().c_str(),
                                         static_cast<int64_t>(dim.getMax())));

  std::vector<fb::Offset<plan::Parameter>> paramTables;
  for (const ParamInfo &p : params) {
    rec::InitAttr init = p.op.getInit();
    auto initTable =
        plan::CreateInit(fbb, static_cast<plan::InitKind>(init.getKind()),
                         init.getA().convertToDouble(),
                         init.getB().convertToDouble(), init.getSeed());
    paramTables.push_back(plan::CreateParameterDirect(
        fbb, p.name.c_str(), plan::DType::f32, &p.shape, initTable,
        p.op.getBuffer(), p.op.getNoDecay(), /*segment=*/0, p.offset,
        p.stored ? plan::ParameterRole::Weight
                 : plan::ParameterRole::OptimizerState,
        p.stored ? nullptr : p.stateOf.c_str()));
  }

  cudaIndex.clear();
  cudaOps.clear();
  std::vector<fb::Offset<plan::Entry>> entries;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!func->hasAttr("rec.entry") || func->hasAttr("rec.unsupported") ||
        func.isExternal())
      continue;
    FailureOr<fb::Offset<plan::Entry>> entry = buildEntry(fbb, func);
    if (failed(entry))
      return failure();
    entries.push_back(*entry);
  }

  std::vector<fb::Offset<plan::Segment>> segments = {
      plan::CreateSegment(fbb, segmentOffset, segmentBytes)};
  fb::Offset<plan::TrainConfig> train = buildTrainConfig(fbb);
  std::vector<fb::Offset<plan::Generate>> generate = buildGenerate(fbb);
  auto model = module->getAttrOfType<StringAttr>("rec.model");
  auto seed = module->getAttrOfType<IntegerAttr>("rec.seed");
  // 1.2: fused groups' CUDA kernels; a plan that has them needs a GPU.
  FailureOr<std::vector<fb::Offset<plan::CudaKernel>>> cudaKernels =
      buildCudaKernels(fbb);
  if (failed(cudaKernels))
    return failure();
  plan::Requirement requirements = plan::Requirement::Cpu;
  if (!cudaOps.empty())
    requirements = requirements | plan::Requirement::Cuda;
  auto root = plan::CreatePlanDirect(
      fbb, kPlanFormatMajor, kPlanFormatMinor, requirements,
      options.producer.c_str(), options.sourceHash.c_str(),
      model ? model.str().c_str() : "", seed ? seed.getInt() : 0, &dims,
      &paramTables, &entries, &segments, kSegmentAlignment, train,
      &*cudaKernels, &generate);
  plan::FinishSizePrefixedPlanBuffer(fbb, root);
  return success();
}

std::vector<fb::Offset<plan::Generate>>
PlanWriter::buildGenerate(fb::FlatBufferBuilder &fbb) {
  std::vector<fb::Offset<plan::Generate>> tables;
  for (auto gen : module.getOps<rec::GenerateOp>()) {
    auto session = cast<rec::RecTensorType>(gen.getType());
    int64_t levels = session.getDim(2).size;
    int64_t codebook =
        cast<rec::SidType>(session.getElementType()).getCodebook();
    int64_t items = static_cast<int64_t>(gen.getItems());
    std::string init = gen.getInit() ? gen.getInit()->str() : "";
    std::string step = gen.getStep() ? gen.getStep()->str() : "";
    tables.push_back(plan::CreateGenerateDirect(
        fbb, gen.getSymName().str().c_str(),
        static_cast<int64_t>(gen.getWidth()), items, levels, codebook,
        gen.getConstrain() == rec::DecodeConstraint::catalog,
        gen.getEncoder().str().c_str(), init.empty() ? nullptr : init.c_str(),
        step.empty() ? nullptr : step.c_str(), items * (levels + 1),
        levels * codebook));
  }
  return tables;
}

LogicalResult PlanWriter::write(llvm::raw_ostream &os) {
  for (auto dim : module.getOps<rec::DimOp>()) {
    dimIndex[dim.getSymName()] = dimIndex.size();
    maxima[dim.getSymName()] = static_cast<int64_t>(dim.getMax());
  }
  if (failed(collectParams()))
    return failure();

  // The segment's offset is stored in the FlatBuffer, whose size does not
  // depend on the offset's value (defaults are forced): build once to learn
  // the size, then again with the real offset.
  fb::FlatBufferBuilder probe;
  probe.ForceDefaults(true);
  if (failed(build(probe, ~uint64_t(0))))
    return failure();
  uint64_t segmentOffset = alignTo(probe.GetSize(), kSegmentAlignment);
  fb::FlatBufferBuilder fbb;
  fbb.ForceDefaults(true);
  if (failed(build(fbb, segmentOffset)) || fbb.GetSize() != probe.GetSize())
    return module.emitError("plan: the FlatBuffer changed size between builds");

  os.write(reinterpret_cast<const char *>(fbb.GetBufferPointer()),
           fbb.GetSize());
  os.write_zeros(segmentOffset - fbb.GetSize());
  // Parameters, each aligned, drawn one at a time to bound memory.
  uint64_t written = 0;
  std::vector<float> values;
  for (const ParamInfo &p : params) {
    if (!p.stored)
      continue;
    os.write_zeros(p.offset - written);
    values.resize(p.bytes / sizeof(float));
    initializeParameter(p.op.getInit(), p.shape, values.data(), values.size());
    os.write(reinterpret_cast<const char *>(values.data()), p.bytes);
    written = p.offset + p.bytes;
  }
  return success();
}

} // namespace

LogicalResult onerec::emitPlan(ModuleOp module,
                               const PlanEmitterOptions &options,
                               llvm::raw_ostream &os) {
  return PlanWriter(module, options).write(os);
}
