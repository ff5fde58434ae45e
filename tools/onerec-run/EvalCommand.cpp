//===- EvalCommand.cpp - onerec-run eval ----------------------------------===//
//
// `eval` ranks the held-out items of a dataset split with a plan's `forward`
// entry and the weights of a checkpoint (driver/Evaluator.h): HR@K and
// NDCG@K under full ranking (history masked, pessimistic ties) or the
// sampled-100 protocol.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "onerec/Data/Dataset.h"
#include "onerec/Driver/Evaluator.h"
#include "onerec/Driver/GenerativeEval.h"
#include "onerec/Runtime/PlanFile.h"
#include "onerec/Runtime/Safetensors.h"
#include "onerec/Runtime/Weights.h"

#include <fmt/format.h>

#include <charconv>

using namespace onerec::runtime;
using namespace onerec::driver;

namespace onerec::run {

namespace {

constexpr std::string_view kEvalUsage =
    "eval PLAN --data DIR [--weights CKPT.safetensors] [--split valid|test]\n"
    "                 [--k K] [--protocol full|sampled] [--batch N] "
    "[--threads N] [--json]\n"
    "     generative plans: --catalog CATALOG [--beam W] [--users N] "
    "[--max-rows N]\n"
    "                 (Recall@5/10 and NDCG@5/10 of beam search, the TIGER "
    "protocol)";

std::optional<int64_t> parsePositive(std::string_view text) {
  int64_t value = 0;
  auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value <= 0)
    return std::nullopt;
  return value;
}

} // namespace

