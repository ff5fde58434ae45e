//===- Evaluator.cpp - leave-one-out HR@K / NDCG@K of a plan --------------===//

#include "onerec/Driver/Evaluator.h"

#include "onerec/Kernels/CpuKernels.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

using onerec::runtime::Executor;
using onerec::runtime::ExecutorOptions;
using onerec::runtime::NamedTensor;
using onerec::runtime::NamedTensorView;
using onerec::runtime::Status;
using onerec::runtime::StatusOr;
using onerec::runtime::TensorView;

namespace onerec::driver {

StatusOr<std::unique_ptr<Evaluator>>
Evaluator::create(const runtime::PlanFile &plan,
                  runtime::ParameterStore &params, const data::Dataset &dataset,
                  const EvalOptions &options) {
  StatusOr<NextItemInputs> inputs = inspectForwardEntry(plan, options.entry);
  if (!inputs)
    return inputs.status();
  if (options.cloze.value_or(isClozeModel(plan))) {
    inputs->cloze = true;
    inputs->maskToken = inputs->idBound - 1;
  }
  if (Status s = checkDatasetFits(*inputs, plan, dataset); !s)
    return s;
  if (options.k < 1)
    return Status::error(Status::Code::InvalidArgument,
                         fmt::format("K = {} must be at least 1", options.k));
  std::unique_ptr<Evaluator> evaluator(new Evaluator(dataset, options));
  evaluator->inputs_ = *inputs;
  if (evaluator->options_.batch <= 0)
    evaluator->options_.batch = std::min<int64_t>(256, inputs->maxBatch);
  evaluator->options_.batch =
      std::min(evaluator->options_.batch, inputs->maxBatch);
  ExecutorOptions executorOptions;
  executorOptions.threads = options.threads;
  executorOptions.training = false;
  StatusOr<std::unique_ptr<Executor>> executor =
      Executor::create(plan, options.entry, params,
                       runtime::defaultKernelRegistry(), executorOptions);
  if (!executor)
    return executor.status();
  evaluator->executor_ = std::move(*executor);
  return evaluator;
}

StatusOr<EvalResult> Evaluator::evaluate(data::Split split) {
  auto start = std::chrono::steady_clock::now();
  data::BatcherOptions batcherOptions;
  batcherOptions.batchSize = options_.batch;
  batcherOptions.maxLen = inputs_.maxLen;
  batcherOptions.negatives = 0;
  batcherOptions.evalNegatives =
      options_.protocol == Protocol::Sampled ? kSampledNegatives : 0;
  batcherOptions.seed = kEvalCandidateSeed;
  batcherOptions.split = split;
  batcherOptions.shuffle = false;
  StatusOr<data::SequenceBatcher> batcher =
      data::SequenceBatcher::create(dataset_, batcherOptions);
  if (!batcher)
    return batcher.status();

  EvalResult result;
  result.split = split;
  result.protocol = options_.protocol;
  result.metrics = RankingMetrics(options_.k);
  int64_t numItems = int64_t(dataset_.numItems());
  int64_t L = inputs_.maxLen;
  std::vector<NamedTensorView> feeds(1);
  feeds[0].name = "seq";
  while (batcher->next(batch_)) {
    int64_t rows = batch_.rows;
    feeds[0].view =
        TensorView{runtime::DType::i64, {rows, L}, batch_.seq.data()};
    if (inputs_.cloze) {
      // A cloze model predicts a mask appended to the history (the oldest
      // item makes room).
      clozeSeq_.resize(size_t(rows * L));
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t *history = batch_.seq.data() + r * L;
        int64_t *seq = clozeSeq_.data() + r * L;
        std::copy(history + 1, history + L, seq);
        seq[L - 1] = inputs_.maskToken;
      }
      feeds[0].view.data = clozeSeq_.data();
    }
    StatusOr<std::vector<NamedTensor>> outputs = executor_->run(feeds);
    if (!outputs)
      return outputs.status();
    const runtime::HostTensor &scores = (*outputs)[0].tensor;
    int64_t stride = scores.shape()[1];
    const float *base = scores.as<float>();
    for (int64_t r = 0; r < rows; ++r) {
      const float *row = base + r * stride;
      int64_t rank;
      if (options_.protocol == Protocol::Full) {
        int64_t begin = batch_.historyOffsets[size_t(r)];
        int64_t end = batch_.historyOffsets[size_t(r) + 1];
        rank =
            fullRank(row, numItems, batch_.target[size_t(r)],
                     batch_.historyItems.data() + begin, end - begin, scratch_);
      } else {
        int64_t c = batch_.candidatesPerRow;
        rank = sampledRank(row, batch_.candidates.data() + r * c, c);
      }
      result.metrics.add(rank);
    }
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}

} // namespace onerec::driver
