//===- Metrics.h - metrics.jsonl and the progress line ----------*- C++ -*-===//
//
// A training run writes one JSON object per line to metrics.jsonl: one per
// update and one per evaluation. Losses are printed with 17 significant
// digits, so two runs (an uninterrupted one and a resumed one) can be
// compared exactly; non-finite values are written NaN / Infinity /
// -Infinity (Python's json reads them).
//
//   {"step": 1, "epoch": 1, "loss": 0.69314610958099365, "lr": 0.001,
//    "grad_norm": 0.5, "examples_per_s": 812.5, "wall_s": 0.158}
//   {"eval": "valid", "step": 100, "epoch": 2, "protocol": "full", "k": 10,
//    "hr": 0.42, "ndcg": 0.25, "users": 1000, "wall_s": 3.2}
//   {"eval": "valid", "step": 100, "epoch": 2, "entry": "ntp",
//    "loss": 3.91, "examples": 22363, "wall_s": 3.2}   (generative models)
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DRIVER_METRICS_H
#define ONEREC_DRIVER_METRICS_H

#include "onerec/Runtime/Status.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace onerec::driver {

struct StepRecord {
  int64_t step = 0;
  int64_t epoch = 0;
  double loss = 0;
  double lr = 0;
  double gradNorm = 0;
  double examplesPerS = 0;
  /// Seconds since the start of training (continued across resumes).
  double wallS = 0;
};

struct EvalRecord {
  std::string split; // "valid" or "test"
  int64_t step = 0;
  int64_t epoch = 0;
  std::string protocol; // "full" or "sampled"
  int k = 10;
  double hitRate = 0;
  double ndcg = 0;
  int64_t users = 0;
  double wallS = 0;
};

/// The mean loss of a Loss entry over a split (generative models).
struct LossEvalRecord {
  std::string split; // "valid" or "test"
  int64_t step = 0;
  int64_t epoch = 0;
  std::string entry; // the Loss entry, e.g. "ntp"
  double loss = 0;
  int64_t examples = 0;
  double wallS = 0;
};

/// `value` as JSON: 17 significant digits (exact for doubles), NaN,
/// Infinity or -Infinity when not finite.
std::string formatJsonNumber(double value);
/// One line of metrics.jsonl (no newline).
std::string formatRecord(const StepRecord &record);
std::string formatRecord(const EvalRecord &record);
std::string formatRecord(const LossEvalRecord &record);

class MetricsWriter {
public:
  /// Starts `path` afresh (truncating it).
  static runtime::StatusOr<std::unique_ptr<MetricsWriter>>
  create(const std::string &path);
  /// Continues `path` after a resume from update `step`: keeps the records
  /// of updates <= step, drops later ones and any damaged last line (a run
  /// killed mid-write), so the file never holds a record twice. A missing
  /// file is created.
  static runtime::StatusOr<std::unique_ptr<MetricsWriter>>
  resume(const std::string &path, int64_t step);
  ~MetricsWriter();

  /// Appends a record and flushes it to the OS (not fsynced: metrics are
  /// rebuilt from the checkpoint's step on resume).
  runtime::Status write(const StepRecord &record);
  runtime::Status write(const EvalRecord &record);
  runtime::Status write(const LossEvalRecord &record);
  const std::string &path() const { return path_; }

private:
  MetricsWriter(std::string path, std::FILE *file)
      : path_(std::move(path)), file_(file) {}
  runtime::Status writeLine(const std::string &line);

  std::string path_;
  std::FILE *file_;
};

/// The progress line of long work on stderr: rewritten in place at most
/// `refreshPerS` times a second on a terminal, else one line every
/// `everySteps` updates (and the last one).
///
///   step 1200/5000 (24%)  epoch 3  loss 0.4123  lr 1.00e-03  8421 ex/s  ETA
///   0:41
class ProgressLine {
public:
  ProgressLine(std::FILE *out, bool terminal, int64_t total, int64_t everySteps,
               double refreshPerS = 4);
  /// Reports update `step`; `examplesPerS` is the recent throughput.
  void update(int64_t step, int64_t epoch, double loss, double lr,
              double examplesPerS);
  /// Prints a line that must not be overwritten (an evaluation, a
  /// checkpoint) without garbling the progress line.
  void message(const std::string &text);
  /// Ends the progress line (a newline on a terminal).
  void finish();

  /// "step 12/100 (12%)  epoch 1  loss ..." for tests and logs.
  static std::string format(int64_t step, int64_t total, int64_t epoch,
                            double loss, double lr, double examplesPerS,
                            double etaSeconds);

private:
  std::FILE *out_;
  bool terminal_;
  int64_t total_;
  int64_t everySteps_;
  double minInterval_;
  bool pending_ = false;
  int64_t firstStep_ = -1;
  std::chrono::steady_clock::time_point start_, lastPrint_;
  std::string last_;
};

} // namespace onerec::driver

#endif // ONEREC_DRIVER_METRICS_H
