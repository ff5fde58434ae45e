//===- DataMovement.cpp - broadcast, transpose, concat, slice, gather ... -===//
//
// Ops that move elements without arithmetic work on element-sized words
// (1, 2, 4 or 8 bytes), so one instantiation serves every dtype of that
// size. Also here: ScatterAdd (the gather's adjoint), Hash, TopK, ArgMax.
// Every index read from a tensor is range-checked before anything is
// written: a bad id is an error naming the id and its position.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"

#include <algorithm>
#include <numeric>
#include <type_traits>

using namespace onerec;
using namespace onerec::kernels;
using onerec::runtime::Shape;

namespace {

/// dst += v; integers wrap (through their unsigned type) instead of
/// overflowing, as every integer kernel does.
template <typename T> inline void accumulate(T &dst, T v) {
  if constexpr (std::is_integral_v<T>)
    dst = T(std::make_unsigned_t<T>(dst) + std::make_unsigned_t<T>(v));
  else
    dst += v;
}

/// Registers kernel<Word> for every dtype, with Word the unsigned word of
/// the dtype's size.
template <template <typename, KernelVariant> class Kernel>
void addForEveryDType(KernelRegistry &r, OpCode op) {
  addCpu(r, op, DType::f32, Kernel<uint32_t, kRef>::run,
         Kernel<uint32_t, kOpt>::run);
  addCpu(r, op, DType::i32, Kernel<uint32_t, kRef>::run,
         Kernel<uint32_t, kOpt>::run);
  addCpu(r, op, DType::i64, Kernel<uint64_t, kRef>::run,
         Kernel<uint64_t, kOpt>::run);
  addCpu(r, op, DType::f16, Kernel<uint16_t, kRef>::run,
         Kernel<uint16_t, kOpt>::run);
  addCpu(r, op, DType::bf16, Kernel<uint16_t, kRef>::run,
         Kernel<uint16_t, kOpt>::run);
  addCpu(r, op, DType::bool8, Kernel<uint8_t, kRef>::run,
         Kernel<uint8_t, kOpt>::run);
}

Status checkSameType(const KernelCall &call, const char *op) {
  ONEREC_KERNEL_CHECK(call, call.in(0).dtype == call.out(0).dtype,
                      "{}: operand {} and result {} differ in type", op,
                      runtime::dtypeName(call.in(0).dtype),
                      runtime::dtypeName(call.out(0).dtype));
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Broadcast
//===----------------------------------------------------------------------===//

template <typename W, KernelVariant V> struct BroadcastKernel {
  static Status run(const KernelCall &call) {
    if (Status st = checkArity(call, "broadcast", 1, 1, 1); !st)
      return st;
    if (Status st = checkSameType(call, "broadcast"); !st)
      return st;
    if (Status st = checkBroadcast(call, "broadcast", 1); !st)
      return st;
    const W *x = call.in(0).as<const W>();
    W *y = call.out(0).as<W>();
    const Shape &out = call.out(0).shape;
    if constexpr (V == kRef) {
      int64_t strides[Shape::kMaxRank];
      broadcastStrides(call.in(0).shape, out, strides);
      for (int64_t i = 0, n = out.numel(); i < n; ++i)
        y[i] = x[broadcastOffset(i, out, strides)];
    } else {
      const Shape *shapes[1] = {&call.in(0).shape};
      forEachBroadcastRow<1>(
          call, out, shapes,
          [&](int64_t o, const int64_t *off, int64_t n, const int64_t *s) {
            if (s[0] == 1)
              std::memcpy(y + o, x + off[0], size_t(n) * sizeof(W));
            else
              std::fill(y + o, y + o + n, x[off[0]]);
          });
    }
    return Status::ok();
  }
};

//===----------------------------------------------------------------------===//
// Transpose
//===----------------------------------------------------------------------===//

template <typename W, KernelVariant V> struct TransposeKernel {
  static Status run(const KernelCall &call) {
    if (Status st = checkArity(call, "transpose", 1, 1, 1); !st)
      return st;
    if (Status st = checkSameType(call, "transpose"); !st)
      return st;
    const Shape &in = call.in(0).shape, &out = call.out(0).shape;
    const std::vector<int64_t> &perm = call.attr().getInts("permutation");
    bool valid = int(perm.size()) == in.rank && out.rank == in.rank;
    std::vector<bool> seen(size_t(in.rank), false);
    for (int i = 0; valid && i < in.rank; ++i) {
      valid = perm[size_t(i)] >= 0 && perm[size_t(i)] < in.rank &&
              !seen[size_t(perm[size_t(i)])] &&
              out[i] == in[int(perm[size_t(i)])];
      if (valid)
        seen[size_t(perm[size_t(i)])] = true;
    }
    ONEREC_KERNEL_CHECK(call, valid,
                        "transpose: permutation does not map {} to {}",
                        in.toString(), out.toString());
    // Input stride of each output dimension.
    int64_t inStride[Shape::kMaxRank], contiguous[Shape::kMaxRank];
    for (int64_t i = in.rank - 1, s = 1; i >= 0; --i) {
      contiguous[i] = s;
      s *= in[int(i)];
    }
    for (int i = 0; i < out.rank; ++i)
      inStride[i] = contiguous[perm[size_t(i)]];
    const W *x = call.in(0).as<const W>();
    W *y = call.out(0).as<W>();
    if (out.numel() == 0)
      return Status::ok();
    if constexpr (V == kRef) {
      for (int64_t i = 0, n = out.numel(); i < n; ++i)
        y[i] = x[broadcastOffset(i, out, inStride)];
      return Status::ok();
    }
    // Collapse output dims that stay adjacent in the input; drop 1s.
    int rank = 0;
    int64_t dims[Shape::kMaxRank], strides[Shape::kMaxRank];
    for (int i = 0; i < out.rank; ++i) {
      if (out[i] == 1)
        continue;
      if (rank > 0 && strides[rank - 1] == inStride[i] * out[i]) {
        dims[rank - 1] *= out[i];
        strides[rank - 1] = inStride[i];
        continue;
      }
      dims[rank] = out[i];
      strides[rank++] = inStride[i];
    }
    int64_t n = out.numel();
    if (rank <= 1 || strides[rank - 1] == 1) { // rows stay contiguous: copies
      int64_t len = rank ? dims[rank - 1] : n, rows = len ? n / len : 0;
      parallelFor(call, rows, grainFor(len), [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
          int64_t off = 0, rem = r;
          for (int i = rank - 2; i >= 0; --i) {
            off += (rem % dims[i]) * strides[i];
            rem /= dims[i];
          }
          std::memcpy(y + r * len, x + off, size_t(len) * sizeof(W));
        }
      });
      return Status::ok();
    }
    // Tiles over the output's last dim and the dim that is the input's
    // last (unit input stride), so reads and writes both stay in cache.
    int p = -1;
    for (int i = 0; i < rank; ++i)
      if (strides[i] == 1)
        p = i;
    int64_t outStride[Shape::kMaxRank];
    for (int64_t i = rank - 1, s = 1; i >= 0; --i) {
      outStride[i] = s;
      s *= dims[i];
    }
    constexpr int64_t kTile = 32;
    int last = rank - 1;
    int64_t tilesL = (dims[last] + kTile - 1) / kTile;
    int64_t tilesP = p >= 0 ? (dims[p] + kTile - 1) / kTile : 1;
    int64_t extentP = p >= 0 ? dims[p] : 1;
    int64_t outer = n / (dims[last] * extentP);
    parallelFor(call, outer * tilesP * tilesL, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        int64_t tl = t % tilesL, tp = (t / tilesL) % tilesP,
                o = t / (tilesL * tilesP);
        int64_t inBase = 0, outBase = 0;
        for (int i = rank - 2; i >= 0; --i) {
          if (i == p)
            continue;
          int64_t idx = o % dims[i];
          o /= dims[i];
          inBase += idx * strides[i];
          outBase += idx * outStride[i];
        }
        int64_t a0 = tp * kTile, a1 = std::min(extentP, a0 + kTile);
        int64_t b0 = tl * kTile, b1 = std::min(dims[last], b0 + kTile);
        int64_t sp = p >= 0 ? outStride[p] : 0, sl = strides[last];
        for (int64_t a = a0; a < a1; ++a) {
          W *dst = y + outBase + a * sp;
          const W *src = x + inBase + a;
          for (int64_t b = b0; b < b1; ++b)
            dst[b] = src[b * sl];
        }
      }
    });
    return Status::ok();
  }
};

