//===- GenerateCommand.cpp - onerec-run generate
//---------------------------===//
//
// `generate` answers JSON-lines requests with catalog-constrained beam
// search over a plan's decoding entries (driver/BeamSearch.h,
// driver/PlanGenerator.h; docs/generation.md): one answer line per request
// line, in the same order, each with its sessions and items and their
// scores, or the request's error. Requests are decoded together (dynamic
// batching); a bad request fails only its own line.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "onerec/Data/Catalog.h"
#include "onerec/Driver/BeamSearch.h"
#include "onerec/Driver/GenerationRequests.h"
#include "onerec/Driver/PlanGenerator.h"
#include "onerec/Runtime/PlanFile.h"
#include "onerec/Runtime/Weights.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <map>
#include <set>

using namespace onerec::runtime;
using namespace onerec::driver;
using nlohmann::json;

namespace onerec::run {

namespace {

constexpr std::string_view kGenerateUsage =
    "generate PLAN --catalog CATALOG --requests IN.jsonl --out OUT.jsonl\n"
    "                 [--ckpt CKPT.safetensors] [--beam W] [--items N] "
    "[--top K]\n"
    "                 [--max-rows N] [--threads N] [--generate NAME]";

std::optional<int64_t> parseCount(const std::optional<std::string> &text) {
  if (!text)
    return std::nullopt;
  int64_t value = 0;
  auto [end, error] =
      std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < 0)
    return -1;
  return value;
}

/// The answer line of a result; counts what legality checks find.
json answer(const json &id, const GenerationResult &result,
            const data::Catalog &catalog, int64_t &illegal, int64_t &repeated) {
  json sessions = json::array();
  for (const GeneratedSession &s : result.sessions) {
    json codes = json::array();
    int64_t levels = catalog.levels();
    std::set<int64_t> seen;
    for (size_t i = 0; i < s.items.size(); ++i) {
      codes.push_back(
          std::vector<int32_t>(s.codes.begin() + int64_t(i) * levels,
                               s.codes.begin() + int64_t(i + 1) * levels));
      // Legality, checked independently of the search: the item is in the
      // catalog with exactly these codes, and not repeated.
      std::optional<size_t> row = catalog.rowOf(s.items[i]);
      if (!row || !std::equal(s.codes.begin() + int64_t(i) * levels,
                              s.codes.begin() + int64_t(i + 1) * levels,
                              catalog.codes(*row)))
        ++illegal;
      if (!seen.insert(s.items[i]).second)
        ++repeated;
    }
    sessions.push_back(
        {{"items", s.items}, {"codes", codes}, {"score", s.score}});
  }
  json items = json::array();
  for (const GeneratedItem &item : result.items)
    items.push_back({{"item", item.item}, {"score", item.score}});
  json line = {{"sessions", sessions}, {"items", items}};
  if (!id.is_null())
    line["id"] = id;
  return line;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  size_t at = size_t(p * double(values.size() - 1) + 0.5);
  return values[std::min(at, values.size() - 1)];
}

} // namespace

