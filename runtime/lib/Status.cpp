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
