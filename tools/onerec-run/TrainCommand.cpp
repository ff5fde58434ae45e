//===- TrainCommand.cpp - onerec-run train --------------------------------===//
//
// `train` runs a plan's TrainStep entry over a dataset (driver/Trainer.h):
// next-item batches from `onerec-data` datasets (or, for generative models,
// semantic-ID examples with the codes of a --catalog), the LR schedule,
// periodic evaluation, atomic checkpoints and bit-identical resume,
// metrics.jsonl.
// Progress goes to stderr, the summary and the final metrics to stdout.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "onerec/Data/Catalog.h"
#include "onerec/Data/Dataset.h"
#include "onerec/Driver/Trainer.h"
#include "onerec/Runtime/PlanFile.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>

using namespace onerec::runtime;
using namespace onerec::driver;

namespace onerec::run {

namespace {

constexpr std::string_view kTrainUsage =
    "train PLAN --data DIR [--epochs N | --steps N] [--batch N]\n"
    "                 [--catalog CATALOG.safetensors]   (generative models)\n"
    "                 [--ckpt-dir DIR] [--ckpt-every N] [--keep N] [--resume]\n"
    "                 [--seed S] [--metrics metrics.jsonl] [--lr X]\n"
    "                 [--mask-prob P]   (cloze models such as BERT4Rec; 0.2)\n"
    "                 [--weight-decay X] [--grad-clip X]\n"
    "                 [--schedule constant|warmup|cosine] [--warmup N]\n"
    "                 [--eval-every N] [--eval-k K] [--eval-protocol "
    "full|sampled]\n"
    "                 [--no-eval] [--threads N] [--weights INIT.safetensors]\n"
    "                 [--entry NAME] [--log-every N] [--quiet]";

template <typename T> std::optional<T> parseNumber(std::string_view text) {
  T value{};
  auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

std::optional<double> parseReal(const std::string &text) {
  char *end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value))
    return std::nullopt;
  return value;
}

/// Parses option `name` into `out` with `parse`; false (after printing the
/// usage error into `status`) when the value is malformed.
template <typename T, typename Parse>
bool parseOption(CommandLine &cl, std::string_view name, std::optional<T> &out,
                 Parse parse, const char *expected, int &status) {
  std::optional<std::string> text = cl.option(name);
  if (!text)
    return true;
  out = parse(*text);
  if (!out) {
    status = usageError(fmt::format("{} '{}' is not {}", name, *text, expected),
                        kTrainUsage);
    return false;
  }
  return true;
}

std::optional<int64_t> positive(const std::string &text) {
  std::optional<int64_t> n = parseNumber<int64_t>(text);
  return n && *n > 0 ? n : std::nullopt;
}
std::optional<int64_t> nonNegative(const std::string &text) {
  std::optional<int64_t> n = parseNumber<int64_t>(text);
  return n && *n >= 0 ? n : std::nullopt;
}
std::optional<double> nonNegativeReal(const std::string &text) {
  std::optional<double> x = parseReal(text);
  return x && *x >= 0 ? x : std::nullopt;
}

volatile std::sig_atomic_t stopRequested = 0;

extern "C" void requestStop(int) { stopRequested = 1; }

} // namespace

Status checkDataDir(const std::string &dir) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error))
    return Status::error(
        Status::Code::NotFound,
        fmt::format("--data {}: no such dataset directory (make one with "
                    "onerec-data import or onerec-data synth)",
                    dir));
  return Status::ok();
}

