//===- PlanMemory.cpp - the rec-plan-memory pass --------------------------===//
//
// Static memory planning for the arena of each entry. Buffers are sized for
// the symbolic dims at their maxima; lifetimes are intervals of kernel
// positions; placement is greedy by size (largest first) at the lowest
// offset that overlaps no placed buffer whose lifetime intersects. This is
// the classic offset-assignment heuristic of inference runtimes: near
// optimal on transformer graphs, and O(n^2) in the number of buffers, which
// stays small per entry.
//
//===----------------------------------------------------------------------===//

#include "KernelTable.h"
#include "onerec/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"

#include <algorithm>
#include <numeric>

namespace onerec {
#define GEN_PASS_DEF_RECPLANMEMORY
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;

namespace {

struct Buffer {
  int64_t bytes = 0;
  int64_t begin = 0; // position of the kernel that writes it
  int64_t end = 0;   // position of the last kernel that reads it
  int64_t offset = -1;
};

int64_t alignTo(int64_t value, int64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

int64_t elementBytes(Type type) {
  Type element = cast<rec::RecTensorType>(type).getElementType();
  if (isa<rec::IdType, rec::SidType>(element))
    return 8;
  unsigned bits = element.getIntOrFloatBitWidth();
  return bits == 1 ? 1 : bits / 8;
}

/// Places buffers largest first at the lowest offset free during their
/// lifetime; returns the arena size.
int64_t placeBuffers(std::vector<Buffer> &buffers) {
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return buffers[a].bytes > buffers[b].bytes;
  });
  std::vector<size_t> placed;
  int64_t arena = 0;
  for (size_t index : order) {
    Buffer &buffer = buffers[index];
    // Placed buffers alive at the same time, by offset.
    std::vector<const Buffer *> live;
    for (size_t other : placed) {
      const Buffer &o = buffers[other];
      if (o.begin <= buffer.end && buffer.begin <= o.end)
        live.push_back(&o);
    }
    std::sort(live.begin(), live.end(), [](const Buffer *a, const Buffer *b) {
      return a->offset < b->offset;
    });
    int64_t offset = 0;
    for (const Buffer *o : live) {
      if (offset + buffer.bytes <= o->offset)
        break;
      offset = std::max(offset, o->offset + o->bytes);
    }
    buffer.offset = offset;
    arena = std::max(arena, offset + buffer.bytes);
    placed.push_back(index);
  }
  return arena;
}

struct RecPlanMemoryPass
    : public onerec::impl::RecPlanMemoryBase<RecPlanMemoryPass> {
  using RecPlanMemoryBase::RecPlanMemoryBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (alignment < 1 || (alignment & (alignment - 1))) {
      module.emitError("rec-plan-memory: alignment must be a power of two");
      return signalPassFailure();
    }
    llvm::StringMap<int64_t> maxima;
    for (auto dim : module.getOps<rec::DimOp>())
      maxima[dim.getSymName()] = static_cast<int64_t>(dim.getMax());
    for (auto func : module.getOps<func::FuncOp>())
      if (func->hasAttr("rec.entry") && !func->hasAttr("rec.unsupported") &&
          !func.isExternal())
        if (failed(planEntry(func, maxima)))
          return signalPassFailure();
  }

  LogicalResult planEntry(func::FuncOp func,
                          const llvm::StringMap<int64_t> &maxima) {
    Block &body = func.getBody().front();
    // Positions, and each value's last use (returned values live to the end).
    llvm::DenseMap<Operation *, int64_t> position;
    llvm::DenseMap<Value, int64_t> lastUse;
    int64_t index = 0;
    for (Operation &op : body) {
      position[&op] = index;
      for (Value operand : op.getOperands())
        lastUse[operand] = index;
      ++index;
    }

    std::vector<Buffer> buffers;
    llvm::DenseMap<Value, int64_t> bufferOf; // arena values only
    int64_t naiveBytes = 0;
    for (Operation &op : body) {
      auto kernel = op.getAttrOfType<StringAttr>("rec.kernel");
      if (!kernel) {
        if (isa<func::ReturnOp>(op))
          continue;
        return op.emitError("rec-plan-memory: op has no rec.kernel; run "
                            "rec-select-kernels first");
      }
      int64_t at = position[&op];
      if (kernel.getValue() == "param")
        continue;
      if (kernel.getValue() == "view") {
        // The result is the operand's bytes: same buffer, longer lifetime.
        auto it = bufferOf.find(op.getOperand(0));
        if (it != bufferOf.end()) {
          // (The insertion may grow the map: `it` is not read after it.)
          int64_t buffer = it->second;
          bufferOf[op.getResult(0)] = buffer;
          Buffer &b = buffers[buffer];
          b.end = std::max(b.end, lastUse.lookup(op.getResult(0)));
        }
        continue;
      }
      for (Value result : op.getResults()) {
        int64_t bytes = alignTo(numElementsAtMax(result.getType(), maxima) *
                                    elementBytes(result.getType()),
                                alignment);
        naiveBytes += bytes;
        int64_t end = std::max(at, lastUse.lookup(result));
        // In place: take the bytes of a same-typed operand dying here, unless
        // another operand reads the same bytes under another shape (a view).
        std::optional<int64_t> reused;
        if (mayComputeInPlace(&op) && op.getNumResults() == 1)
          for (Value operand : op.getOperands()) {
            auto it = bufferOf.find(operand);
            if (it == bufferOf.end() || operand.getType() != result.getType() ||
                buffers[it->second].end != at)
              continue;
            bool aliasedView = llvm::any_of(op.getOperands(), [&](Value other) {
              auto o = bufferOf.find(other);
              return o != bufferOf.end() && o->second == it->second &&
                     other.getType() != result.getType();
            });
            if (!aliasedView) {
              reused = it->second;
              break;
            }
          }
        if (reused) {
          buffers[*reused].end = end;
          bufferOf[result] = *reused;
        } else {
          bufferOf[result] = buffers.size();
          buffers.push_back(Buffer{bytes, at, end});
        }
      }
    }

    int64_t arenaBytes = placeBuffers(buffers);
    Builder b(func.getContext());
    for (Operation &op : body) {
      auto kernel = op.getAttrOfType<StringAttr>("rec.kernel");
      if (!kernel || kernel.getValue() == "param" ||
          kernel.getValue() == "view")
        continue;
      SmallVector<int64_t> offsets;
      for (Value result : op.getResults())
        offsets.push_back(buffers[bufferOf.lookup(result)].offset);
      op.setAttr("rec.offsets", b.getDenseI64ArrayAttr(offsets));
    }
    func->setAttr("rec.arena_bytes", b.getI64IntegerAttr(arenaBytes));
    func->setAttr("rec.arena_naive_bytes", b.getI64IntegerAttr(naiveBytes));
    return success();
  }
};
} // namespace
