//===- JsonParse.h - JSON parsing with located errors -----------*- C++ -*-===//
//
// nlohmann::json's parse, with its exception turned into a message that says
// where the text stops being JSON: "line 1, column 14: syntax error while
// parsing value - unexpected end of input".
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_LIB_JSONPARSE_H
#define ONEREC_RUNTIME_LIB_JSONPARSE_H

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace onerec::runtime {

/// Parses `text`; on failure returns false and sets `error` to the parser's
/// located message (without nlohmann's "[json.exception...]" prefix).
inline bool parseJson(std::string_view text, nlohmann::json &out,
                      std::string &error) {
  try {
    out = nlohmann::json::parse(text.begin(), text.end());
    return true;
  } catch (const nlohmann::json::parse_error &e) {
    std::string what = e.what();
    std::string_view marker = "parse error at ";
    size_t at = what.find(marker);
    error = at == std::string::npos ? what : what.substr(at + marker.size());
    return false;
  }
}

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_LIB_JSONPARSE_H