//===----------------------------------------------------------------------===//
// Concat, Slice
//===----------------------------------------------------------------------===//

template <typename W, KernelVariant V> struct ConcatKernel {
  static Status run(const KernelCall &call) {
    ONEREC_KERNEL_CHECK(call, call.numInputs >= 1 && call.numOutputs == 1,
                        "concat: expected operands and one result");
    const Shape &out = call.out(0).shape;
    int64_t axis = call.attr().getInt("axis");
    ONEREC_KERNEL_CHECK(call, axis >= 0 && axis < out.rank,
                        "concat: axis {} outside rank {}", axis, out.rank);
    AxisSplit so = splitAtAxis(out, int(axis));
    int64_t total = 0;
    for (int i = 0; i < call.numInputs; ++i) {
      const TensorView &t = call.in(i);
      AxisSplit si = splitAtAxis(t.shape, int(axis));
      ONEREC_KERNEL_CHECK(
          call,
          t.dtype == call.out(0).dtype && t.shape.rank == out.rank &&
              si.outer == so.outer && si.inner == so.inner,
          "concat: operand {} {} does not fit the result {} along axis {}", i,
          t.shape.toString(), out.toString(), axis);
      total += si.extent;
    }
    ONEREC_KERNEL_CHECK(call, total == so.extent,
                        "concat: operands add up to {} along axis {}, "
                        "the result has {}",
                        total, axis, so.extent);
    W *y = call.out(0).as<W>();
    int64_t rowOut = so.extent * so.inner;
    auto piece = [&](int64_t o, int i, int64_t start) {
      int64_t len = call.in(i).shape[int(axis)] * so.inner;
      std::memcpy(y + o * rowOut + start, call.in(i).as<const W>() + o * len,
                  size_t(len) * sizeof(W));
    };
    std::vector<int64_t> starts(size_t(call.numInputs));
    for (int64_t i = 0, s = 0; i < call.numInputs; ++i) {
      starts[size_t(i)] = s;
      s += call.in(int(i)).shape[int(axis)] * so.inner;
    }
    if constexpr (V == kRef) {
      for (int64_t o = 0; o < so.outer; ++o)
        for (int i = 0; i < call.numInputs; ++i)
          piece(o, i, starts[size_t(i)]);
    } else {
      parallelFor(call, so.outer * call.numInputs,
                  grainFor(rowOut / call.numInputs),
                  [&](int64_t lo, int64_t hi) {
                    for (int64_t t = lo; t < hi; ++t)
                      piece(t / call.numInputs, int(t % call.numInputs),
                            starts[size_t(t % call.numInputs)]);
                  });
    }
    return Status::ok();
  }
};