int runEval(const Args &args) {
  CommandLine cl(args, kEvalUsage);
  std::optional<std::string> data = cl.option("--data");
  std::optional<std::string> weights = cl.option("--weights");
  if (!weights)
    weights = cl.option("--ckpt");
  std::optional<std::string> catalogPath = cl.option("--catalog");
  std::optional<std::string> beamText = cl.option("--beam");
  std::optional<std::string> usersText = cl.option("--users");
  std::optional<std::string> maxRowsText = cl.option("--max-rows");
  std::string splitText = cl.option("--split").value_or("test");
  std::optional<std::string> kText = cl.option("--k");
  std::string protocolText = cl.option("--protocol").value_or("full");
  std::optional<std::string> batchText = cl.option("--batch");
  std::optional<std::string> threadsText = cl.option("--threads");
  bool json = cl.flag("--json");
  if (std::optional<int> usage = cl.finish(1))
    return *usage;
  if (!data)
    return usageError("eval needs --data DIR (a dataset from onerec-data)",
                      kEvalUsage);
  data::Split split;
  if (splitText == "valid")
    split = data::Split::Valid;
  else if (splitText == "test")
    split = data::Split::Test;
  else
    return usageError(
        fmt::format("--split '{}': expected valid or test", splitText),
        kEvalUsage);
  EvalOptions options;
  std::optional<Protocol> protocol = parseProtocol(protocolText);
  if (!protocol)
    return usageError(
        fmt::format("--protocol '{}': expected full or sampled", protocolText),
        kEvalUsage);
  options.protocol = *protocol;
  if (kText) {
    std::optional<int64_t> k = parsePositive(*kText);
    if (!k || *k > 1000000)
      return usageError(fmt::format("--k '{}' is not a positive count", *kText),
                        kEvalUsage);
    options.k = int(*k);
  }
  if (batchText) {
    std::optional<int64_t> n = parsePositive(*batchText);
    if (!n)
      return usageError(
          fmt::format("--batch '{}' is not a positive count", *batchText),
          kEvalUsage);
    options.batch = *n;
  }
  if (threadsText) {
    std::optional<int64_t> n = parsePositive(*threadsText);
    if (!n || *n > 4096)
      return usageError(
          fmt::format("--threads '{}' is not a thread count (1 to 4096)",
                      *threadsText),
          kEvalUsage);
    options.threads = unsigned(*n);
  }

  StatusOr<std::unique_ptr<PlanFile>> plan =
      PlanFile::open(cl.positionals()[0]);
  if (!plan)
    return reportError(plan.status());
  const plan::Plan &p = (*plan)->plan();
  ParameterStore params(**plan);
  if (weights) {
    // A checkpoint of another model is refused by name, not by shapes.
    StatusOr<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::open(*weights);
    if (!file)
      return reportError(file.status());
    auto hash = (*file)->metadata().find("onerec.source_hash");
    std::string planHash = p.source_hash() ? p.source_hash()->str() : "";
    if (hash != (*file)->metadata().end() && hash->second != planHash)
      return reportError(Status::error(
          Status::Code::InvalidArgument,
          fmt::format("{}: holds weights of a plan with source hash {}, but "
                      "{} has source hash {}; evaluate it with the plan it "
                      "was trained with",
                      *weights, hash->second, (*plan)->name(), planHash)));
    if (Status s = params.loadSafetensors(*weights); !s)
      return reportError(s);
  }
  if (Status s = checkDataDir(*data); !s)
    return reportError(s);
  StatusOr<std::unique_ptr<data::Dataset>> dataset = data::Dataset::open(*data);
  if (!dataset)
    return reportError(dataset.status());
  if (catalogPath) {
    // A generative plan: beam search over the catalog (the TIGER protocol).
    GenerativeEvalOptions generative;
    generative.threads = options.threads;
    for (auto [text, field] : {std::pair{&beamText, &generative.width},
                               std::pair{&usersText, &generative.users},
                               std::pair{&maxRowsText, &generative.maxRows}}) {
      if (!*text)
        continue;
      std::optional<int64_t> n = parsePositive(**text);
      if (!n)
        return usageError(fmt::format("'{}' is not a positive count", **text),
                          kEvalUsage);
      *field = *n;
    }
    StatusOr<data::Catalog> catalog = data::Catalog::load(*catalogPath);
    if (!catalog)
      return reportError(catalog.status());
    StatusOr<GenerativeEvalResult> result = evaluateGenerative(
        **plan, params, **dataset, *catalog, split, generative);
    if (!result)
      return reportError(result.status());
    std::string metrics;
    for (int k : {5, 10})
      metrics += fmt::format(", \"recall@{0}\": {1:.6f}, \"ndcg@{0}\": {2:.6f}",
                             k, result->recall[k], result->ndcg[k]);
    fmt::print("{{\"split\": \"{}\", \"protocol\": \"generative\", "
               "\"beam\": {}, \"users\": {}{}, \"seconds\": {:.3f}}}\n",
               data::splitName(split), result->width, result->users, metrics,
               result->seconds);
    return 0;
  }
  StatusOr<std::unique_ptr<Evaluator>> evaluator =
      Evaluator::create(**plan, params, **dataset, options);
  if (!evaluator)
    return reportError(evaluator.status());
  StatusOr<EvalResult> result = (*evaluator)->evaluate(split);
  if (!result)
    return reportError(result.status());
  const RankingMetrics &m = result->metrics;
  if (json) {
    fmt::print("{{\"split\": \"{}\", \"protocol\": \"{}\", \"k\": {}, "
               "\"hr\": {:.17g}, \"ndcg\": {:.17g}, \"users\": {}, "
               "\"seconds\": {:.3f}}}\n",
               data::splitName(split), protocolName(result->protocol), m.k(),
               m.hitRate(), m.ndcg(), m.users(), result->seconds);
  } else {
    fmt::print("{:<5} HR@{} {:.4f}  NDCG@{} {:.4f}  ({} ranking, {} users, "
               "{:.1f} s)\n",
               data::splitName(split), m.k(), m.hitRate(), m.k(), m.ndcg(),
               protocolName(result->protocol), m.users(), result->seconds);
  }
  return 0;
}

} // namespace onerec::run
