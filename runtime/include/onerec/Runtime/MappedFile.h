//===- MappedFile.h - read-only bytes of a file or a buffer -----*- C++ -*-===//
//
// Plans and checkpoints are read in place: a MappedFile memory-maps a file
// read-only (the pages stay shared with the page cache), or holds an aligned
// copy of bytes that came from memory (tests, fuzzing). Either way the bytes
// start 64-byte aligned, so aligned offsets in the file are aligned pointers.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_MAPPEDFILE_H
#define ONEREC_RUNTIME_MAPPEDFILE_H

#include "onerec/Runtime/HostTensor.h"
#include "onerec/Runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace onerec::runtime {

class MappedFile {
public:
  /// Maps `path` read-only. An empty file maps to zero bytes.
  static StatusOr<std::unique_ptr<MappedFile>> open(const std::string &path);
  /// An aligned copy of `size` bytes at `data`; `name` is used in messages.
  static std::unique_ptr<MappedFile> copyOf(const void *data, size_t size,
                                            std::string name);

  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  /// The path (or the name given to copyOf), for messages.
  const std::string &name() const { return name_; }

private:
  MappedFile(std::string name) : name_(std::move(name)) {}

  std::string name_;
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  /// Set when the bytes are mapped (munmap on destruction).
  void *mapping_ = nullptr;
  size_t mappingSize_ = 0;
  /// Set when the bytes are a copy.
  AlignedBuffer copy_;
};

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_MAPPEDFILE_H
