//===- HostTensor.h - owned, aligned tensors in host memory -----*- C++ -*-===//
//
// TensorView names bytes someone else owns; a HostTensor owns them. Entry
// outputs, inputs read from files and loaded weights are HostTensors. Their
// storage is an AlignedBuffer: 64-byte aligned (a cache line, and enough for
// every vector width the kernels use), zero-initialized.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_HOSTTENSOR_H
#define ONEREC_RUNTIME_HOSTTENSOR_H

#include "onerec/Runtime/Status.h"
#include "onerec/Runtime/Tensor.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace onerec::runtime {

/// Zero-initialized bytes aligned to kAlignment. Movable, not copyable.
/// Large buffers (an entry's arena sized for the dims' maxima) are anonymous
/// memory mappings: zero pages cost nothing until a kernel touches them.
class AlignedBuffer {
public:
  static constexpr size_t kAlignment = 64;
  /// Buffers from this size on are mapped rather than allocated.
  static constexpr size_t kMapThreshold = size_t(1) << 20;

  AlignedBuffer() = default;
  /// Throws std::bad_alloc like std::vector; sizes that come from files go
  /// through allocate() instead.
  explicit AlignedBuffer(size_t bytes) : AlignedBuffer(bytes, false) {}
  /// `bytes` of zeroed memory, or an Unavailable error naming `what`.
  static StatusOr<AlignedBuffer> allocate(size_t bytes, std::string_view what);
  /// `bytes` of zeroed address space whose pages are backed only once they
  /// are touched (MAP_NORESERVE): an arena sized for the dims' maxima, of
  /// which a smaller batch uses a part. Or an Unavailable error.
  static StatusOr<AlignedBuffer> reserve(size_t bytes, std::string_view what);

  std::byte *data() { return data_.get(); }
  const std::byte *data() const { return data_.get(); }
  size_t size() const { return size_; }

private:
  AlignedBuffer(size_t bytes, bool reserveOnly);
  struct Release {
    Release() : mappedBytes(0) {}
    explicit Release(size_t mappedBytes) : mappedBytes(mappedBytes) {}
    void operator()(std::byte *p) const;
    /// Nonzero for a mapping: its length.
    size_t mappedBytes;
  };
  std::unique_ptr<std::byte, Release> data_;
  size_t size_ = 0;
};

/// A tensor that owns its bytes (row-major, contiguous).
class HostTensor {
public:
  HostTensor() = default;
  /// Zero-filled storage for `shape` elements of `dtype`.
  HostTensor(DType dtype, const Shape &shape);

  DType dtype() const { return dtype_; }
  const Shape &shape() const { return shape_; }
  int64_t numel() const { return shape_.numel(); }
  size_t bytes() const { return buffer_.size(); }
  std::byte *data() { return buffer_.data(); }
  const std::byte *data() const { return buffer_.data(); }
  template <typename T> T *as() { return reinterpret_cast<T *>(data()); }
  template <typename T> const T *as() const {
    return reinterpret_cast<const T *>(data());
  }

  /// A view of the bytes (mutable: a kernel may write results into it).
  TensorView view();
  /// A view for reading; TensorView has no const flavour, so callers must
  /// not write through it.
  TensorView view() const;

private:
  DType dtype_ = DType::f32;
  Shape shape_;
  AlignedBuffer buffer_;
};

/// "f32[4, 50]"
std::string formatTensorType(DType dtype, const Shape &shape);

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_HOSTTENSOR_H
