//===- HostTensor.cpp - owned, aligned tensors in host memory -------------===//

#include "onerec/Runtime/HostTensor.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <sys/mman.h>

namespace onerec::runtime {

AlignedBuffer::AlignedBuffer(size_t bytes, bool reserveOnly) : size_(bytes) {
  if (bytes == 0)
    return;
  if (bytes >= kMapThreshold || reserveOnly) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (reserveOnly ? MAP_NORESERVE : 0);
    void *p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
      throw std::bad_alloc();
    data_ = std::unique_ptr<std::byte, Release>(static_cast<std::byte *>(p),
                                                Release(bytes));
    return;
  }
  // aligned_alloc wants a multiple of the alignment.
  size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void *p = std::aligned_alloc(kAlignment, rounded);
  if (!p)
    throw std::bad_alloc();
  std::memset(p, 0, rounded);
  data_.reset(static_cast<std::byte *>(p));
}

StatusOr<AlignedBuffer> AlignedBuffer::allocate(size_t bytes,
                                                std::string_view what) {
  try {
    return AlignedBuffer(bytes);
  } catch (const std::bad_alloc &) {
    return Status::error(Status::Code::Unavailable,
                         "cannot allocate " + std::to_string(bytes) +
                             " bytes for " + std::string(what));
  }
}

StatusOr<AlignedBuffer> AlignedBuffer::reserve(size_t bytes,
                                               std::string_view what) {
  try {
    return AlignedBuffer(bytes, /*reserveOnly=*/true);
  } catch (const std::bad_alloc &) {
    return Status::error(Status::Code::Unavailable,
                         "cannot reserve " + std::to_string(bytes) +
                             " bytes of address space for " +
                             std::string(what));
  }
}

void AlignedBuffer::Release::operator()(std::byte *p) const {
  if (mappedBytes)
    ::munmap(p, mappedBytes);
  else
    std::free(p);
}

HostTensor::HostTensor(DType dtype, const Shape &shape)
    : dtype_(dtype), shape_(shape),
      buffer_(static_cast<size_t>(shape.numel()) * dtypeSize(dtype)) {}

TensorView HostTensor::view() {
  TensorView v;
  v.dtype = dtype_;
  v.shape = shape_;
  v.data = buffer_.data();
  return v;
}

TensorView HostTensor::view() const {
  TensorView v;
  v.dtype = dtype_;
  v.shape = shape_;
  v.data = const_cast<std::byte *>(buffer_.data());
  return v;
}

std::string formatTensorType(DType dtype, const Shape &shape) {
  return std::string(dtypeName(dtype)) + shape.toString();
}

} // namespace onerec::runtime
