//===- ToolArgs.h - the option parser of onerec-data and onerec-tokenize -===//
//
// `--name value`, `--name=value`, flags and short aliases (`-o`); everything
// else is positional. Known options are listed as "--x" (takes a value) or
// "!--x" (a flag); anything else is an error message, not an exception.
// Header-only: the tools link no shared tool library.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_TOOLS_COMMON_TOOLARGS_H
#define ONEREC_TOOLS_COMMON_TOOLARGS_H

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace onerec::tools {

class ToolArgs {
public:
  /// The arguments argv[first..argc); `aliases` maps short names to long
  /// ones ({"-o", "--output"}).
  ToolArgs(int argc, char **argv, int first,
           std::map<std::string, std::string> aliases = {}) {
    for (int i = first; i < argc; ++i) {
      std::string arg = argv[i];
      auto alias = aliases.find(arg);
      args_.push_back(alias == aliases.end() ? arg : alias->second);
    }
  }

  /// Parses against the known options; returns an error message or "".
  std::string parse(const std::vector<std::string> &known) {
    for (size_t i = 0; i < args_.size(); ++i) {
      const std::string &arg = args_[i];
      if (arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
        positionals_.push_back(arg);
        continue;
      }
      std::string name = arg, value;
      bool inlineValue = false;
      if (size_t eq = arg.find('='); eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        inlineValue = true;
      }
      if (std::find(known.begin(), known.end(), "!" + name) != known.end()) {
        if (inlineValue)
          return fmt::format("{} takes no value", name);
        flags_[name] = true;
        continue;
      }
      if (std::find(known.begin(), known.end(), name) == known.end())
        return fmt::format("unknown option '{}'", name);
      if (!inlineValue) {
        if (i + 1 == args_.size())
          return fmt::format("{} needs a value", name);
        value = args_[++i];
      }
      values_[name] = value;
    }
    return "";
  }

  bool flag(const std::string &name) const { return flags_.count(name) > 0; }
  std::optional<std::string> value(const std::string &name) const {
    auto it = values_.find(name);
    if (it == values_.end())
      return std::nullopt;
    return it->second;
  }
  const std::vector<std::string> &positionals() const { return positionals_; }

  /// Parses integer option `name` into `out` when given; returns an error
  /// message or "".
  template <typename T>
  std::string integer(const std::string &name, T &out, long long min,
                      long long max) const {
    std::optional<std::string> text = value(name);
    if (!text)
      return "";
    errno = 0;
    char *end = nullptr;
    long long v = std::strtoll(text->c_str(), &end, 10);
    if (text->empty() || *end != '\0' || errno != 0 || v < min || v > max)
      return fmt::format("{} '{}' is not an integer in {}..{}", name, *text,
                         min, max);
    out = static_cast<T>(v);
    return "";
  }

private:
  std::vector<std::string> args_, positionals_;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> flags_;
};

} // namespace onerec::tools

#endif // ONEREC_TOOLS_COMMON_TOOLARGS_H
