//===- Shapes.h - shape arithmetic shared by the kernels ------------------===//
//
// Index arithmetic every kernel family needs: splitting a shape at an axis,
// numpy broadcasting as strides (0 along a broadcast dimension), and
// collapsing a broadcast iteration into as few loops as possible so that the
// innermost loop is long and has unit or zero strides. Header-only and free
// of host-only calls, so the CUDA kernels share it (ONEREC_HD marks the
// functions for nvcc).
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_KERNELS_SHAPES_H
#define ONEREC_KERNELS_SHAPES_H

#include "onerec/Runtime/Tensor.h"

#include <cstdint>

#ifdef __CUDACC__
#define ONEREC_HD __host__ __device__
#else
#define ONEREC_HD
#endif

namespace onerec::kernels {

using runtime::Shape;

/// A shape viewed as [outer, extent, inner] around one axis.
struct AxisSplit {
  int64_t outer = 1, extent = 1, inner = 1;
};

ONEREC_HD inline AxisSplit splitAtAxis(const Shape &s, int axis) {
  AxisSplit r;
  for (int i = 0; i < s.rank; ++i) {
    if (i < axis)
      r.outer *= s.dims[i];
    else if (i == axis)
      r.extent = s.dims[i];
    else
      r.inner *= s.dims[i];
  }
  return r;
}

/// Product of dims [begin, end).
ONEREC_HD inline int64_t product(const Shape &s, int begin, int end) {
  int64_t n = 1;
  for (int i = begin; i < end; ++i)
    n *= s.dims[i];
  return n;
}

/// True if `from` broadcasts to `to` under numpy rules (right-aligned; each
/// dimension equal or 1).
ONEREC_HD inline bool broadcastsTo(const Shape &from, const Shape &to) {
  if (from.rank > to.rank)
    return false;
  for (int i = 1; i <= from.rank; ++i) {
    int64_t f = from.dims[from.rank - i], t = to.dims[to.rank - i];
    if (f != t && f != 1)
      return false;
  }
  return true;
}

/// Element strides of `operand` read as if broadcast to `out` (rank of out):
/// 0 along dimensions the operand lacks or has as 1.
ONEREC_HD inline void broadcastStrides(const Shape &operand, const Shape &out,
                                       int64_t *strides) {
  int64_t stride = 1;
  for (int i = out.rank - 1; i >= 0; --i) {
    int j = i - (out.rank - operand.rank);
    if (j < 0 || operand.dims[j] == 1) {
      strides[i] = 0;
    } else {
      strides[i] = stride;
    }
    if (j >= 0)
      stride *= operand.dims[j];
  }
}

/// The operand offset of output element `linear`, given the operand's
/// broadcast strides. The plain, obviously correct mapping (references use
/// it per element).
ONEREC_HD inline int64_t broadcastOffset(int64_t linear, const Shape &out,
                                         const int64_t *strides) {
  int64_t offset = 0;
  for (int i = out.rank - 1; i >= 0; --i) {
    int64_t d = out.dims[i];
    offset += (linear % d) * strides[i];
    linear /= d;
  }
  return offset;
}

/// A broadcast iteration over `out` for N operands, collapsed: size-1
/// dimensions dropped and adjacent dimensions merged wherever every operand
/// stays linear across them. The last loop is the row; rows are walked with
/// rowOffsets(). Same-shape operands collapse to one row of numel elements,
/// a bias [d] against [n, d] to n rows of d with strides (1, 0).
template <int N> struct BroadcastLoop {
  int rank = 0;
  int64_t dims[Shape::kMaxRank] = {};
  int64_t strides[N][Shape::kMaxRank] = {};

  /// Number of rows (the product of all but the last loop).
  ONEREC_HD int64_t rows() const {
    int64_t r = 1;
    for (int i = 0; i + 1 < rank; ++i)
      r *= dims[i];
    return r;
  }
  ONEREC_HD int64_t rowLength() const { return rank ? dims[rank - 1] : 1; }
  /// Stride of operand k within a row (0 or, after collapsing, usually 1).
  ONEREC_HD int64_t rowStride(int k) const {
    return rank ? strides[k][rank - 1] : 0;
  }
  /// Operand offsets of the first element of row `row`.
  ONEREC_HD void rowOffsets(int64_t row, int64_t *offsets) const {
    for (int k = 0; k < N; ++k)
      offsets[k] = 0;
    for (int i = rank - 2; i >= 0; --i) {
      int64_t idx = row % dims[i];
      row /= dims[i];
      for (int k = 0; k < N; ++k)
        offsets[k] += idx * strides[k][i];
    }
  }
};

template <int N>
ONEREC_HD inline BroadcastLoop<N>
makeBroadcastLoop(const Shape &out, const Shape *const *operands) {
  int64_t full[N][Shape::kMaxRank];
  for (int k = 0; k < N; ++k)
    broadcastStrides(*operands[k], out, full[k]);
  BroadcastLoop<N> loop;
  for (int i = 0; i < out.rank; ++i) {
    if (out.dims[i] == 1)
      continue;
    bool merge = loop.rank > 0;
    for (int k = 0; k < N && merge; ++k)
      merge = loop.strides[k][loop.rank - 1] == full[k][i] * out.dims[i];
    if (merge) {
      loop.dims[loop.rank - 1] *= out.dims[i];
      for (int k = 0; k < N; ++k)
        loop.strides[k][loop.rank - 1] = full[k][i];
      continue;
    }
    loop.dims[loop.rank] = out.dims[i];
    for (int k = 0; k < N; ++k)
      loop.strides[k][loop.rank] = full[k][i];
    ++loop.rank;
  }
  if (loop.rank == 0) { // a scalar, or all dims 1
    loop.rank = 1;
    loop.dims[0] = out.numel();
    for (int k = 0; k < N; ++k)
      loop.strides[k][0] = 0;
  }
  return loop;
}

/// `shape` with dimension `axis` removed.
inline Shape dropAxis(const Shape &shape, int axis) {
  Shape r;
  for (int i = 0; i < shape.rank; ++i)
    if (i != axis)
      r.dims[r.rank++] = shape.dims[i];
  return r;
}

/// The first `count` dimensions of `shape`.
inline Shape leadingDims(const Shape &shape, int count) {
  Shape r;
  for (int i = 0; i < count && i < shape.rank; ++i)
    r.dims[r.rank++] = shape.dims[i];
  return r;
}

} // namespace onerec::kernels

#endif // ONEREC_KERNELS_SHAPES_H
