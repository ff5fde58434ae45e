//===- Metrics.cpp - metrics.jsonl and the progress line ------------------===//

#include "onerec/Driver/Metrics.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

using onerec::runtime::Status;
using onerec::runtime::StatusOr;

namespace onerec::driver {

std::string formatJsonNumber(double value) {
  if (std::isnan(value))
    return "NaN";
  if (std::isinf(value))
    return value > 0 ? "Infinity" : "-Infinity";
  return fmt::format("{:.17g}", value);
}

static std::string jsonString(const std::string &text) {
  return nlohmann::json(text).dump(-1, ' ', false,
                                   nlohmann::json::error_handler_t::replace);
}

std::string formatRecord(const StepRecord &r) {
  return fmt::format("{{\"step\": {}, \"epoch\": {}, \"loss\": {}, \"lr\": {}, "
                     "\"grad_norm\": {}, \"examples_per_s\": {:.1f}, "
                     "\"wall_s\": {:.3f}}}",
                     r.step, r.epoch, formatJsonNumber(r.loss),
                     formatJsonNumber(r.lr), formatJsonNumber(r.gradNorm),
                     r.examplesPerS, r.wallS);
}

std::string formatRecord(const EvalRecord &r) {
  return fmt::format("{{\"eval\": {}, \"step\": {}, \"epoch\": {}, "
                     "\"protocol\": {}, \"k\": {}, \"hr\": {}, \"ndcg\": {}, "
                     "\"users\": {}, \"wall_s\": {:.3f}}}",
                     jsonString(r.split), r.step, r.epoch,
                     jsonString(r.protocol), r.k, formatJsonNumber(r.hitRate),
                     formatJsonNumber(r.ndcg), r.users, r.wallS);
}

std::string formatRecord(const LossEvalRecord &r) {
  return fmt::format("{{\"eval\": {}, \"step\": {}, \"epoch\": {}, "
                     "\"entry\": {}, \"loss\": {}, \"examples\": {}, "
                     "\"wall_s\": {:.3f}}}",
                     jsonString(r.split), r.step, r.epoch, jsonString(r.entry),
                     formatJsonNumber(r.loss), r.examples, r.wallS);
}

StatusOr<std::unique_ptr<MetricsWriter>>
MetricsWriter::create(const std::string &path) {
  std::FILE *file = std::fopen(path.c_str(), "w");
  if (!file)
    return Status::error(Status::Code::IoError,
                         fmt::format("{}: cannot write the metrics: {}", path,
                                     std::strerror(errno)));
  return std::unique_ptr<MetricsWriter>(new MetricsWriter(path, file));
}

StatusOr<std::unique_ptr<MetricsWriter>>
MetricsWriter::resume(const std::string &path, int64_t step) {
  std::ifstream in(path);
  if (!in)
    return create(path);
  // Keep the complete records of updates <= step; a record without a
  // parsable "step" (a line cut by a kill) ends the kept part.
  std::string kept, line;
  while (std::getline(in, line)) {
    if (in.eof())
      break; // no newline: the last write was cut short
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false,
                                             /*ignore_comments=*/false);
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number_integer())
      break;
    if (j["step"].get<int64_t>() > step)
      break;
    kept += line;
    kept += '\n';
  }
  in.close();
  // Rewrite atomically, then append.
  std::string temporary = path + ".tmp";
  std::FILE *out = std::fopen(temporary.c_str(), "w");
  if (!out)
    return Status::error(
        Status::Code::IoError,
        fmt::format("{}: cannot write: {}", temporary, std::strerror(errno)));
  bool ok = std::fwrite(kept.data(), 1, kept.size(), out) == kept.size();
  ok = (std::fclose(out) == 0) && ok;
  if (!ok || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return Status::error(Status::Code::IoError,
                         fmt::format("{}: cannot rewrite the metrics: {}", path,
                                     std::strerror(errno)));
  }
  std::FILE *file = std::fopen(path.c_str(), "a");
  if (!file)
    return Status::error(Status::Code::IoError,
                         fmt::format("{}: cannot append to the metrics: {}",
                                     path, std::strerror(errno)));
  return std::unique_ptr<MetricsWriter>(new MetricsWriter(path, file));
}

MetricsWriter::~MetricsWriter() {
  if (file_)
    std::fclose(file_);
}

Status MetricsWriter::writeLine(const std::string &line) {
  if (std::fputs(line.c_str(), file_) < 0 || std::fputc('\n', file_) < 0 ||
      std::fflush(file_) != 0)
    return Status::error(Status::Code::IoError,
                         fmt::format("{}: cannot write the metrics: {}", path_,
                                     std::strerror(errno)));
  return Status::ok();
}

Status MetricsWriter::write(const StepRecord &record) {
  return writeLine(formatRecord(record));
}

Status MetricsWriter::write(const EvalRecord &record) {
  return writeLine(formatRecord(record));
}

Status MetricsWriter::write(const LossEvalRecord &record) {
  return writeLine(formatRecord(record));
}

ProgressLine::ProgressLine(std::FILE *out, bool terminal, int64_t total,
                           int64_t everySteps, double refreshPerS)
    : out_(out), terminal_(terminal), total_(total),
      everySteps_(everySteps > 0 ? everySteps : 1),
      minInterval_(refreshPerS > 0 ? 1.0 / refreshPerS : 0) {
  start_ = lastPrint_ = std::chrono::steady_clock::now();
}

static std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    return "?";
  int64_t s = int64_t(seconds + 0.5);
  if (s >= 3600)
    return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string ProgressLine::format(int64_t step, int64_t total, int64_t epoch,
                                 double loss, double lr, double examplesPerS,
                                 double etaSeconds) {
  int percent = total > 0 ? int(100 * step / total) : 0;
  return fmt::format("step {}/{} ({}%)  epoch {}  loss {:.4f}  lr {:.2e}  "
                     "{:.0f} ex/s  ETA {}",
                     step, total, percent, epoch, loss, lr, examplesPerS,
                     formatDuration(etaSeconds));
}

void ProgressLine::update(int64_t step, int64_t epoch, double loss, double lr,
                          double examplesPerS) {
  auto now = std::chrono::steady_clock::now();
  if (firstStep_ < 0) {
    firstStep_ = step - 1;
    start_ = now;
  }
  double elapsed = std::chrono::duration<double>(now - start_).count();
  int64_t done = step - firstStep_;
  double eta = done > 0 ? elapsed / double(done) * double(total_ - step) : NAN;
  bool last = step >= total_;
  if (terminal_) {
    double sincePrint = std::chrono::duration<double>(now - lastPrint_).count();
    if (!last && sincePrint < minInterval_ && pending_)
      return;
    last_ = format(step, total_, epoch, loss, lr, examplesPerS, eta);
    fmt::print(out_, "\r{}\x1b[K", last_);
    std::fflush(out_);
    pending_ = true;
    lastPrint_ = now;
    return;
  }
  if (!last && step % everySteps_ != 0)
    return;
  last_ = format(step, total_, epoch, loss, lr, examplesPerS, eta);
  fmt::print(out_, "{}\n", last_);
  std::fflush(out_);
}

void ProgressLine::message(const std::string &text) {
  if (terminal_ && pending_) {
    fmt::print(out_, "\r{}\x1b[K\n{}", text, last_);
  } else {
    fmt::print(out_, "{}\n", text);
  }
  std::fflush(out_);
}

void ProgressLine::finish() {
  if (terminal_ && pending_)
    fmt::print(out_, "\n");
  pending_ = false;
  std::fflush(out_);
}

} // namespace onerec::driver
