//===- GenerativeLoss.cpp - feeds and validation loss of generative models ===//

#include "onerec/Driver/GenerativeLoss.h"

#include "onerec/Kernels/CpuKernels.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

using onerec::runtime::DType;
using onerec::runtime::NamedTensor;
using onerec::runtime::NamedTensorView;
using onerec::runtime::Status;
using onerec::runtime::StatusOr;
using onerec::runtime::TensorView;

namespace onerec::driver {

void feedGenerativeBatch(const GenerativeInputs &inputs,
                         const data::GenerativeBatch &batch,
                         std::vector<NamedTensorView> &feeds) {
  int64_t rows = batch.rows;
  // The views are const-correct in use: the executor only reads inputs.
  auto data = [](const std::vector<int64_t> &v) {
    return const_cast<int64_t *>(v.data());
  };
  for (NamedTensorView &feed : feeds) {
    if (feed.name == inputs.user)
      feed.view = TensorView{DType::i64, {rows}, data(batch.users)};
    else if (feed.name == inputs.history)
      feed.view = TensorView{DType::i64,
                             {rows, batch.history, batch.levels},
                             data(batch.historyCodes)};
    else if (feed.name == inputs.target)
      feed.view = TensorView{DType::i64,
                             {rows, batch.targets, batch.levels},
                             data(batch.targetCodes)};
  }
}

StatusOr<std::unique_ptr<LossEvaluator>> LossEvaluator::create(
    const runtime::PlanFile &plan, runtime::ParameterStore &params,
    const data::Dataset &dataset, const data::Catalog &catalog,
    const std::string &entry, int64_t batch, unsigned threads) {
  StatusOr<GenerativeInputs> inputs =
      inspectGenerativeEntry(plan, entry, /*train=*/false);
  if (!inputs)
    return inputs.status();
  std::unique_ptr<LossEvaluator> evaluator(new LossEvaluator());
  evaluator->dataset_ = &dataset;
  evaluator->catalog_ = &catalog;
  evaluator->inputs_ = *inputs;
  evaluator->batch_ = std::min(batch, inputs->maxBatch);
  runtime::ExecutorOptions options;
  options.threads = threads;
  options.training = false;
  StatusOr<std::unique_ptr<runtime::Executor>> executor =
      runtime::Executor::create(plan, entry, params,
                                runtime::defaultKernelRegistry(), options);
  if (!executor)
    return executor.status();
  evaluator->executor_ = std::move(*executor);
  return evaluator;
}

StatusOr<LossResult> LossEvaluator::evaluate(data::Split split) {
  auto start = std::chrono::steady_clock::now();
  data::GenerativeBatcherOptions options;
  options.batchSize = batch_;
  options.history = inputs_.historyLen;
  options.targets = inputs_.targets;
  options.split = split;
  options.shuffle = false;
  StatusOr<data::GenerativeBatcher> batcher =
      data::GenerativeBatcher::create(*dataset_, *catalog_, options);
  if (!batcher)
    return batcher.status();
  std::vector<NamedTensorView> feeds;
  for (const plan::Binding *b : *executor_->entry().inputs())
    feeds.push_back(NamedTensorView{b->name()->str(), {}});
  int lossIndex = -1;
  for (uint32_t i = 0; i < executor_->entry().outputs()->size(); ++i)
    if (executor_->entry().outputs()->Get(i)->name()->string_view() == "loss")
      lossIndex = int(i);
  LossResult result;
  result.split = split;
  result.entry = inputs_.entry;
  double sum = 0;
  while (batcher->next(data_)) {
    feedGenerativeBatch(inputs_, data_, feeds);
    StatusOr<std::vector<NamedTensor>> outputs = executor_->run(feeds);
    if (!outputs)
      return outputs.status().withContext(
          fmt::format("{} loss", data::splitName(split)));
    const runtime::HostTensor &loss = (*outputs)[size_t(lossIndex)].tensor;
    double value = loss.dtype() == DType::f32 ? loss.as<float>()[0] : NAN;
    // The entry's loss is a mean over its rows: weigh batches by rows.
    sum += value * double(data_.rows);
    result.examples += data_.rows;
  }
  result.loss = result.examples ? sum / double(result.examples) : NAN;
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}

} // namespace onerec::driver
