//===- Safetensors.cpp - the Hugging Face safetensors format --------------===//

#include "onerec/Runtime/Safetensors.h"

#include "JsonParse.h"
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

namespace onerec::runtime {

namespace {

/// Hugging Face's reader refuses headers above 100 MB; so do we.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

Status corrupt(const std::string &file, const std::string &message) {
  return Status::error(Status::Code::Corrupt, file + ": " + message);
}

struct DTypeName {
  DType dtype;
  const char *name;
};
constexpr DTypeName kDTypeNames[] = {
    {DType::f32, "F32"},    {DType::f16, "F16"}, {DType::bf16, "BF16"},
    {DType::bool8, "BOOL"}, {DType::i32, "I32"}, {DType::i64, "I64"}};

/// Reads one header entry; `what` is "tensor 'name'" for messages.
Status parseEntry(const std::string &file, const std::string &name,
                  const nlohmann::json &value, SafetensorsEntry &entry) {
  std::string what = fmt::format("tensor '{}'", name);
  if (!value.is_object())
    return corrupt(file, what + ": the header entry is not an object");
  auto dtype = value.find("dtype");
  auto shape = value.find("shape");
  auto offsets = value.find("data_offsets");
  if (dtype == value.end() || shape == value.end() || offsets == value.end())
    return corrupt(file,
                   what + ": needs \"dtype\", \"shape\" and \"data_offsets\"");
  if (!dtype->is_string())
    return corrupt(file, what + ": \"dtype\" is not a string");
  std::optional<DType> parsed =
      parseSafetensorsDType(dtype->get_ref<const std::string &>());
  if (!parsed)
    return Status::error(
        Status::Code::Unsupported,
        fmt::format("{}: {}: dtype '{}' is not supported (onerec reads F32, "
                    "F16, BF16, I64, I32 and BOOL)",
                    file, what, dtype->get_ref<const std::string &>()));
  entry.name = name;
  entry.dtype = *parsed;
  if (!shape->is_array() ||
      shape->size() > static_cast<size_t>(Shape::kMaxRank))
    return corrupt(
        file, fmt::format("{}: \"shape\" must be a list of at most {} extents",
                          what, Shape::kMaxRank));
  uint64_t numel = 1;
  for (const nlohmann::json &extent : *shape) {
    if (!extent.is_number_unsigned() &&
        !(extent.is_number_integer() && extent.get<int64_t>() >= 0))
      return corrupt(
          file,
          what +
              ": \"shape\" holds something other than a non-negative integer");
    uint64_t e = extent.get<uint64_t>();
    if (e > uint64_t(INT64_MAX) || __builtin_mul_overflow(numel, e, &numel))
      return corrupt(file, what + ": the shape's element count overflows");
    entry.shape.dims[entry.shape.rank++] = static_cast<int64_t>(e);
  }
  if (!offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned())
    return corrupt(file, what + ": \"data_offsets\" must be [begin, end]");
  entry.begin = (*offsets)[0].get<uint64_t>();
  entry.end = (*offsets)[1].get<uint64_t>();
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(numel, uint64_t(dtypeSize(entry.dtype)), &bytes) ||
      entry.end < entry.begin || entry.end - entry.begin != bytes)
    return corrupt(
        file,
        fmt::format("{}: data_offsets [{}, {}) hold {} bytes, but {}{} needs "
                    "{}",
                    what, entry.begin, entry.end,
                    entry.end >= entry.begin ? entry.end - entry.begin : 0,
                    dtypeName(entry.dtype), entry.shape.toString(), bytes));
  return Status::ok();
}

} // namespace

const char *safetensorsDTypeName(DType dtype) {
  for (const DTypeName &d : kDTypeNames)
    if (d.dtype == dtype)
      return d.name;
  return "?";
}

std::optional<DType> parseSafetensorsDType(std::string_view name) {
  for (const DTypeName &d : kDTypeNames)
    if (name == d.name)
      return d.dtype;
  return std::nullopt;
}

StatusOr<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::open(const std::string &path) {
  StatusOr<std::unique_ptr<MappedFile>> file = MappedFile::open(path);
  if (!file)
    return file.status();
  return parse(std::move(file.value()));
}

StatusOr<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::fromBytes(const void *data, size_t size, std::string name) {
  return parse(MappedFile::copyOf(data, size, std::move(name)));
}

