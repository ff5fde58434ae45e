//===- DeriveDecodeStep.cpp - the rec-derive-decode-step pass -------------===//
//
// A generative model's decoder def maps a whole token sequence (and the
// encoder's output) to the logits of every position: what training needs.
// Generation feeds one token at a time to hundreds of beams, so for each
// `rec.generate` this pass derives two entries from that same def (docs/
// generation.md, "Decoding entries"):
//
//   <decoder>_init  the part of the decoder that reads no token: the
//                   cross-attention keys and values of the encoder's output,
//                   computed once per request (`context.i`);
//   <decoder>_step  the decoder at one new position per beam row: the rest,
//                   with causal self-attention reading a KV cache and
//                   cross-attention reading the contexts of the row's
//                   request (shared by its beams, never copied per beam).
//
// The step is the decoder's ops walked in order with the token's sequence
// axis tracked through them: position-wise ops (norms, projections, FFNs,
// MoE, elementwise) are cloned at one position; a parameter indexed by the
// position (a positional embedding) is gathered at each row's position; a
// value of the encoder side is gathered by row or read through `rows`;
// causal self-attention becomes rec.decode_attention over the cache plus
// the new token, whose keys and values become outputs; the session head
// scores the position with every level's head. Anything that would mix
// positions otherwise (a reduction over the sequence, a non-causal self-
// attention) cannot be decoded token by token and is an error at its
// location.
//
//===----------------------------------------------------------------------===//

#include "PrimitiveBuilder.h"

#include "onerec/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

namespace onerec {
#define GEN_PASS_DEF_RECDERIVEDECODESTEP
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;
using namespace onerec::rec;

namespace {

/// Whether `op` is elementwise with numpy broadcasting over its operands.
bool isBroadcastingElementwise(Operation *op) {
  return isa<AddOp, SubOp, MulOp, DivOp, PowOp, MaximumOp, MinimumOp, AndOp,
             OrOp, CmpOp, SelectOp>(op);
}

/// Whether `op` maps each position of its (first) operand to the same
/// position of its result, reading no other position.
bool isPositionWise(Operation *op) {
  if (op->hasTrait<OpTrait::SameOperandsAndResultType>())
    return true; // unary elementwise
  if (isa<RmsNormOp, LayerNormOp, MoeOp, CastOp, EmbeddingOp>(op))
    return true;
  if (auto softmax = dyn_cast<SoftmaxOp>(op))
    return softmax.getAxis() == -1 ||
           softmax.getAxis() == typeOf(softmax.getX()).getRank() - 1;
  if (auto softmax = dyn_cast<LogSoftmaxOp>(op))
    return softmax.getAxis() == -1 ||
           softmax.getAxis() == typeOf(softmax.getX()).getRank() - 1;
  return false;
}

class StepDeriver {
public:
  StepDeriver(ModuleOp module, GenerateOp gen, func::FuncOp decoder,
              StringAttr rowsDim)
      : module(module), gen(gen), decoder(decoder), rowsDim(rowsDim),
        builder(module.getContext()) {}

  LogicalResult run();

private:
  InFlightDiagnostic fail(Operation *op, const Twine &what) {
    return op->emitError("cannot decode '")
           << decoder.getSymName() << "' token by token: " << what;
  }
  LogicalResult checkSignature();
  void classify();
  func::FuncOp createEntry(StringRef name, ArrayRef<Type> argTypes,
                           Operation *after);
  LogicalResult buildInit();
  LogicalResult buildStep();

  /// The step's version of a value the tokens do not reach: a clone of its
  /// weight-only computation, or the context argument it became.
  Value external(Value v);
  /// `type` at one position of every beam row.
  RecTensorType stepType(RecTensorType type, int seqAxis) const;

  LogicalResult stepElementwise(Operation *op);
  LogicalResult stepPositionWise(Operation *op);
  LogicalResult stepMatmul(MatmulOp op);
  LogicalResult stepAttention(AttentionOp op);
  /// rec.decode_attention with the heads and scale of `op`.
  Value decodeAttention(AttentionOp op, Value q, Value k, Value v, Value kNew,
                        Value vNew, Value lengths, Value rowsOfKeys);
  LogicalResult stepReshape(ReshapeOp op);
  LogicalResult stepSessionHead(ReshapeOp split);