template <typename W, KernelVariant V> struct SliceKernel {
  static Status run(const KernelCall &call) {
    if (Status st = checkArity(call, "slice", 1, 1, 1); !st)
      return st;
    if (Status st = checkSameType(call, "slice"); !st)
      return st;
    const Shape &in = call.in(0).shape, &out = call.out(0).shape;
    int64_t axis = call.attr().getInt("axis"),
            start = call.attr().getInt("start"),
            end = call.attr().getInt("end");
    ONEREC_KERNEL_CHECK(call,
                        axis >= 0 && axis < in.rank && out.rank == in.rank,
                        "slice: axis {} outside rank {}", axis, in.rank);
    AxisSplit si = splitAtAxis(in, int(axis)), so = splitAtAxis(out, int(axis));
    ONEREC_KERNEL_CHECK(call,
                        0 <= start && start <= end && end <= si.extent &&
                            so.extent == end - start && so.outer == si.outer &&
                            so.inner == si.inner,
                        "slice: [{}, {}) of {} along axis {} does not give {}",
                        start, end, in.toString(), axis, out.toString());
    const W *x = call.in(0).as<const W>();
    W *y = call.out(0).as<W>();
    int64_t len = so.extent * so.inner;
    auto row = [&](int64_t o) {
      std::memcpy(y + o * len, x + (o * si.extent + start) * si.inner,
                  size_t(len) * sizeof(W));
    };
    if constexpr (V == kRef) {
      for (int64_t o = 0; o < so.outer; ++o)
        row(o);
    } else {
      parallelFor(call, so.outer, grainFor(len), [&](int64_t lo, int64_t hi) {
        for (int64_t o = lo; o < hi; ++o)
          row(o);
      });
    }
    return Status::ok();
  }
};

//===----------------------------------------------------------------------===//
// Gather, ScatterAdd
//===----------------------------------------------------------------------===//

/// The geometry of an index_select along `axis`: x [outer, extent, inner],
/// indices [count], y (or src) [outer, count, inner].
struct IndexSelect {
  AxisSplit x;
  int64_t count = 0;
};

