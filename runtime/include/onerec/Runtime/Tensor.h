//===- Tensor.h - typed views of runtime tensors --------------------------===//
//
// The runtime moves bytes it does not own: tensors live in an entry's arena,
// in a memory-mapped plan or checkpoint, or in a caller's buffer. A
// TensorView names the bytes, their element type and their shape (symbolic
// dims already bound), row-major and contiguous.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_TENSOR_H
#define ONEREC_RUNTIME_TENSOR_H

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace onerec::runtime {

/// Element types as stored at run time; the values equal plan::DType's. Ids
/// and semantic ids are i64; booleans one byte (0 or 1).
enum class DType : uint8_t {
  f32 = 0,
  f16 = 1,
  bf16 = 2,
  bool8 = 3,
  i32 = 4,
  i64 = 5
};

inline size_t dtypeSize(DType t) {
  switch (t) {
  case DType::f32:
  case DType::i32:
    return 4;
  case DType::f16:
  case DType::bf16:
    return 2;
  case DType::bool8:
    return 1;
  case DType::i64:
    return 8;
  }
  return 0;
}
const char *dtypeName(DType t);

/// A row-major shape of at most kMaxRank dimensions.
struct Shape {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int64_t dims[kMaxRank] = {};

  Shape() = default;
  Shape(std::initializer_list<int64_t> list) {
    for (int64_t d : list)
      dims[rank++] = d;
  }
  int64_t operator[](int i) const { return dims[i]; }
  int64_t &operator[](int i) { return dims[i]; }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i)
      n *= dims[i];
    return n;
  }
  /// The last dimension (1 for a scalar).
  int64_t last() const { return rank ? dims[rank - 1] : 1; }
  bool operator==(const Shape &o) const {
    if (rank != o.rank)
      return false;
    for (int i = 0; i < rank; ++i)
      if (dims[i] != o.dims[i])
        return false;
    return true;
  }
  bool operator!=(const Shape &o) const { return !(*this == o); }
  /// "[4, 50, 64]"
  std::string toString() const;
};

/// Bytes of `dtype` elements with `shape`. `data` is null for an absent
/// optional operand.
struct TensorView {
  DType dtype = DType::f32;
  Shape shape;
  void *data = nullptr;

  bool present() const { return data != nullptr; }
  int64_t numel() const { return shape.numel(); }
  size_t bytes() const {
    return static_cast<size_t>(numel()) * dtypeSize(dtype);
  }
  template <typename T> T *as() const { return static_cast<T *>(data); }
};

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_TENSOR_H