StatusOr<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::parse(std::unique_ptr<MappedFile> file) {
  const std::string &name = file->name();
  const uint8_t *bytes = file->data();
  uint64_t size = file->size();
  if (size < 8)
    return corrupt(
        name,
        fmt::format("truncated: {} bytes, a safetensors file has at least 8",
                    size));
  uint64_t headerBytes = 0;
  for (int i = 7; i >= 0; --i)
    headerBytes = headerBytes << 8 | bytes[i];
  if (headerBytes > size - 8)
    return corrupt(
        name,
        fmt::format("truncated: the header needs {} bytes, the file has {} "
                    "after the length",
                    headerBytes, size - 8));
  if (headerBytes > kMaxHeaderBytes)
    return corrupt(name,
                   fmt::format("the header is {} bytes, more than the limit {}",
                               headerBytes, kMaxHeaderBytes));
  const char *text = reinterpret_cast<const char *>(bytes + 8);
  nlohmann::json header;
  std::string error;
  if (!parseJson(std::string_view(text, headerBytes), header, error))
    return corrupt(name, "the header is not valid JSON: " + error);
  if (!header.is_object())
    return corrupt(name, "the header is not a JSON object");

  std::unique_ptr<SafetensorsFile> result(new SafetensorsFile());
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object())
        return corrupt(name, "\"__metadata__\" is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string())
          return corrupt(name,
                         fmt::format("metadata '{}' is not a string", m.key()));
        result->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    SafetensorsEntry entry;
    if (Status s = parseEntry(name, it.key(), it.value(), entry); !s)
      return s;
    result->entries_.push_back(std::move(entry));
  }

  // The data must be covered exactly: sorted ranges, no overlap, no hole.
  std::sort(result->entries_.begin(), result->entries_.end(),
            [](const SafetensorsEntry &a, const SafetensorsEntry &b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  uint64_t dataBytes = size - 8 - headerBytes;
  uint64_t expected = 0;
  for (const SafetensorsEntry &entry : result->entries_) {
    if (entry.begin < expected)
      return corrupt(
          name,
          fmt::format("tensor '{}' at data bytes [{}, {}) overlaps the tensor "
                      "before it",
                      entry.name, entry.begin, entry.end));
    if (entry.begin > expected)
      return corrupt(
          name,
          fmt::format("data bytes [{}, {}) before tensor '{}' belong to no "
                      "tensor",
                      expected, entry.begin, entry.name));
    if (entry.end > dataBytes)
      return corrupt(
          name,
          fmt::format("tensor '{}' at data bytes [{}, {}) lies past the end of "
                      "the data ({} bytes); is the file truncated?",
                      entry.name, entry.begin, entry.end, dataBytes));
    expected = entry.end;
  }
  if (expected != dataBytes)
    return corrupt(name,
                   fmt::format("the last {} data bytes belong to no tensor",
                               dataBytes - expected));
  result->dataOffset_ = 8 + headerBytes;
  result->file_ = std::move(file);
  return result;
}

const SafetensorsEntry *SafetensorsFile::find(std::string_view name) const {
  for (const SafetensorsEntry &entry : entries_)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

const std::byte *SafetensorsFile::data(const SafetensorsEntry &entry) const {
  return reinterpret_cast<const std::byte *>(file_->data() + dataOffset_ +
                                             entry.begin);
}

Status writeSafetensors(const std::string &path,
                        const std::vector<NamedTensorView> &tensors,
                        const std::map<std::string, std::string> &metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty())
    header["__metadata__"] = metadata;
  std::set<std::string_view> names;
  uint64_t offset = 0;
  for (const NamedTensorView &tensor : tensors) {
    if (tensor.name == "__metadata__" || !names.insert(tensor.name).second)
      return Status::error(
          Status::Code::InvalidArgument,
          fmt::format("{}: tensor name '{}' is reserved or given twice", path,
                      tensor.name));
    std::vector<int64_t> shape(tensor.view.shape.dims,
                               tensor.view.shape.dims + tensor.view.shape.rank);
    uint64_t bytes = tensor.view.bytes();
    header[tensor.name] = {{"dtype", safetensorsDTypeName(tensor.view.dtype)},
                           {"shape", shape},
                           {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump(
      -1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  // Pad with spaces so the data starts 8-byte aligned, as Hugging Face does.
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');

  std::string temporary = path + ".tmp";
  std::FILE *out = std::fopen(temporary.c_str(), "wb");
  if (!out)
    return Status::error(
        Status::Code::IoError,
        fmt::format("{}: cannot create: {}", temporary, std::strerror(errno)));
  uint8_t length[8];
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<uint8_t>(uint64_t(text.size()) >> (8 * i));
  bool ok = std::fwrite(length, 1, 8, out) == 8 &&
            std::fwrite(text.data(), 1, text.size(), out) == text.size();
  for (const NamedTensorView &tensor : tensors)
    ok = ok && (tensor.view.bytes() == 0 ||
                std::fwrite(tensor.view.data, 1, tensor.view.bytes(), out) ==
                    tensor.view.bytes());
  int error = errno;
  ok = (std::fclose(out) == 0) && ok;
  if (!ok || std::rename(temporary.c_str(), path.c_str()) != 0) {
    error = ok ? errno : error;
    std::remove(temporary.c_str());
    return Status::error(
        Status::Code::IoError,
        fmt::format("{}: cannot write: {}", path, std::strerror(error)));
  }
  return Status::ok();
}

} // namespace onerec::runtime