Status checkIndexSelect(const KernelCall &call, const char *op,
                        const TensorView &x, const TensorView &indices,
                        const TensorView &selected, IndexSelect &g) {
  int64_t axis = call.attr().getInt("axis");
  ONEREC_KERNEL_CHECK(call, axis >= 0 && axis < x.shape.rank,
                      "{}: axis {} outside rank {}", op, axis, x.shape.rank);
  ONEREC_KERNEL_CHECK(call, isIndexType(indices.dtype),
                      "{}: indices must be i64 or i32", op);
  g.x = splitAtAxis(x.shape, int(axis));
  g.count = indices.numel();
  ONEREC_KERNEL_CHECK(call,
                      selected.numel() == g.x.outer * g.count * g.x.inner &&
                          selected.dtype == x.dtype,
                      "{}: {} indexed by {} along axis {} does not give {}", op,
                      x.shape.toString(), indices.shape.toString(), axis,
                      selected.shape.toString());
  int64_t bad = firstIndexOutOfRange(indices, g.x.extent);
  ONEREC_KERNEL_CHECK(
      call, bad < 0,
      "{}: index {} at position {} is outside [0, {}) of axis {}", op,
      bad < 0 ? 0 : indexAt(indices, bad), bad, g.x.extent, axis);
  return Status::ok();
}

template <typename W, KernelVariant V> struct GatherKernel {
  static Status run(const KernelCall &call) {
    if (Status st = checkArity(call, "gather", 2, 2, 1); !st)
      return st;
    IndexSelect g;
    if (Status st = checkIndexSelect(call, "gather", call.in(0), call.in(1),
                                     call.out(0), g);
        !st)
      return st;
    const W *x = call.in(0).as<const W>();
    W *y = call.out(0).as<W>();
    int64_t inner = g.x.inner;
    if constexpr (V == kRef) {
      for (int64_t i = 0, n = call.out(0).numel(); i < n; ++i) {
        int64_t r = i % inner, j = (i / inner) % g.count,
                o = i / (inner * g.count);
        y[i] = x[(o * g.x.extent + indexAt(call.in(1), j)) * inner + r];
      }
    } else {
      parallelFor(call, g.x.outer * g.count, grainFor(inner),
                  [&](int64_t lo, int64_t hi) {
                    for (int64_t t = lo; t < hi; ++t) {
                      int64_t o = t / g.count, j = t % g.count;
                      std::memcpy(
                          y + t * inner,
                          x + (o * g.x.extent + indexAt(call.in(1), j)) * inner,
                          size_t(inner) * sizeof(W));
                    }
                  });
    }
    return Status::ok();
  }
};

/// Numeric, so typed (not word-sized): y = x, then src slices added at their
/// indices, in index order for every destination (deterministic, and equal
/// to the reference bit for bit).
template <typename T, KernelVariant V>
Status scatterAddKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "scatter_add", 3, 3, 1); !st)
    return st;
  IndexSelect g;
  if (Status st = checkIndexSelect(call, "scatter_add", call.in(0), call.in(1),
                                   call.in(2), g);
      !st)
    return st;
  ONEREC_KERNEL_CHECK(call,
                      call.out(0).shape == call.in(0).shape &&
                          call.out(0).dtype == call.in(0).dtype,
                      "scatter_add: the result must have the shape of x");
  const T *x = call.in(0).as<const T>(), *src = call.in(2).as<const T>();
  T *y = call.out(0).as<T>();
  const TensorView &idx = call.in(1);
  int64_t inner = g.x.inner, extent = g.x.extent;
  if constexpr (V == kRef) {
    if (y != x)
      std::memcpy(y, x, call.in(0).bytes());
    for (int64_t o = 0; o < g.x.outer; ++o)
      for (int64_t j = 0; j < g.count; ++j)
        for (int64_t r = 0; r < inner; ++r)
          accumulate(y[(o * extent + indexAt(idx, j)) * inner + r],
                     src[(o * g.count + j) * inner + r]);
    return Status::ok();
  }
  if (y != x) {
    int64_t n = call.in(0).numel();
    parallelFor(call, n, 1 << 16, [&](int64_t lo, int64_t hi) {
      std::memcpy(y + lo, x + lo, size_t(hi - lo) * sizeof(T));
    });
  }
  auto addRow = [&](int64_t o, int64_t j) {
    T *dst = y + (o * extent + indexAt(idx, j)) * inner;
    const T *s = src + (o * g.count + j) * inner;
    for (int64_t r = 0; r < inner; ++r)
      accumulate(dst[r], s[r]);
  };
  if (g.x.outer >= 2 * int64_t(pool(call).size())) {
    parallelFor(call, g.x.outer, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o)
        for (int64_t j = 0; j < g.count; ++j)
          addRow(o, j);
    });
    return Status::ok();
  }
  // Few outer slices (an embedding gradient: outer = 1): threads own ranges
  // of destination rows and each scans all indices for its own.
  for (int64_t o = 0; o < g.x.outer; ++o)
    parallelFor(call, extent, std::max<int64_t>(1, extent / 64),
                [&](int64_t lo, int64_t hi) {
                  for (int64_t j = 0; j < g.count; ++j) {
                    int64_t row = indexAt(idx, j);
                    if (row >= lo && row < hi)
                      addRow(o, j);
                  }
                });
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Hash
//===----------------------------------------------------------------------===//

