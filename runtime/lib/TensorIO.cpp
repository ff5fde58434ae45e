//===- TensorIO.cpp - named tensors in files ------------------------------===//

#include "onerec/Runtime/TensorIO.h"

#include "onerec/Runtime/MappedFile.h"
#include "onerec/Runtime/Safetensors.h"

#include "JsonParse.h"
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>

namespace onerec::runtime {

namespace {

bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.substr(text.size() - suffix.size()) == suffix;
}

enum class TensorFormat { Safetensors, Json };

StatusOr<TensorFormat> formatOf(const std::string &path) {
  if (endsWith(path, ".json"))
    return TensorFormat::Json;
  if (endsWith(path, ".safetensors"))
    return TensorFormat::Safetensors;
  return Status::error(
      Status::Code::InvalidArgument,
      fmt::format("{}: unknown tensor file format; name it *.safetensors or "
                  "*.json",
                  path));
}

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31, exponent = (h >> 10) & 0x1f,
           mantissa = h & 0x3ff;
  float magnitude;
  if (exponent == 0)
    magnitude = std::ldexp(float(mantissa), -24);
  else if (exponent == 31)
    magnitude = mantissa ? NAN : INFINITY;
  else
    magnitude = std::ldexp(float(mantissa | 0x400), int(exponent) - 25);
  uint32_t bits;
  std::memcpy(&bits, &magnitude, 4);
  bits |= sign;
  std::memcpy(&magnitude, &bits, 4);
  return magnitude;
}

uint16_t floatToHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  float a = std::fabs(f);
  if (std::isnan(a))
    return sign | 0x7e00;
  if (a >= 65520.0f) // rounds to infinity
    return sign | 0x7c00;
  if (a < 6.103515625e-05f) // subnormal: units of 2^-24, round to nearest even
    return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0f));
  int exponent;
  float m = std::frexp(a, &exponent); // a = m * 2^exponent, m in [0.5, 1)
  uint32_t mantissa =
      static_cast<uint32_t>(std::nearbyint(m * 2048.0f)); // 11 bits
  if (mantissa == 2048) {
    mantissa = 1024;
    ++exponent;
  }
  return sign | static_cast<uint16_t>((exponent + 14) << 10) |
         (mantissa & 0x3ff);
}

float bf16ToFloat(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f))
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fff + ((bits >> 16) & 1); // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

/// Builds one tensor from nested JSON lists: first the structure (shape,
/// raggedness) without allocating, then the elements.
class JsonTensorReader {
public:
  JsonTensorReader(const std::string &where, DType dtype)
      : where_(where), dtype_(dtype) {}

  StatusOr<HostTensor> read(const nlohmann::json &value) {
    for (const nlohmann::json *v = &value; v->is_array(); v = &(*v)[0]) {
      if (shape_.rank == Shape::kMaxRank)
        return fail(0,
                    fmt::format("nests deeper than {} lists", Shape::kMaxRank));
      shape_.dims[shape_.rank++] = static_cast<int64_t>(v->size());
      if (v->empty())
        break;
    }
    if (Status s = collect(value, 0); !s)
      return s;
    HostTensor tensor(dtype_, shape_); // as many elements as the text holds
    for (size_t i = 0; i < leaves_.size(); ++i) {
      int64_t linear = static_cast<int64_t>(i);
      for (int d = shape_.rank - 1; d >= 0; --d) { // unravel i, for messages
        index_[d] = linear % shape_.dims[d];
        linear /= shape_.dims[d];
      }
      if (Status s = store(*leaves_[i], tensor.view(), static_cast<int64_t>(i));
          !s)
        return s;
    }
    return tensor;
  }

private:
  /// An error at the element whose index is index_[0 .. depth).
  Status fail(int depth, const std::string &message) const {
    std::string path;
    for (int d = 0; d < depth; ++d)
      path += fmt::format("[{}]", index_[d]);
    return Status::error(Status::Code::InvalidArgument,
                         fmt::format("{}{}: {}", where_, path, message));
  }