int runTrain(const Args &args) {
  CommandLine cl(args, kTrainUsage);
  TrainOptions options;
  std::optional<std::string> data = cl.option("--data");
  std::optional<std::string> catalogPath = cl.option("--catalog");
  options.ckptDir = cl.option("--ckpt-dir").value_or("");
  options.metricsPath = cl.option("--metrics").value_or("");
  options.initWeights = cl.option("--weights");
  options.entry = cl.option("--entry").value_or("");
  options.resume = cl.flag("--resume");
  options.quiet = cl.flag("--quiet");
  bool noEval = cl.flag("--no-eval");
  int status = 0;
  std::optional<int64_t> ckptEvery, keep, evalEvery, evalK, threads, logEvery;
  std::optional<uint64_t> seed;
  std::optional<double> maskProb;
  std::optional<std::string> schedule = cl.option("--schedule");
  std::optional<std::string> protocol = cl.option("--eval-protocol");
  if (!parseOption(cl, "--epochs", options.epochs, positive, "a positive count",
                   status) ||
      !parseOption(cl, "--steps", options.steps, positive, "a positive count",
                   status) ||
      !parseOption(cl, "--batch", options.batch, positive, "a positive count",
                   status) ||
      !parseOption(cl, "--ckpt-every", ckptEvery, positive, "a positive count",
                   status) ||
      !parseOption(cl, "--keep", keep, nonNegative,
                   "a count (0 keeps every checkpoint)", status) ||
      !parseOption(cl, "--seed", seed, parseNumber<uint64_t>,
                   "an unsigned integer", status) ||
      !parseOption(cl, "--lr", options.lr, nonNegativeReal,
                   "a non-negative number", status) ||
      !parseOption(cl, "--weight-decay", options.weightDecay, nonNegativeReal,
                   "a non-negative number", status) ||
      !parseOption(cl, "--grad-clip", options.gradClip, nonNegativeReal,
                   "a non-negative number (0 = off)", status) ||
      !parseOption(cl, "--warmup", options.warmup, nonNegative,
                   "a count of updates", status) ||
      !parseOption(cl, "--eval-every", evalEvery, nonNegative,
                   "a count of updates (0 = at the end only)", status) ||
      !parseOption(cl, "--eval-k", evalK, positive, "a positive count",
                   status) ||
      !parseOption(cl, "--threads", threads, positive, "a thread count",
                   status) ||
      !parseOption(cl, "--log-every", logEvery, positive, "a positive count",
                   status) ||
      !parseOption(cl, "--mask-prob", maskProb, nonNegativeReal,
                   "a probability in (0, 1]", status))
    return status;
  if (maskProb) {
    if (!(*maskProb > 0 && *maskProb <= 1))
      return usageError(fmt::format("--mask-prob {} is not a probability in "
                                    "(0, 1]",
                                    *maskProb),
                        kTrainUsage);
    options.maskProb = *maskProb;
  }
  if (std::optional<int> usage = cl.finish(1))
    return *usage;
  if (!data)
    return usageError("train needs --data DIR (a dataset from onerec-data)",
                      kTrainUsage);
  if (options.epochs && options.steps)
    return usageError("give --epochs or --steps, not both", kTrainUsage);
  if (schedule) {
    options.schedule = parseSchedule(*schedule);
    if (!options.schedule)
      return usageError(
          fmt::format("--schedule '{}': expected constant, warmup or cosine",
                      *schedule),
          kTrainUsage);
  }
  if (protocol) {
    std::optional<Protocol> p = parseProtocol(*protocol);
    if (!p)
      return usageError(
          fmt::format("--eval-protocol '{}': expected full or sampled",
                      *protocol),
          kTrainUsage);
    options.evalProtocol = *p;
  }
  if (options.resume && options.ckptDir.empty())
    return usageError("--resume needs --ckpt-dir DIR", kTrainUsage);
  if (threads && *threads > 4096)
    return usageError("--threads is at most 4096", kTrainUsage);
  if (evalK && *evalK > 1000000)
    return usageError("--eval-k is at most 1000000", kTrainUsage);
  options.seed = seed;
  options.ckptEvery = ckptEvery.value_or(0);
  options.keep = int(std::min<int64_t>(keep.value_or(3), 1 << 30));
  options.evalEvery = evalEvery.value_or(0);
  options.evalK = int(evalK.value_or(10));
  options.threads = unsigned(threads.value_or(0));
  options.logEvery = logEvery.value_or(0);
  options.finalEval = !noEval;
  if (noEval && options.evalEvery > 0)
    return usageError("--no-eval and --eval-every exclude each other",
                      kTrainUsage);

  StatusOr<std::unique_ptr<PlanFile>> plan =
      PlanFile::open(cl.positionals()[0]);
  if (!plan)
    return reportError(plan.status());
  if (Status s = checkDataDir(*data); !s)
    return reportError(s);
  StatusOr<std::unique_ptr<data::Dataset>> dataset = data::Dataset::open(*data);
  if (!dataset)
    return reportError(dataset.status());
  std::optional<data::Catalog> catalog;
  if (catalogPath) {
    StatusOr<data::Catalog> loaded = data::Catalog::load(*catalogPath);
    if (!loaded)
      return reportError(loaded.status());
    catalog.emplace(std::move(*loaded));
    options.catalog = &*catalog;
    options.catalogName = *catalogPath;
  }
  // Ctrl-C / SIGTERM: finish the update, save a checkpoint, stop.
  options.stopRequested = &stopRequested;
  struct sigaction action = {};
  action.sa_handler = requestStop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::create(**plan, **dataset, options);
  if (!trainer)
    return reportError(trainer.status());
  StatusOr<TrainSummary> summary = (*trainer)->run();
  if (!summary)
    return reportError(summary.status());

  const TrainSummary &s = *summary;
  int64_t steps = s.lastStep - s.firstStep + 1;
  if (steps > 0)
    fmt::print(
        "trained updates {}..{} of {}{} in {:.1f} s ({:.2f} updates/s, "
        "{:.0f} examples/s); last loss {:.6f}\n",
        s.firstStep, s.lastStep, (*trainer)->totalSteps(),
        s.resumedFrom ? fmt::format(" (resumed from step {})", *s.resumedFrom)
                      : std::string(),
        s.seconds, s.seconds > 0 ? double(steps) / s.seconds : 0.0,
        s.seconds > 0 ? double(s.examples) / s.seconds : 0.0, s.lastLoss);
  for (const std::optional<EvalResult> *r : {&s.valid, &s.test}) {
    if (!*r)
      continue;
    const RankingMetrics &m = (*r)->metrics;
    fmt::print("{:<5} HR@{} {:.4f}  NDCG@{} {:.4f}  ({} ranking, {} users)\n",
               data::splitName((*r)->split), m.k(), m.hitRate(), m.k(),
               m.ndcg(), protocolName((*r)->protocol), m.users());
  }
  for (const std::optional<LossResult> *r : {&s.validLoss, &s.testLoss})
    if (*r)
      fmt::print("{:<5} loss {:.4f}  (entry '{}', {} examples)\n",
                 data::splitName((*r)->split), (*r)->loss, (*r)->entry,
                 (*r)->examples);
  return 0;
}

} // namespace onerec::run