inline uint64_t mix64(uint64_t z) { // splitmix64's finalizer
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

template <KernelVariant V> Status hashKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "hash", 1, 1, 1); !st)
    return st;
  int64_t buckets = call.attr().getInt("buckets");
  ONEREC_KERNEL_CHECK(call, buckets > 0,
                      "hash: buckets must be positive, got {}", buckets);
  ONEREC_KERNEL_CHECK(call,
                      call.out(0).dtype == DType::i64 &&
                          call.out(0).numel() == call.in(0).numel(),
                      "hash: the result must be i64 of the ids' shape");
  uint64_t offset =
      0x9E3779B97F4A7C15ull * (uint64_t(call.attr().getInt("salt")) + 1);
  int64_t *y = call.out(0).as<int64_t>();
  auto hashRange = [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      y[i] = int64_t(mix64(uint64_t(indexAt(call.in(0), i)) + offset) %
                     uint64_t(buckets));
  };
  if constexpr (V == kRef)
    hashRange(0, call.in(0).numel());
  else
    parallelFor(call, call.in(0).numel(), 8192, hashRange);
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// TopK, ArgMax
//===----------------------------------------------------------------------===//

/// The order of TopK and ArgMax: larger first, NaN above everything, ties
/// to the lower index. A strict weak order even with NaNs.
template <typename T>
inline bool ranksBefore(T a, int64_t ia, T b, int64_t ib) {
  bool na = a != a, nb = b != b;
  if (na != nb)
    return na;
  if (!na && a != b)
    return a > b;
  return ia < ib;
}

template <typename T, KernelVariant V>
Status topKKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "topk", 1, 1, 2); !st)
    return st;
  const Shape &in = call.in(0).shape;
  int64_t k = call.attr().getInt("k");
  int64_t n = in.last(), rows = n ? in.numel() / n : 0;
  ONEREC_KERNEL_CHECK(call, in.rank >= 1 && k >= 0 && k <= n,
                      "topk: k = {} for {}", k, in.toString());
  ONEREC_KERNEL_CHECK(
      call,
      call.out(0).numel() == rows * k && call.out(1).numel() == rows * k &&
          call.out(0).dtype == call.in(0).dtype &&
          call.out(1).dtype == DType::i64,
      "topk: results must be [..., {}] values and i64 indices", k);
  if (k == 0 || rows == 0)
    return Status::ok();
  const T *x = call.in(0).as<const T>();
  T *values = call.out(0).as<T>();
  int64_t *indices = call.out(1).as<int64_t>();
  auto byRank = [](const T *row) {
    return [row](int64_t a, int64_t b) {
      return ranksBefore(row[a], a, row[b], b);
    };
  };
  if constexpr (V == kRef) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t r = 0; r < rows; ++r) {
      const T *row = x + r * n;
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), byRank(row));
      for (int64_t j = 0; j < k; ++j) {
        indices[r * k + j] = order[size_t(j)];
        values[r * k + j] = row[order[size_t(j)]];
      }
    }
    return Status::ok();
  }
  parallelFor(call, rows, grainFor(n), [&](int64_t lo, int64_t hi) {
    std::vector<int64_t> order;
    for (int64_t r = lo; r < hi; ++r) {
      const T *row = x + r * n;
      int64_t *idx = indices + r * k;
      if (k <= 32) {
        // One pass keeping the best k sorted: k is small (beams, experts).
        int64_t filled = 0;
        for (int64_t i = 0; i < n; ++i) {
          if (filled == k &&
              !ranksBefore(row[i], i, row[idx[k - 1]], idx[k - 1]))
            continue;
          int64_t pos = filled < k ? filled++ : k - 1;
          while (pos > 0 &&
                 ranksBefore(row[i], i, row[idx[pos - 1]], idx[pos - 1])) {
            idx[pos] = idx[pos - 1];
            --pos;
          }
          idx[pos] = i;
        }
      } else {
        order.resize(size_t(n));
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(),
                          byRank(row));
        std::copy(order.begin(), order.begin() + k, idx);
      }
      for (int64_t j = 0; j < k; ++j)
        values[r * k + j] = row[idx[j]];
    }
  });
  return Status::ok();
}