  Status collect(const nlohmann::json &value, int depth) {
    if (depth == shape_.rank) {
      if (value.is_array())
        return fail(
            depth,
            fmt::format("is a list where a number belongs (the shape is {})",
                        shape_.toString()));
      leaves_.push_back(&value);
      return Status::ok();
    }
    if (!value.is_array())
      return fail(
          depth, fmt::format(
                     "expected a list of {} elements (the shape is {}), got {}",
                     shape_.dims[depth], shape_.toString(), value.type_name()));
    if (static_cast<int64_t>(value.size()) != shape_.dims[depth])
      return fail(
          depth,
          fmt::format(
              "is ragged: {} elements where the first list at this depth "
              "has {}",
              value.size(), shape_.dims[depth]));
    for (size_t i = 0; i < value.size(); ++i) {
      index_[depth] = static_cast<int64_t>(i);
      if (Status s = collect(value[i], depth + 1); !s)
        return s;
    }
    return Status::ok();
  }

  Status store(const nlohmann::json &value, const TensorView &view,
               int64_t i) const {
    int depth = shape_.rank;
    if (dtype_ == DType::bool8 && value.is_boolean()) {
      view.as<uint8_t>()[i] = value.get<bool>() ? 1 : 0;
      return Status::ok();
    }
    if (!value.is_number())
      return fail(depth, fmt::format("expected a number ({}), got {}",
                                     dtypeName(dtype_), value.type_name()));
    if (dtype_ == DType::f32 || dtype_ == DType::f16 || dtype_ == DType::bf16) {
      storeElement(view, i, value.get<double>());
      return Status::ok();
    }
    bool tooLarge = value.is_number_unsigned() &&
                    value.get<uint64_t>() > uint64_t(INT64_MAX);
    if (!value.is_number_integer() || tooLarge)
      return fail(depth, fmt::format("{} is not a valid {} value", value.dump(),
                                     dtypeName(dtype_)));
    int64_t v = value.get<int64_t>();
    bool fits = dtype_ == DType::i64 ||
                (dtype_ == DType::i32 && v >= INT32_MIN && v <= INT32_MAX) ||
                (dtype_ == DType::bool8 && (v == 0 || v == 1));
    if (!fits)
      return fail(depth,
                  fmt::format("{} does not fit {}", v, dtypeName(dtype_)));
    if (dtype_ == DType::i64)
      view.as<int64_t>()[i] = v; // exact, not through double
    else
      storeElement(view, i, static_cast<double>(v));
    return Status::ok();
  }

  std::string where_;
  DType dtype_;
  Shape shape_;
  int64_t index_[Shape::kMaxRank] = {};
  std::vector<const nlohmann::json *> leaves_;
};

void appendElement(std::string &out, const TensorView &view, int64_t i) {
  switch (view.dtype) {
  case DType::i64:
    out += std::to_string(view.as<int64_t>()[i]);
    return;
  case DType::i32:
    out += std::to_string(view.as<int32_t>()[i]);
    return;
  case DType::bool8:
    out += view.as<uint8_t>()[i] ? "true" : "false";
    return;
  default: {
    float v = static_cast<float>(elementAsDouble(view, i));
    if (std::isnan(v))
      out += "NaN";
    else if (std::isinf(v))
      out += v > 0 ? "Infinity" : "-Infinity";
    else
      out += fmt::format("{}", v);
  }
  }
}

void appendNested(std::string &out, const TensorView &view, int depth,
                  int64_t &next) {
  if (depth == view.shape.rank) {
    appendElement(out, view, next++);
    return;
  }
  out += '[';
  for (int64_t i = 0; i < view.shape.dims[depth]; ++i) {
    if (i)
      out += ", ";
    appendNested(out, view, depth + 1, next);
  }
  out += ']';
}

} // namespace

double elementAsDouble(const TensorView &t, int64_t i) {
  switch (t.dtype) {
  case DType::f32:
    return t.as<float>()[i];
  case DType::f16:
    return halfToFloat(t.as<uint16_t>()[i]);
  case DType::bf16:
    return bf16ToFloat(t.as<uint16_t>()[i]);
  case DType::bool8:
    return t.as<uint8_t>()[i] ? 1 : 0;
  case DType::i32:
    return t.as<int32_t>()[i];
  case DType::i64:
    return static_cast<double>(t.as<int64_t>()[i]);
  }
  return 0;
}

