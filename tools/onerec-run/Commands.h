//===- Commands.h - the commands of onerec-run ------------------*- C++ -*-===//
//
// Each command takes its arguments (after the command name) and returns the
// process exit status: 0 success, 1 failure (one `onerec-run: error:` line on
// stderr), 2 a usage error.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_TOOLS_ONEREC_RUN_COMMANDS_H
#define ONEREC_TOOLS_ONEREC_RUN_COMMANDS_H

#include "onerec/Runtime/Status.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onerec::run {

using Args = std::vector<std::string_view>;

int runDevices(const Args &args);
int runInspect(const Args &args);
int runForward(const Args &args);
int runWeights(const Args &args);
int runTrain(const Args &args);
int runEval(const Args &args);
int runGenerate(const Args &args);

/// Prints `onerec-run: error: <message>` and returns 1.
int reportError(const runtime::Status &status);
/// Prints the usage error and the command's usage line; returns 2.
int usageError(const std::string &message, std::string_view usage);

/// A small option parser: `--name value`, `--name=value`, flags and
/// positional arguments, with an error for anything unknown.
class CommandLine {
public:
  CommandLine(const Args &args, std::string_view usage)
      : args_(args), usage_(usage) {}

  /// True when the flag `name` is given (and consumes it).
  bool flag(std::string_view name);
  /// The value of option `name` (or its short `alias`), if given.
  std::optional<std::string> option(std::string_view name,
                                    std::string_view alias = {});
  /// The remaining arguments that are not options, in order.
  std::vector<std::string> positionals() const;
  /// Ends parsing: with --help, prints the usage and returns 0; otherwise
  /// a usage error (2) for the first argument no call above consumed or a
  /// missing option value, or nullopt when every argument was understood.
  std::optional<int> finish(size_t expectedPositionals);
  std::string_view usage() const { return usage_; }

private:
  Args args_;
  std::string_view usage_;
  std::vector<bool> consumed_ = std::vector<bool>(args_.size(), false);
  std::string missingValue_;
};

/// An error unless `dir` is a directory (train and eval's --data).
runtime::Status checkDataDir(const std::string &dir);

/// "12.5 MiB"
std::string formatBytes(double bytes);
/// "1.23 GFLOP"
std::string formatFlops(double flops);

} // namespace onerec::run

#endif // ONEREC_TOOLS_ONEREC_RUN_COMMANDS_H