template <typename T, KernelVariant V>
Status argMaxKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "argmax", 1, 1, 1); !st)
    return st;
  const Shape &in = call.in(0).shape;
  int64_t axis = call.attr().getInt("axis");
  ONEREC_KERNEL_CHECK(call, axis >= 0 && axis < in.rank,
                      "argmax: axis {} outside rank {}", axis, in.rank);
  AxisSplit s = splitAtAxis(in, int(axis));
  ONEREC_KERNEL_CHECK(call,
                      call.out(0).numel() == s.outer * s.inner &&
                          call.out(0).dtype == DType::i64,
                      "argmax: the result must be i64 {} without axis {}",
                      in.toString(), axis);
  ONEREC_KERNEL_CHECK(call, s.extent > 0, "argmax: axis {} of {} is empty",
                      axis, in.toString());
  const T *x = call.in(0).as<const T>();
  int64_t *y = call.out(0).as<int64_t>();
  if constexpr (V == kRef) {
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t r = 0; r < s.inner; ++r) {
        int64_t best = 0;
        for (int64_t i = 1; i < s.extent; ++i)
          if (ranksBefore(x[(o * s.extent + i) * s.inner + r], i,
                          x[(o * s.extent + best) * s.inner + r], best))
            best = i;
        y[o * s.inner + r] = best;
      }
    return Status::ok();
  }
  // Walk the axis once per outer slice, updating a running best for every
  // inner position at a time (a vectorizable compare-and-select).
  parallelFor(call, s.outer, grainFor(s.extent * s.inner),
              [&](int64_t lo, int64_t hi) {
                std::vector<T> best(size_t(s.inner));
                for (int64_t o = lo; o < hi; ++o) {
                  const T *slice = x + o * s.extent * s.inner;
                  int64_t *arg = y + o * s.inner;
                  std::copy(slice, slice + s.inner, best.begin());
                  std::fill(arg, arg + s.inner, 0);
                  for (int64_t i = 1; i < s.extent; ++i) {
                    const T *row = slice + i * s.inner;
                    for (int64_t r = 0; r < s.inner; ++r) {
                      T v = row[r], b = best[size_t(r)];
                      bool take = (v > b || v != v) && b == b;
                      best[size_t(r)] = take ? v : b;
                      arg[r] = take ? i : arg[r];
                    }
                  }
                }
              });
  return Status::ok();
}

template <typename T> void addOrdered(KernelRegistry &r) {
  addCpu(r, OpCode::TopK, dtypeOf<T>(), topKKernel<T, kRef>,
         topKKernel<T, kOpt>);
  addCpu(r, OpCode::ArgMax, dtypeOf<T>(), argMaxKernel<T, kRef>,
         argMaxKernel<T, kOpt>);
  addCpu(r, OpCode::ScatterAdd, dtypeOf<T>(), scatterAddKernel<T, kRef>,
         scatterAddKernel<T, kOpt>);
}

} // namespace

void onerec::kernels::registerDataMovementKernels(KernelRegistry &r) {
  addForEveryDType<BroadcastKernel>(r, OpCode::Broadcast);
  addForEveryDType<TransposeKernel>(r, OpCode::Transpose);
  addForEveryDType<ConcatKernel>(r, OpCode::Concat);
  addForEveryDType<SliceKernel>(r, OpCode::Slice);
  addForEveryDType<GatherKernel>(r, OpCode::Gather);
  addOrdered<float>(r);
  addOrdered<int64_t>(r);
  addOrdered<int32_t>(r);
  for (DType t : {DType::i64, DType::i32})
    addCpu(r, OpCode::Hash, t, hashKernel<kRef>, hashKernel<kOpt>);
}