int runGenerate(const Args &args) {
  CommandLine cl(args, kGenerateUsage);
  std::optional<std::string> catalogPath = cl.option("--catalog");
  std::optional<std::string> requestsPath = cl.option("--requests");
  std::optional<std::string> outPath = cl.option("--out");
  std::optional<std::string> ckpt = cl.option("--ckpt");
  if (!ckpt)
    ckpt = cl.option("--weights");
  std::optional<int64_t> beam = parseCount(cl.option("--beam"));
  std::optional<int64_t> items = parseCount(cl.option("--items"));
  std::optional<int64_t> top = parseCount(cl.option("--top"));
  std::optional<int64_t> maxRows = parseCount(cl.option("--max-rows"));
  std::optional<int64_t> threads = parseCount(cl.option("--threads"));
  std::string generateName = cl.option("--generate").value_or("");
  if (std::optional<int> usage = cl.finish(1))
    return *usage;
  if (!catalogPath || !requestsPath || !outPath)
    return usageError("generate needs --catalog, --requests and --out",
                      kGenerateUsage);
  for (auto [name, value] :
       {std::pair{"--beam", beam}, std::pair{"--items", items},
        std::pair{"--top", top}, std::pair{"--max-rows", maxRows},
        std::pair{"--threads", threads}})
    if (value && *value <= 0 &&
        !(std::string_view(name) == "--threads" && *value == 0))
      return usageError(fmt::format("{} takes a positive count", name),
                        kGenerateUsage);

  auto fail = [](const Status &s) {
    fmt::print(stderr, "onerec-run: error: {}\n", s.message());
    return 1;
  };
  StatusOr<std::unique_ptr<PlanFile>> plan =
      PlanFile::open(cl.positionals()[0]);
  if (!plan)
    return fail(plan.status());
  ParameterStore params(**plan);
  if (ckpt) {
    if (Status s = params.loadSafetensors(*ckpt); !s)
      return fail(s);
  } else {
    fmt::print(stderr, "onerec-run: warning: no --ckpt: generating with the "
                       "plan's initial (untrained) weights\n");
  }
  StatusOr<data::Catalog> catalog = data::Catalog::load(*catalogPath);
  if (!catalog)
    return fail(catalog.status());
  StatusOr<const plan::Generate *> generate =
      findGenerate(**plan, generateName);
  if (!generate)
    return fail(generate.status());
  StatusOr<std::unique_ptr<PlanStepModel>> model = PlanStepModel::create(
      **plan, params, **generate, unsigned(threads.value_or(0)));
  if (!model)
    return fail(model.status());
  if (catalog->levels() != (*generate)->levels() ||
      catalog->codebook() != (*generate)->codebook())
    return fail(Status::error(
        Status::Code::InvalidArgument,
        fmt::format("{}: spells items with {} codes below {}, but {} "
                    "generates {} codes below {}; use the catalog the model "
                    "was trained with",
                    *catalogPath, catalog->levels(), catalog->codebook(),
                    (*plan)->name(), (*generate)->levels(),
                    (*generate)->codebook())));
  BeamSearchOptions options;
  options.width = beam.value_or((*generate)->width());
  options.items = items.value_or(0);
  options.top = top.value_or(std::min<int64_t>(options.width, 10));
  options.maxRows = maxRows.value_or(0);
  StatusOr<std::unique_ptr<BeamSearch>> search =
      BeamSearch::create(**model, *catalog, options);
  if (!search)
    return fail(search.status());

  std::ifstream in(*requestsPath);
  if (!in)
    return fail(
        Status::error(Status::Code::NotFound, *requestsPath + ": cannot open"));
  RequestReader reader(**plan, (*model)->encoderEntry(), *catalog);
  std::vector<json> answers, ids;
  std::string text;
  int64_t lineNo = 0, errors = 0;
  auto errorLine = [&](const json &id, int64_t line, const std::string &what) {
    json out = {{"line", line}, {"error", what}};
    if (!id.is_null())
      out["id"] = id;
    ++errors;
    return out;
  };
  while (std::getline(in, text)) {
    ++lineNo;
    if (text.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    size_t index = answers.size();
    answers.emplace_back();
    ids.emplace_back();
    json request;
    try {
      request = json::parse(text);
    } catch (const json::parse_error &e) {
      // "[json.exception.parse_error.101] parse error at line 1, column 9:
      // ..." -> "column 9: ..."
      std::string what = e.what();
      size_t at = what.find("column ");
      answers[index] = errorLine(
          json(), lineNo,
          fmt::format("{}:{}: not JSON: {}", *requestsPath, lineNo,
                      at == std::string::npos ? what : what.substr(at)));
      continue;
    }
    if (request.is_object() && request.contains("id"))
      ids[index] = request["id"];
    StatusOr<GenerationRequest> parsed = reader.fromJson(request);
    if (!parsed) {
      answers[index] = errorLine(ids[index], lineNo,
                                 fmt::format("{}:{}: {}", *requestsPath, lineNo,
                                             parsed.status().message()));
      continue;
    }
    answers[index] = json{{"line", lineNo}}; // pending
    (*search)->submit(index, std::move(parsed.value()));
  }

  std::vector<double> latencies;
  int64_t illegal = 0, repeated = 0, done = 0, generated = 0;
  auto start = std::chrono::steady_clock::now();
  auto lastReport = start;
  size_t total = answers.size();
  Status run =
      (*search)->run([&](uint64_t tag, StatusOr<GenerationResult> result) {
        int64_t line = answers[tag]["line"].get<int64_t>();
        if (!result) {
          answers[tag] = errorLine(ids[tag], line,
                                   fmt::format("{}:{}: {}", *requestsPath, line,
                                               result.status().message()));
        } else {
          answers[tag] = answer(ids[tag], *result, *catalog, illegal, repeated);
          latencies.push_back(result->seconds);
          for (const GeneratedSession &s : result->sessions)
            generated += int64_t(s.items.size());
        }
        ++done;
        auto now = std::chrono::steady_clock::now();
        if (std::chrono::duration<double>(now - lastReport).count() >= 1.0) {
          lastReport = now;
          double seconds = std::chrono::duration<double>(now - start).count();
          fmt::print(stderr, "generate: {}/{} requests, {:.1f} requests/s\n",
                     done, total, double(done) / seconds);
        }
      });
  if (!run)
    return fail(run);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  std::string tmp = *outPath + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const json &a : answers)
      out << a.dump() << '\n';
    if (!out)
      return fail(
          Status::error(Status::Code::IoError, *outPath + ": cannot write"));
  }
  if (std::rename(tmp.c_str(), outPath->c_str()) != 0)
    return fail(
        Status::error(Status::Code::IoError, *outPath + ": cannot write"));
  json summary = {
      {"requests", total},
      {"answered", int64_t(total) - errors},
      {"errors", errors},
      {"beam", options.width},
      {"seconds", seconds},
      {"requests_per_s", seconds > 0 ? double(total - errors) / seconds : 0},
      {"latency_p50_ms", percentile(latencies, 0.5) * 1e3},
      {"latency_p90_ms", percentile(latencies, 0.9) * 1e3},
      {"steps", (*search)->stepsRun()},
      {"rows_per_step",
       (*search)->stepsRun()
           ? double((*search)->rowsFed()) / double((*search)->stepsRun())
           : 0.0},
      {"encode_s", (*model)->encodeSeconds()},
      {"step_s", (*model)->stepSeconds()},
      {"generated_items", generated},
      {"legality", generated ? 1.0 - double(illegal) / double(generated) : 1.0},
      {"repeated_items", repeated}};
  fmt::print("{}\n", summary.dump());
  return 0;
}

} // namespace onerec::run