  ModuleOp module;
  GenerateOp gen;
  func::FuncOp decoder;
  StringAttr rowsDim;
  OpBuilder builder;

  Dim batch;
  int64_t length = 0, items = 0, levels = 0, codebook = 0;
  /// Ops the tokens reach; ops an encoder-side argument reaches (and the
  /// tokens do not).
  llvm::DenseSet<Operation *> tokenOps, contextOps;
  /// Encoder-side values that token ops read: the init entry's results.
  llvm::SetVector<Value> contexts;

  func::FuncOp init, step;
  /// Decoder value -> its step value and sequence axis.
  llvm::DenseMap<Value, std::pair<Value, int>> stepValues;
  IRMapping external_;
  Value positions, rows, positionIndex, logits;
  SmallVector<std::pair<Value, std::string>> stepResults;
  SmallVector<std::string> argNames;
  llvm::DenseSet<Operation *> handled;
  unsigned caches = 0;
};

LogicalResult StepDeriver::checkSignature() {
  auto args = decoder.getArguments();
  auto tokens = args.empty() ? RecTensorType()
                             : dyn_cast<RecTensorType>(args[0].getType());
  auto session = cast<RecTensorType>(gen.getType());
  levels = session.getDim(2).size;
  items = gen.getItems();
  codebook = cast<SidType>(session.getElementType()).getCodebook();
  if (!tokens || tokens.getRank() != 2 || !tokens.getDim(1).isStatic() ||
      !isa<IdType>(tokens.getElementType()))
    return fail(decoder, "its first argument must be the token ids [B, T]");
  batch = tokens.getDim(0);
  length = tokens.getDim(1).size;
  if (length != items * (levels + 1))
    return fail(decoder, "it reads ")
           << length << " tokens, but a session of " << items << " items of "
           << levels << " codes is " << items * (levels + 1);
  for (BlockArgument arg : args.drop_front()) {
    auto type = dyn_cast<RecTensorType>(arg.getType());
    if (!type || type.getRank() == 0 || type.getDim(0) != batch)
      return fail(decoder, "argument ")
             << arg.getArgNumber() << " must have the tokens' batch "
             << formatDims({batch}) << " first, got " << arg.getType();
  }
  if (decoder.getNumResults() != 1)
    return fail(decoder, "it must return the logits alone");
  return success();
}

void StepDeriver::classify() {
  Block &body = decoder.getBody().front();
  auto reaches = [](Operation *op, auto &&isSource) {
    return llvm::any_of(op->getOperands(), isSource);
  };
  for (Operation &op : body.without_terminator()) {
    if (reaches(&op, [&](Value v) {
          if (auto arg = dyn_cast<BlockArgument>(v))
            return arg.getArgNumber() == 0;
          return tokenOps.contains(v.getDefiningOp());
        })) {
      tokenOps.insert(&op);
      continue;
    }
    if (reaches(&op, [&](Value v) {
          if (isa<BlockArgument>(v))
            return true;
          return contextOps.contains(v.getDefiningOp());
        }))
      contextOps.insert(&op);
  }
  // The encoder-side values the token side reads, in program order.
  for (Operation &op : body.without_terminator()) {
    if (!tokenOps.contains(&op))
      continue;
    for (Value v : op.getOperands()) {
      bool isContext = isa<BlockArgument>(v)
                           ? cast<BlockArgument>(v).getArgNumber() != 0
                           : contextOps.contains(v.getDefiningOp());
      if (isContext)
        contexts.insert(v);
    }
  }
}

func::FuncOp StepDeriver::createEntry(StringRef name, ArrayRef<Type> argTypes,
                                      Operation *after) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointAfter(after);
  auto func = builder.create<func::FuncOp>(
      decoder.getLoc(), name, builder.getFunctionType(argTypes, {}));
  func->setAttr(RecDialect::kEntryAttrName,
                EntryKindAttr::get(builder.getContext(), EntryKind::def));
  Block *block = func.addEntryBlock();
  builder.setInsertionPointToEnd(block);
  builder.create<func::ReturnOp>(decoder.getLoc());
  return func;
}

/// Finishes an entry: returns `results` under `names`, updates the type.
static void finishEntry(func::FuncOp func, ArrayRef<Value> results,
                        ArrayRef<std::string> names) {
  Operation *ret = func.getBody().front().getTerminator();
  ret->setOperands(results);
  func.setFunctionType(FunctionType::get(
      func.getContext(), func.getBody().front().getArgumentTypes(),
      ValueRange(results).getTypes()));
  OpBuilder b(func.getContext());
  for (auto [i, name] : llvm::enumerate(names))
    func.setResultAttr(i, RecDialect::kNameAttrName, b.getStringAttr(name));
}

/// The attributes of an entry argument named `name`.
static DictionaryAttr argumentAttrs(MLIRContext *ctx, StringRef name) {
  OpBuilder b(ctx);
  return b.getDictionaryAttr(
      {b.getNamedAttr(RecDialect::kNameAttrName, b.getStringAttr(name)),
       b.getNamedAttr(RecDialect::kRoleAttrName,
                      ArgRoleAttr::get(ctx, ArgRole::argument))});
}

LogicalResult StepDeriver::buildInit() {
  SmallVector<Type> argTypes(decoder.getArgumentTypes().drop_front());
  init = createEntry((decoder.getSymName() + "_init").str(), argTypes, decoder);
  for (unsigned i = 1; i < decoder.getNumArguments(); ++i)
    init.setArgAttrs(i - 1, decoder.getArgAttrDict(i));
  IRMapping map;
  for (unsigned i = 1; i < decoder.getNumArguments(); ++i)
    map.map(decoder.getArgument(i), init.getArgument(i - 1));
  OpBuilder b = OpBuilder::atBlockTerminator(&init.getBody().front());
  for (Operation &op : decoder.getBody().front().without_terminator())
    if (!tokenOps.contains(&op))
      b.clone(op, map);
  SmallVector<Value> results;
  SmallVector<std::string> names;
  for (auto [i, v] : llvm::enumerate(contexts)) {
    results.push_back(map.lookup(v));
    names.push_back("context." + std::to_string(i));
  }
  finishEntry(init, results, names);
  return success();
}

Value StepDeriver::external(Value v) {
  if (Value mapped = external_.lookupOrNull(v))
    return mapped;
  // A weight-only value: clone what computes it (params, constants, their
  // reshapes) before the first op of the step that needs it.
  Operation *def = v.getDefiningOp();
  for (Value operand : def->getOperands())
    external(operand);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(step.getBody().front().getTerminator());
  builder.clone(*def, external_);
  return external_.lookup(v);
}

RecTensorType StepDeriver::stepType(RecTensorType type, int seqAxis) const {
  SmallVector<Dim> dims(type.getDims());
  dims[0] = Dim::symbolic(rowsDim);
  if (seqAxis >= 0)
    dims[seqAxis] = Dim::fixed(1);
  return type.withDims(dims);
}

LogicalResult StepDeriver::buildStep() {
  MLIRContext *ctx = module.getContext();
  auto tokens = cast<RecTensorType>(decoder.getArgumentTypes()[0]);
  // Positions index the decoder sequence (checked when bound); rows index
  // the contexts' B rows, a symbolic count (checked by the kernels).
  Type position = IdType::get(ctx, length);
  auto positionsType = RecTensorType::get({Dim::symbolic(rowsDim)}, position);
  auto rowsType =
      RecTensorType::get({Dim::symbolic(rowsDim)}, IntegerType::get(ctx, 64));
  SmallVector<Type> argTypes{stepType(tokens, 1), positionsType, rowsType};
  for (Value v : contexts)
    argTypes.push_back(v.getType());
  step = createEntry((decoder.getSymName() + "_step").str(), argTypes, init);
  argNames = {"tokens", "positions", "rows"};
  for (unsigned i = 0; i < contexts.size(); ++i) {
    argNames.push_back("context." + std::to_string(i));
    external_.map(contexts[i], step.getArgument(3 + i));
  }
  positions = step.getArgument(1);
  rows = step.getArgument(2);
  stepValues[decoder.getArgument(0)] = {step.getArgument(0), 1};
  builder.setInsertionPoint(step.getBody().front().getTerminator());
  // positions [N] as gather indices [N, 1]: a parameter row per position.
  auto indexType =
      RecTensorType::get({Dim::symbolic(rowsDim), Dim::fixed(1)}, position);
  positionIndex =
      builder.create<ReshapeOp>(decoder.getLoc(), indexType, positions);

  for (Operation &op : decoder.getBody().front().without_terminator()) {
    if (!tokenOps.contains(&op) || handled.contains(&op))
      continue;
    builder.setInsertionPoint(step.getBody().front().getTerminator());
    LogicalResult result = success();
    if (auto dropout = dyn_cast<DropoutOp>(op)) {
      stepValues[dropout.getResult()] = stepValues.lookup(dropout.getX());
    } else if (auto attention = dyn_cast<AttentionOp>(op)) {
      result = stepAttention(attention);
    } else if (auto reshape = dyn_cast<ReshapeOp>(op)) {
      result = stepReshape(reshape);
    } else if (auto matmul = dyn_cast<MatmulOp>(op)) {
      result = stepMatmul(matmul);
    } else if (isBroadcastingElementwise(&op)) {
      result = stepElementwise(&op);
    } else if (isPositionWise(&op)) {
      result = stepPositionWise(&op);
    } else {
      result = fail(&op, "'")
               << op.getName()
               << "' may mix positions of the sequence, which one new token "
                  "at a time cannot reproduce";
    }
    if (failed(result))
      return failure();
  }
  if (!logits)
    return fail(decoder, "its logits must come from session_head(h, levels, "
                         "codebook) over the decoder states");
  SmallVector<Value> results{logits};
  SmallVector<std::string> names{"logits"};
  for (auto &[value, name] : stepResults) {
    results.push_back(value);
    names.push_back(name);
  }
  finishEntry(step, results, names);
  SmallVector<DictionaryAttr> argAttrs;
  for (const std::string &name : argNames)
    argAttrs.push_back(argumentAttrs(ctx, name));
  step.setAllArgAttrs(argAttrs);
  return success();
}

/// Clones `op` with `operands` and the result types its shape rule infers.
static FailureOr<Operation *> cloneInferred(OpBuilder &b, Operation *op,
                                            ArrayRef<Value> operands) {
  Operation *copy = b.clone(*op);
  copy->setOperands(operands);
  SmallVector<Type> types;
  if (failed(cast<ShapeInferenceOpInterface>(copy).inferResultTypes(types))) {
    copy->erase();
    return failure();
  }
  for (auto [result, type] : llvm::zip(copy->getResults(), types))
    result.setType(type);
  return copy;
}

LogicalResult StepDeriver::stepElementwise(Operation *op) {
  auto resultType = cast<RecTensorType>(op->getResult(0).getType());
  int64_t rank = resultType.getRank();
  // The result's sequence axis, from the token operands (right-aligned).
  int seqAxis = -1;
  for (Value v : op->getOperands()) {
    auto it = stepValues.find(v);
    if (it == stepValues.end() || it->second.second < 0)
      continue;
    int axis = it->second.second + int(rank - typeOf(v).getRank());
    if (seqAxis >= 0 && axis != seqAxis)
      return fail(op, "its operands have the sequence on different axes");
    seqAxis = axis;
  }
  SmallVector<Value> operands;
  for (Value v : op->getOperands()) {
    auto it = stepValues.find(v);
    if (it != stepValues.end()) {
      operands.push_back(it->second.first);
      continue;
    }
    RecTensorType type = typeOf(v);
    int64_t offset = rank - type.getRank();
    int64_t seq = seqAxis - offset;
    bool positional = seqAxis >= 0 && seq >= 0 && !type.getDim(seq).isOne();
    if (contexts.contains(v)) {
      // An encoder-side value: its row is the beam row's request.
      if (offset != 0 || positional)
        return fail(op, "it reads the encoder side ")
               << type << " in a way that depends on the position";
      PrimitiveBuilder p(builder, op->getLoc());
      Value perRow =
          p.make<GatherOp>(external(v), rows, builder.getI64IntegerAttr(0));
      if (!perRow)
        return failure();
      operands.push_back(perRow);
      continue;
    }
    if (!positional) {
      operands.push_back(external(v));
      continue;
    }
    // A weight indexed by position (a positional embedding [T, d] added to
    // [B, T, d]): its row at each beam row's position.
    if (seq != 0 || seqAxis != 1)
      return fail(op, "it reads ")
             << type << " by position along an axis other than its first";
    PrimitiveBuilder p(builder, op->getLoc());
    Value rowsOfWeight = p.make<GatherOp>(external(v), positionIndex,
                                          builder.getI64IntegerAttr(0));
    if (!rowsOfWeight)
      return failure();
    operands.push_back(rowsOfWeight);
  }
  FailureOr<Operation *> copy = cloneInferred(builder, op, operands);
  if (failed(copy))
    return failure();
  stepValues[op->getResult(0)] = {(*copy)->getResult(0), seqAxis};
  return success();
}

LogicalResult StepDeriver::stepPositionWise(Operation *op) {
  SmallVector<Value> operands;
  int seqAxis = -1;
  int64_t last = 0;
  for (Value v : op->getOperands()) {
    auto it = stepValues.find(v);
    if (it != stepValues.end()) {
      operands.push_back(it->second.first);
      if (seqAxis < 0) {
        seqAxis = it->second.second;
        last = typeOf(v).getRank() - 1;
      }
      continue;
    }
    if (contexts.contains(v))
      return fail(op, "'") << op->getName()
                           << "' reads the encoder's side directly";
    operands.push_back(external(v));
  }
  // Embeddings append the feature axis; the others work along the last.
  if (seqAxis == last && !isa<EmbeddingOp>(op))
    return fail(op, "'") << op->getName() << "' works along the sequence axis";
  FailureOr<Operation *> copy = cloneInferred(builder, op, operands);
  if (failed(copy))
    return failure();
  for (auto [result, stepResult] :
       llvm::zip(op->getResults(), (*copy)->getResults()))
    stepValues[result] = {stepResult, seqAxis};
  return success();
}

LogicalResult StepDeriver::stepMatmul(MatmulOp op) {
  auto a = stepValues.find(op.getA());
  if (a == stepValues.end() || stepValues.count(op.getB()) ||
      contexts.contains(op.getB()) || op.getTransposeA())
    return fail(op, "a product must apply a weight to the decoder states");
  int seqAxis = a->second.second;
  if (seqAxis == typeOf(op.getA()).getRank() - 1)
    return fail(op, "the product contracts the sequence axis");
  FailureOr<Operation *> copy =
      cloneInferred(builder, op, {a->second.first, external(op.getB())});
  if (failed(copy))
    return failure();
  stepValues[op.getResult()] = {(*copy)->getResult(0), seqAxis};
  return success();
}

Value StepDeriver::decodeAttention(AttentionOp op, Value q, Value k, Value v,
                                   Value kNew, Value vNew, Value lengths,
                                   Value rowsOfKeys) {
  auto attention = builder.create<DecodeAttentionOp>(
      op.getLoc(), builder.getNoneType(), q, k, v, kNew, vNew, lengths,
      rowsOfKeys, op.getNumHeadsAttr(), op.getNumKvHeadsAttr(),
      op.getScaleAttr());
  SmallVector<Type> types;
  if (failed(attention.inferResultTypes(types))) {
    attention->erase();
    return Value();
  }
  attention.getResult().setType(types[0]);
  return attention.getResult();
}

LogicalResult StepDeriver::stepAttention(AttentionOp op) {
  auto q = stepValues.find(op.getQ());
  if (q == stepValues.end() || q->second.second != 1 ||
      typeOf(op.getQ()).getRank() != 3)
    return fail(op, "attention queries must be the decoder states [B, T, "
                    "features]");
  if (op.getMask() || op.getBias() || op.getScoreNorm() != ScoreNorm::softmax)
    return fail(op, "decoder attention with a mask, a bias or another "
                    "score normalization is not supported");
  auto k = stepValues.find(op.getK()), v = stepValues.find(op.getV());
  Value result;
  if (k != stepValues.end() && v != stepValues.end()) {
    if (!op.getCausal() || k->second.second != 1 || v->second.second != 1)
      return fail(op, "self-attention in a decoder must be causal");
    // Self-attention: earlier positions come from the cache, the new
    // token's keys and values are returned for the driver to append.
    Block &body = step.getBody().front();
    auto cacheType = [&](Value x) {
      SmallVector<Dim> dims{Dim::symbolic(rowsDim), Dim::fixed(length),
                            typeOf(x).getDims().back()};
      return typeOf(x).withDims(dims);
    };
    std::string layer = std::to_string(caches++);
    Value cacheK = body.addArgument(cacheType(op.getK()), op.getLoc());
    Value cacheV = body.addArgument(cacheType(op.getV()), op.getLoc());
    argNames.push_back("cache.k." + layer);
    argNames.push_back("cache.v." + layer);
    result =
        decodeAttention(op, q->second.first, cacheK, cacheV, k->second.first,
                        v->second.first, positions, Value());
    stepResults.push_back({k->second.first, "cache.k." + layer + ".new"});
    stepResults.push_back({v->second.first, "cache.v." + layer + ".new"});
  } else if (contexts.contains(op.getK()) && contexts.contains(op.getV())) {
    if (typeOf(op.getK()).getRank() != 3)
      return fail(op, "cross-attention keys must be [B, length, features]");
    // Cross-attention: the keys of the row's request, shared by its beams.
    result =
        decodeAttention(op, q->second.first, external(op.getK()),
                        external(op.getV()), Value(), Value(), Value(), rows);
  } else {
    return fail(op, "attention must be causal self-attention or "
                    "cross-attention over the encoder's side");
  }
  if (!result)
    return failure();
  stepValues[op.getResult()] = {result, 1};
  return success();
}

LogicalResult StepDeriver::stepReshape(ReshapeOp op) {
  auto in = stepValues.lookup(op.getX());
  int seqAxis = in.second;
  RecTensorType from = typeOf(op.getX()), to = typeOf(op.getResult());
  bool keepsPrefix = seqAxis >= 0 && to.getRank() > seqAxis &&
                     from.getDims().take_front(seqAxis + 1) ==
                         to.getDims().take_front(seqAxis + 1);
  if (keepsPrefix) {
    auto copy =
        builder.create<ReshapeOp>(op.getLoc(), stepType(to, seqAxis), in.first);
    stepValues[op.getResult()] = {copy.getResult(), seqAxis};
    return success();
  }
  return stepSessionHead(op);
}

/// session_head's spelling: reshape [B, T, d] -> [B, items, levels + 1, d],
/// slice [0, levels) of axis 2, reshape to [B, items, levels, 1, d], matmul
/// with the heads [levels, d, K], reshape to the returned [B, items,
/// levels, K]. At one position the state is scored by every level's head:
/// [N, levels, K]; the driver reads the level of the next code.
LogicalResult StepDeriver::stepSessionHead(ReshapeOp split) {
  auto single = [](Value v) -> Operation * {
    return v.hasOneUse() ? *v.getUsers().begin() : nullptr;
  };
  auto bad = [&]() {
    return fail(split, "a reshape across the sequence axis is only "
                       "supported as session_head(h, levels, codebook) "
                       "returning the logits");
  };
  auto [state, seqAxis] = stepValues.lookup(split.getX());
  RecTensorType to = typeOf(split.getResult());
  if (seqAxis != 1 || to.getRank() != 4 || to.getDim(1) != Dim::fixed(items) ||
      to.getDim(2) != Dim::fixed(levels + 1))
    return bad();
  auto slice = dyn_cast_or_null<SliceOp>(single(split.getResult()));
  auto rows4 = slice ? dyn_cast_or_null<ReshapeOp>(single(slice.getResult()))
                     : ReshapeOp();
  auto heads = rows4 ? dyn_cast_or_null<MatmulOp>(single(rows4.getResult()))
                     : MatmulOp();
  auto out = heads ? dyn_cast_or_null<ReshapeOp>(single(heads.getResult()))
                   : ReshapeOp();
  if (!out || slice.getAxis() != 2 || slice.getStart() != 0 ||
      slice.getEnd() != levels || heads.getA() != rows4.getResult() ||
      stepValues.count(heads.getB()) || contexts.contains(heads.getB()) ||
      !llvm::is_contained(out.getResult().getUsers(),
                          decoder.getBody().front().getTerminator()))
    return bad();
  RecTensorType stateType = typeOf(state);
  auto perRow = stateType.withDims({Dim::symbolic(rowsDim), Dim::fixed(1),
                                    Dim::fixed(1), stateType.getDims().back()});
  Value row = builder.create<ReshapeOp>(split.getLoc(), perRow, state);
  PrimitiveBuilder p(builder, heads.getLoc());
  Value scored =
      p.make<MatmulOp>(row, external(heads.getB()), UnitAttr(), UnitAttr());
  if (!scored)
    return failure();
  RecTensorType scoredType = typeOf(scored); // [N, levels, 1, K]
  auto logitsType =
      scoredType.withDims({Dim::symbolic(rowsDim), Dim::fixed(levels),
                           scoredType.getDims().back()});
  logits = builder.create<ReshapeOp>(out.getLoc(), logitsType, scored);
  for (Operation *op : {slice.getOperation(), rows4.getOperation(),
                        heads.getOperation(), out.getOperation()})
    handled.insert(op);
  return success();
}

LogicalResult StepDeriver::run() {
  if (failed(checkSignature()))
    return failure();
  classify();
  if (failed(buildInit()) || failed(buildStep()))
    return failure();
  gen.setInitAttr(FlatSymbolRefAttr::get(init.getSymNameAttr()));
  gen.setStepAttr(FlatSymbolRefAttr::get(step.getSymNameAttr()));
  return success();
}

struct RecDeriveDecodeStep
    : public onerec::impl::RecDeriveDecodeStepBase<RecDeriveDecodeStep> {
  using RecDeriveDecodeStepBase::RecDeriveDecodeStepBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto gens = llvm::to_vector(module.getOps<GenerateOp>());
    if (gens.empty())
      return;
    // The beam-row dimension of every step entry, declared once.
    std::string name = "beams";
    for (int i = 1; module.lookupSymbol(name); ++i)
      name = "beams" + std::to_string(i);
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToStart(module.getBody());
    for (auto dim : module.getOps<DimOp>())
      b.setInsertionPointAfter(dim);
    b.create<DimOp>(module.getLoc(), name, maxRows);
    StringAttr rowsDim = b.getStringAttr(name);
    for (GenerateOp gen : gens) {
      if (gen.getStepAttr())
        continue;
      auto decoder = module.lookupSymbol<func::FuncOp>(gen.getDecoder());
      if (module.lookupSymbol((decoder.getSymName() + "_step").str()) ||
          module.lookupSymbol((decoder.getSymName() + "_init").str())) {
        gen.emitError("rec-derive-decode-step: the model already has an "
                      "entry named ")
            << decoder.getSymName() << "_init or _step";
        return signalPassFailure();
      }
      if (failed(StepDeriver(module, gen, decoder, rowsDim).run()))
        return signalPassFailure();
    }
  }
};

} // namespace
