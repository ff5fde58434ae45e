//===- Status.cpp - errors of the runtime ---------------------------------===//

#include "onerec/Runtime/Status.h"

using namespace onerec::runtime;

const char *Status::codeName(Code code) {
  switch (code) {
  case Code::Ok:
    return "ok";
  case Code::InvalidArgument:
    return "invalid argument";
  case Code::NotFound:
    return "not found";
  case Code::IoError:
    return "i/o error";
  case Code::Corrupt:
    return "corrupt";
  case Code::Unsupported:
    return "unsupported";
  case Code::Unavailable:
    return "unavailable";
  case Code::Internal:
    return "internal error";
  }
  return "unknown";
}

std::string Status::toString() const {
  if (isOk())
    return "ok";
  return std::string(codeName(code_)) + ": " + message_;
}

std::string onerec::runtime::printableText(std::string_view text,
                                           size_t maxChars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text.substr(0, maxChars)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return text.size() > maxChars ? out + "..." : out;
}
