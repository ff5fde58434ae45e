//===- GenerativeEval.cpp - Recall@K / NDCG@K of beam search --------------===//

#include "onerec/Driver/GenerativeEval.h"

#include "onerec/Driver/BeamSearch.h"
#include "onerec/Driver/GenerationRequests.h"
#include "onerec/Driver/PlanGenerator.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

using namespace onerec::runtime;

namespace onerec::driver {

StatusOr<GenerativeEvalResult>
evaluateGenerative(const PlanFile &plan, ParameterStore &params,
                   const data::Dataset &dataset, const data::Catalog &catalog,
                   data::Split split, const GenerativeEvalOptions &options) {
  StatusOr<const plan::Generate *> generate = findGenerate(plan);
  if (!generate)
    return generate.status();
  StatusOr<std::unique_ptr<PlanStepModel>> model =
      PlanStepModel::create(plan, params, **generate, options.threads);
  if (!model)
    return model.status();
  int maxK = *std::max_element(options.ks.begin(), options.ks.end());
  BeamSearchOptions beam;
  beam.width = options.width ? options.width : (*generate)->width();
  beam.items = 1;
  beam.top = std::min<int64_t>(maxK, beam.width);
  beam.maxRows = options.maxRows;
  StatusOr<std::unique_ptr<BeamSearch>> search =
      BeamSearch::create(**model, catalog, beam);
  if (!search)
    return search.status();
  RequestReader reader(plan, (*model)->encoderEntry(), catalog);

  // One request per user with a held-out item of the split.
  std::vector<int64_t> targets;
  std::vector<int64_t> history;
  for (uint64_t u = 0; u < dataset.numUsers(); ++u) {
    if (options.users && int64_t(targets.size()) >= options.users)
      break;
    data::UserSequence seq = dataset.user(u);
    size_t end = split == data::Split::Valid ? seq.trainEnd : seq.validEnd;
    if (end >= seq.end(split) || end == 0)
      continue; // no held-out item, or no history to generate from
    history.assign(seq.items, seq.items + end);
    StatusOr<GenerationRequest> request =
        reader.fromHistory(int64_t(u), history.data(), history.size());
    if (!request)
      return request.status().withContext(
          fmt::format("{}: user {}", dataset.directory(), u));
    (*search)->submit(targets.size(), std::move(request.value()));
    targets.push_back(seq.items[end]);
  }
  if (targets.empty())
    return Status::error(Status::Code::InvalidArgument,
                         fmt::format("{}: no user has a {} item to evaluate",
                                     dataset.directory(),
                                     data::splitName(split)));

  GenerativeEvalResult result;
  result.split = split;
  result.width = beam.width;
  for (int k : options.ks)
    result.recall[k] = result.ndcg[k] = 0;
  Status failed = Status::ok();
  int64_t done = 0;
  auto start = std::chrono::steady_clock::now(), lastReport = start;
  Status run =
      (*search)->run([&](uint64_t tag, StatusOr<GenerationResult> generated) {
        if (!generated) {
          if (failed)
            failed = generated.status();
          return;
        }
        int64_t rank = -1;
        for (size_t i = 0; i < generated->items.size(); ++i)
          if (generated->items[i].item == targets[tag]) {
            rank = int64_t(i);
            break;
          }
        for (int k : options.ks)
          if (rank >= 0 && rank < k) {
            result.recall[k] += 1;
            result.ndcg[k] += 1.0 / std::log2(double(rank) + 2.0);
          }
        ++done;
        auto now = std::chrono::steady_clock::now();
        if (options.progress &&
            std::chrono::duration<double>(now - lastReport).count() >= 5.0) {
          lastReport = now;
          double seconds = std::chrono::duration<double>(now - start).count();
          double rate = double(done) / seconds;
          fmt::print(stderr,
                     "eval: {}/{} users, {:.1f} users/s, R@{} so far {:.4f}, "
                     "ETA {:.0f} s\n",
                     done, targets.size(), rate, maxK,
                     result.recall[maxK] / double(done),
                     double(int64_t(targets.size()) - done) / rate);
        }
      });
  if (!run)
    return run;
  if (!failed)
    return failed;
  result.users = int64_t(targets.size());
  for (int k : options.ks) {
    result.recall[k] /= double(result.users);
    result.ndcg[k] /= double(result.users);
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}

} // namespace onerec::driver
