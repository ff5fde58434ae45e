//===- Status.h - errors of the runtime ---------------------------*- C++
//-*-===//
//
// The runtime reports failures as values: a Status (ok or a code and a
// message that says where and what), or a StatusOr<T>. Messages name the file,
// offset, tensor or device they are about, so a caller can print them as is.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_STATUS_H
#define ONEREC_RUNTIME_STATUS_H

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace onerec::runtime {

class [[nodiscard]] Status {
public:
  enum class Code {
    Ok,
    InvalidArgument, // the caller's input is wrong
    NotFound,        // a file, tensor or device does not exist
    IoError,         // reading or writing failed
    Corrupt,         // a file is malformed
    Unsupported,     // valid, but this build or machine cannot do it
    Unavailable,     // a resource (driver, device) is missing right now
    Internal,        // a bug in onerec
  };

  Status() = default;
  static Status ok() { return Status(); }
  static Status error(Code code, std::string message) {
    assert(code != Code::Ok && "an error needs an error code");
    return Status(code, std::move(message));
  }

  bool isOk() const { return code_ == Code::Ok; }
  explicit operator bool() const { return isOk(); }
  Code code() const { return code_; }
  const std::string &message() const { return message_; }

  /// The same error with `context: ` in front of its message.
  Status withContext(std::string_view context) const {
    if (isOk())
      return *this;
    return Status(code_, std::string(context) + ": " + message_);
  }

  /// "corrupt: plan.fb: truncated (12 bytes, need at least 24)"
  std::string toString() const;
  static const char *codeName(Code code);

private:
  Status(Code code, std::string message)
      : code_(code), message_(std::move(message)) {}

  Code code_ = Code::Ok;
  std::string message_;
};

/// `text` with every byte that is not printable ASCII shown as `\xNN`, cut
/// to `maxChars` (then ending in "..."): names and messages that come from
/// damaged files never write raw binary to a terminal.
std::string printableText(std::string_view text,
                          size_t maxChars = std::string_view::npos);

/// A value or the error that prevented computing it.
template <typename T> class [[nodiscard]] StatusOr {
public:
  StatusOr(T value) : value_(std::move(value)) {}
  StatusOr(Status status) : status_(std::move(status)) {
    assert(!status_.isOk() && "StatusOr needs a value or an error");
  }

  bool isOk() const { return value_.has_value(); }
  explicit operator bool() const { return isOk(); }
  const Status &status() const { return status_; }

  T &value() & {
    assert(isOk());
    return *value_;
  }
  const T &value() const & {
    assert(isOk());
    return *value_;
  }
  T &&value() && {
    assert(isOk());
    return std::move(*value_);
  }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }
  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }

private:
  Status status_;
  std::optional<T> value_;
};

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_STATUS_H