void storeElement(const TensorView &t, int64_t i, double value) {
  switch (t.dtype) {
  case DType::f32:
    t.as<float>()[i] = static_cast<float>(value);
    return;
  case DType::f16:
    t.as<uint16_t>()[i] = floatToHalf(static_cast<float>(value));
    return;
  case DType::bf16:
    t.as<uint16_t>()[i] = floatToBf16(static_cast<float>(value));
    return;
  case DType::bool8:
    t.as<uint8_t>()[i] = value != 0;
    return;
  case DType::i32:
    t.as<int32_t>()[i] = static_cast<int32_t>(value);
    return;
  case DType::i64:
    t.as<int64_t>()[i] = static_cast<int64_t>(value);
    return;
  }
}

StatusOr<std::vector<NamedTensor>> parseJsonTensors(std::string_view text,
                                                    const std::string &fileName,
                                                    const DTypeByName &dtypes) {
  nlohmann::json root;
  std::string error;
  if (!parseJson(text, root, error))
    return Status::error(Status::Code::InvalidArgument,
                         fileName + ": not valid JSON: " + error);
  if (!root.is_object())
    return Status::error(
        Status::Code::InvalidArgument,
        fileName + ": expected an object of named tensors, {\"name\": [...]}");
  std::vector<NamedTensor> tensors;
  for (auto it = root.begin(); it != root.end(); ++it) {
    auto dtype = dtypes.find(it.key());
    if (dtype == dtypes.end()) {
      std::vector<std::string> known;
      for (const auto &[name, _] : dtypes)
        known.push_back("'" + name + "'");
      return Status::error(
          Status::Code::InvalidArgument,
          fmt::format(
              "{}: unknown tensor '{}' (expected: {})", fileName, it.key(),
              known.empty() ? "none"
                            : fmt::format("{}", fmt::join(known, ", "))));
    }
    JsonTensorReader reader(fmt::format("{}: tensor '{}'", fileName, it.key()),
                            dtype->second);
    StatusOr<HostTensor> tensor = reader.read(it.value());
    if (!tensor)
      return tensor.status();
    tensors.push_back({it.key(), std::move(tensor.value())});
  }
  return tensors;
}

StatusOr<std::vector<NamedTensor>> readTensorFile(const std::string &path,
                                                  const DTypeByName &dtypes) {
  StatusOr<TensorFormat> format = formatOf(path);
  if (!format)
    return format.status();
  if (*format == TensorFormat::Json) {
    StatusOr<std::unique_ptr<MappedFile>> file = MappedFile::open(path);
    if (!file)
      return file.status();
    std::string_view text(reinterpret_cast<const char *>((*file)->data()),
                          (*file)->size());
    return parseJsonTensors(text, path, dtypes);
  }
  StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::open(path);
  if (!file)
    return file.status();
  std::vector<NamedTensor> tensors;
  for (const SafetensorsEntry &entry : (*file)->entries()) {
    HostTensor tensor(entry.dtype, entry.shape);
    if (tensor.bytes())
      std::memcpy(tensor.data(), (*file)->data(entry), tensor.bytes());
    tensors.push_back({entry.name, std::move(tensor)});
  }
  return tensors;
}

std::string formatJsonTensors(const std::vector<NamedTensor> &tensors) {
  std::string out = "{";
  for (size_t i = 0; i < tensors.size(); ++i) {
    out += i ? ",\n " : "";
    out += nlohmann::json(tensors[i].name)
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += ": ";
    int64_t next = 0;
    appendNested(out, tensors[i].tensor.view(), 0, next);
  }
  return out + "}\n";
}

Status writeTensorFile(const std::string &path,
                       const std::vector<NamedTensor> &tensors) {
  StatusOr<TensorFormat> format = formatOf(path);
  if (!format)
    return format.status();
  if (*format == TensorFormat::Safetensors) {
    std::vector<NamedTensorView> views;
    for (const NamedTensor &t : tensors)
      views.push_back({t.name, t.tensor.view()});
    return writeSafetensors(path, views);
  }
  std::string text = formatJsonTensors(tensors);
  std::FILE *out = std::fopen(path.c_str(), "wb");
  bool ok = out && std::fwrite(text.data(), 1, text.size(), out) == text.size();
  if (out)
    ok = std::fclose(out) == 0 && ok;
  if (!ok)
    return Status::error(
        Status::Code::IoError,
        fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  return Status::ok();
}

} // namespace onerec::runtime
