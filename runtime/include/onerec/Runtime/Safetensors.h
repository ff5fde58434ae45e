//===- Safetensors.h - the Hugging Face safetensors format ------*- C++ -*-===//
//
// Weights, checkpoints, inputs and outputs are exchanged as safetensors
// files, so PyTorch (`safetensors.torch.load_file`) reads what onerec writes
// and the other way round:
//
//   u64 little-endian N | N bytes of JSON header | raw tensor data
//
// The header maps each tensor name to {"dtype": "F32", "shape": [..],
// "data_offsets": [begin, end]} (offsets relative to the data), plus an
// optional "__metadata__" object of strings. The reader checks the header
// completely before any tensor is touched: JSON syntax, known dtypes, byte
// counts that match the shapes, offsets inside the data that leave neither
// overlaps nor holes.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_SAFETENSORS_H
#define ONEREC_RUNTIME_SAFETENSORS_H

#include "onerec/Runtime/MappedFile.h"
#include "onerec/Runtime/Status.h"
#include "onerec/Runtime/Tensor.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onerec::runtime {

/// One tensor of a safetensors header.
struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  /// Byte range in the data section.
  uint64_t begin = 0;
  uint64_t end = 0;
};

/// A safetensors file whose header has been fully validated. Tensor bytes
/// are used in place (mapped read-only) and need not be aligned.
class SafetensorsFile {
public:
  static StatusOr<std::unique_ptr<SafetensorsFile>>
  open(const std::string &path);
  /// Parses bytes in memory (copied); `name` stands in for the file name.
  static StatusOr<std::unique_ptr<SafetensorsFile>>
  fromBytes(const void *data, size_t size, std::string name);

  const std::string &name() const { return file_->name(); }
  /// The tensors in data order.
  const std::vector<SafetensorsEntry> &entries() const { return entries_; }
  /// The tensor called `name`, or null.
  const SafetensorsEntry *find(std::string_view name) const;
  /// The bytes of `entry` (end - begin of them).
  const std::byte *data(const SafetensorsEntry &entry) const;
  const std::map<std::string, std::string> &metadata() const {
    return metadata_;
  }

private:
  SafetensorsFile() = default;
  static StatusOr<std::unique_ptr<SafetensorsFile>>
  parse(std::unique_ptr<MappedFile> file);

  std::unique_ptr<MappedFile> file_;
  uint64_t dataOffset_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

/// A tensor to write: its name and bytes.
struct NamedTensorView {
  std::string name;
  TensorView view;
};

/// Writes `tensors` (in the given order, names unique) and `metadata` to
/// `path` atomically (a temporary file renamed over it).
Status
writeSafetensors(const std::string &path,
                 const std::vector<NamedTensorView> &tensors,
                 const std::map<std::string, std::string> &metadata = {});

/// "F32", "BF16", "BOOL" ... for a runtime dtype.
const char *safetensorsDTypeName(DType dtype);
/// The runtime dtype of a safetensors dtype name, if onerec supports it.
std::optional<DType> parseSafetensorsDType(std::string_view name);

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_SAFETENSORS_H
