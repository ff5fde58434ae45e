//===- NpyReader.cpp - 2-D float matrices from numpy .npy files -----------===//

#include "NpyReader.h"

#include "onerec/Runtime/MappedFile.h"

#include <fmt/format.h>

#include <cstring>
#include <limits>
#include <map>
#include <optional>

namespace onerec::tools {

using runtime::Status;
using runtime::StatusOr;
using Code = Status::Code;

namespace {

/// The header dict: string, bool and integer-tuple values by key.
struct HeaderValue {
  enum class Kind { String, Bool, Tuple } kind = Kind::String;
  std::string text;
  bool flag = false;
  std::vector<int64_t> tuple;
};

/// Parses numpy's header, a Python dict literal of simple values; returns
/// an error message or "".
std::string parseHeader(std::string_view s,
                        std::map<std::string, HeaderValue> &out) {
  size_t i = 0;
  auto skip = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'))
      ++i;
  };
  auto parseString = [&](std::string &text) -> bool {
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"'))
      return false;
    char quote = s[i++];
    size_t end = s.find(quote, i);
    if (end == std::string_view::npos)
      return false;
    text = std::string(s.substr(i, end - i));
    i = end + 1;
    return true;
  };
  auto at = [&](const char *what) {
    return fmt::format("{} at header offset {}", what, i);
  };
  skip();
  if (i >= s.size() || s[i++] != '{')
    return "the header is not a Python dict";
  for (;;) {
    skip();
    if (i < s.size() && s[i] == '}')
      return "";
    std::string key;
    if (!parseString(key))
      return at("expected a quoted key or '}'");
    skip();
    if (i >= s.size() || s[i++] != ':')
      return at("expected ':'");
    skip();
    HeaderValue value;
    if (s.compare(i, 4, "True") == 0 || s.compare(i, 5, "False") == 0) {
      value.kind = HeaderValue::Kind::Bool;
      value.flag = s[i] == 'T';
      i += value.flag ? 4 : 5;
    } else if (i < s.size() && s[i] == '(') {
      value.kind = HeaderValue::Kind::Tuple;
      ++i;
      for (;;) {
        skip();
        if (i < s.size() && s[i] == ')') {
          ++i;
          break;
        }
        if (i >= s.size() || s[i] < '0' || s[i] > '9')
          return at("expected a dimension");
        int64_t v = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
          if (v > (std::numeric_limits<int64_t>::max() - 9) / 10)
            return at("dimension too large");
          v = v * 10 + (s[i++] - '0');
        }
        // numpy writes 2L on Python 2.
        if (i < s.size() && s[i] == 'L')
          ++i;
        value.tuple.push_back(v);
        skip();
        if (i < s.size() && s[i] == ',')
          ++i;
      }
    } else if (!parseString(value.text)) {
      return at("expected a string, True, False or a tuple");
    }
    out[key] = value;
    skip();
    if (i < s.size() && s[i] == ',')
      ++i;
  }
}

} // namespace

StatusOr<FloatMatrix> parseNpyMatrix(std::string_view bytes,
                                     const std::string &name) {
  auto fail = [&](const std::string &what) {
    return Status::error(Code::Corrupt, fmt::format("{}: {}", name, what));
  };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    return fail("not a .npy file (no \\x93NUMPY magic)");
  auto byte = [&](size_t at) { return static_cast<uint8_t>(bytes[at]); };
  uint8_t major = byte(6);
  size_t headerLength, headerStart;
  if (major == 1) {
    headerLength = byte(8) | size_t(byte(9)) << 8;
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return fail(fmt::format("truncated ({} bytes)", bytes.size()));
    headerLength = byte(8) | size_t(byte(9)) << 8 | size_t(byte(10)) << 16 |
                   size_t(byte(11)) << 24;
    headerStart = 12;
  } else {
    return fail(fmt::format(".npy version {}.{} is not supported (1 to 3)",
                            major, byte(7)));
  }
  if (bytes.size() - headerStart < headerLength)
    return fail(fmt::format("truncated header ({} bytes, the header needs {})",
                            bytes.size(), headerStart + headerLength));
  std::map<std::string, HeaderValue> header;
  std::string message =
      parseHeader(bytes.substr(headerStart, headerLength), header);
  if (!message.empty())
    return fail(message);
  auto field = [&](const char *key,
                   HeaderValue::Kind kind) -> const HeaderValue * {
    auto it = header.find(key);
    return it != header.end() && it->second.kind == kind ? &it->second
                                                         : nullptr;
  };
  const HeaderValue *descr = field("descr", HeaderValue::Kind::String);
  const HeaderValue *fortran = field("fortran_order", HeaderValue::Kind::Bool);
  const HeaderValue *shape = field("shape", HeaderValue::Kind::Tuple);
  if (!descr || !fortran || !shape)
    return fail("the header lacks 'descr', 'fortran_order' or 'shape'");
  size_t itemSize;
  if (descr->text == "<f4" || descr->text == "=f4")
    itemSize = 4;
  else if (descr->text == "<f8" || descr->text == "=f8")
    itemSize = 8;
  else
    return fail(fmt::format("dtype '{}' is not supported (little-endian "
                            "float32 '<f4' or float64 '<f8')",
                            runtime::printableText(descr->text, 40)));
  if (fortran->flag)
    return fail("the array is in Fortran order; save it in C order "
                "(numpy.ascontiguousarray)");
  if (shape->tuple.size() != 2)
    return fail(fmt::format("the array has rank {}, expected 2 (items x "
                            "dimensions)",
                            shape->tuple.size()));
  FloatMatrix m;
  m.rows = shape->tuple[0];
  m.cols = shape->tuple[1];
  size_t dataStart = headerStart + headerLength;
  size_t available = bytes.size() - dataStart;
  if (m.cols > 0 &&
      static_cast<uint64_t>(m.rows) > available / itemSize / m.cols)
    return fail(fmt::format("truncated: a [{}, {}] {} array needs more than "
                            "the {} data bytes the file has",
                            m.rows, m.cols,
                            itemSize == 4 ? "float32" : "float64", available));
  size_t count = static_cast<size_t>(m.rows * m.cols);
  if (available != count * itemSize)
    return fail(fmt::format("{} bytes after the [{}, {}] array's data",
                            available - count * itemSize, m.rows, m.cols));
  m.values.resize(count);
  const char *data = bytes.data() + dataStart;
  if (itemSize == 4) {
    if (count)
      std::memcpy(m.values.data(), data, count * 4);
  } else {
    for (size_t i = 0; i < count; ++i) {
      double v;
      std::memcpy(&v, data + i * 8, 8);
      m.values[i] = static_cast<float>(v);
    }
  }
  return m;
}

StatusOr<FloatMatrix> readNpyMatrix(const std::string &path) {
  auto file = runtime::MappedFile::open(path);
  if (!file)
    return file.status();
  return parseNpyMatrix(
      std::string_view(reinterpret_cast<const char *>((*file)->data()),
                       (*file)->size()),
      path);
}

} // namespace onerec::tools
