//===- Trainer.cpp - the training loop of onerec-run train ----------------===//

#include "onerec/Driver/Trainer.h"

#include "TrainerState.h"

#include "onerec/Data/Catalog.h"
#include "onerec/Data/Random.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <unistd.h>

using onerec::runtime::DType;
using onerec::runtime::Executor;
using onerec::runtime::ExecutorOptions;
using onerec::runtime::HostTensor;
using onerec::runtime::NamedTensor;
using onerec::runtime::NamedTensorView;
using onerec::runtime::ParameterStore;
using onerec::runtime::PlanFile;
using onerec::runtime::Status;
using onerec::runtime::StatusOr;
using onerec::runtime::TensorView;
using Clock = std::chrono::steady_clock;

namespace onerec::driver {

Status nonFiniteError(int64_t step, std::string_view entry,
                      std::string_view tensor, double value,
                      std::string_view where) {
  return Status::error(
      Status::Code::InvalidArgument,
      fmt::format("step {}: entry '{}' produced a non-finite {} ({}){}{}; "
                  "training stopped, the last checkpoint is the last good "
                  "state (lower the learning rate or set a grad_clip)",
                  step, entry, tensor,
                  std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf"),
                  where.empty() ? "" : " ", where));
}

namespace {

Status invalid(std::string message) {
  return Status::error(Status::Code::InvalidArgument, std::move(message));
}

/// `train_step` -> `train_accumulate`, `S.train_step` -> `S.train_accumulate`.
std::string accumulateEntryName(const std::string &trainEntry) {
  const std::string suffix = "train_step";
  if (trainEntry.size() >= suffix.size() &&
      trainEntry.compare(trainEntry.size() - suffix.size(), suffix.size(),
                         suffix) == 0)
    return trainEntry.substr(0, trainEntry.size() - suffix.size()) +
           "train_accumulate";
  return trainEntry + ".accumulate";
}

/// The index of output `name` of `entry`, or -1.
int outputIndex(const plan::Entry &entry, std::string_view name) {
  for (uint32_t i = 0; i < entry.outputs()->size(); ++i)
    if (entry.outputs()->Get(i)->name()->string_view() == name)
      return int(i);
  return -1;
}

double scalarOf(const HostTensor &t) {
  switch (t.dtype()) {
  case DType::f32:
    return double(t.as<float>()[0]);
  default:
    return NAN;
  }
}

/// The stage of the train section whose entry is `entry`, or null (a plan
/// without stages, or an entry no stage names).
const plan::Stage *stageOf(const plan::TrainConfig *config,
                           const std::string &entry) {
  if (!config || !config->stages())
    return nullptr;
  for (const plan::Stage *stage : *config->stages())
    if (stage->entry() && stage->entry()->string_view() == entry)
      return stage;
  return nullptr;
}

} // namespace

Trainer::Trainer(std::unique_ptr<State> state) : state_(std::move(state)) {}
Trainer::~Trainer() = default;
const Hyperparams &Trainer::hyperparams() const { return state_->hyper; }
int64_t Trainer::totalSteps() const { return state_->totalSteps; }

StatusOr<std::unique_ptr<Trainer>>
Trainer::create(const PlanFile &plan, const data::Dataset &dataset,
                const TrainOptions &options) {
  auto state = std::make_unique<State>();
  state->plan = &plan;
  state->dataset = &dataset;
  state->options = options;
  if (Status s = state->setUp(); !s)
    return s;
  return std::unique_ptr<Trainer>(new Trainer(std::move(state)));
}

Status Trainer::State::setUp() {
  const plan::Plan &p = plan->plan();
  uint64_t unsupported =
      static_cast<uint64_t>(p.requirements()) &
      static_cast<uint64_t>(plan::Requirement::Cuda | plan::Requirement::Nccl);
  if (unsupported)
    return Status::error(
        Status::Code::Unsupported,
        fmt::format("{}: the plan requires {}; onerec-run train executes on "
                    "the CPU",
                    plan->name(), runtime::formatRequirements(unsupported)));
  StatusOr<std::string> entry = trainEntryName(*plan, options.entry);
  if (!entry)
    return entry.status();
  trainEntry = *entry;
  generative = takesSemanticIds(*plan, trainEntry);
  if (generative) {
    if (Status s = setUpGenerative(); !s)
      return s;
  } else {
    if (options.catalog)
      spdlog::warn("--catalog {} is not used: entry '{}' of {} takes no "
                   "semantic IDs (a next-item model)",
                   options.catalogName, trainEntry, plan->name());
    StatusOr<NextItemInputs> found = inspectTrainEntry(*plan, trainEntry);
    if (!found)
      return found.status();
    inputs = *found;
    if (Status s = checkDatasetFits(inputs, *plan, *dataset); !s)
      return s;
    // The largest id of a cloze plan is its mask token, not an item.
    int64_t itemRoom = inputs.idBound - (inputs.cloze ? 2 : 1);
    if (inputs.idBound > 0 && int64_t(dataset->numItems()) < itemRoom)
      spdlog::info("{} has {} items and plan {} room for {}: ids {}..{} stay "
                   "unused and evaluation ranks items 1..{}",
                   dataset->directory(), dataset->numItems(), plan->name(),
                   itemRoom, dataset->numItems() + 1, itemRoom,
                   dataset->numItems());
  }
  if (options.maskProb && !inputs.cloze)
    spdlog::warn("--mask-prob applies to cloze models (a training entry "
                 "taking 'labels'); entry '{}' is not one",
                 trainEntry);
  maskProb = options.maskProb.value_or(kDefaultMaskProb);

  // Hyperparameters: the plan's, or the resumed checkpoint's, then the
  // command line's.
  hyper = Hyperparams::fromPlan(p.train());
  seed = options.seed.value_or(p.seed());
  if (options.ckptDir.empty() && options.resume)
    return invalid("--resume needs --ckpt-dir DIR (where the checkpoints are)");
  if (!options.ckptDir.empty())
    ckpt = std::make_unique<CheckpointDir>(options.ckptDir);
  if (options.resume) {
    if (Status s = findCheckpoint(); !s)
      return s;
  } else if (ckpt) {
    StatusOr<std::vector<int64_t>> existing = ckpt->list();
    if (!existing)
      return existing.status();
    if (!existing->empty())
      return invalid(fmt::format(
          "{}: already holds checkpoints (the newest of step {}); pass "
          "--resume to continue that run, or give an empty --ckpt-dir",
          options.ckptDir, existing->back()));
  }
  if (options.batch && !resumeMeta)
    hyper.batch = *options.batch;
  if (hyper.batch <= 0)
    return invalid(fmt::format("{}: the plan's train section sets no batch "
                               "size; give --batch N",
                               plan->name()));
  int64_t maxBatch = generative ? genInputs.maxBatch : inputs.maxBatch;
  if (hyper.batch > maxBatch)
    return invalid(fmt::format(
        "--batch {} exceeds the {} rows plan {} was compiled for (entry '{}' "
        "input '{}'); compile with a larger batch dim or use --batch {}",
        hyper.batch, maxBatch, plan->name(), trainEntry,
        generative ? genInputs.history : "seq", maxBatch));

  // The data order: every train row (example) once per epoch.
  if (generative) {
    data::GenerativeBatcherOptions genOptions;
    genOptions.batchSize = hyper.batch;
    genOptions.history = genInputs.historyLen;
    genOptions.targets = genInputs.targets;
    genOptions.seed = seed;
    genOptions.split = data::Split::Train;
    genOptions.shuffle = true;
    StatusOr<data::GenerativeBatcher> created =
        data::GenerativeBatcher::create(*dataset, *options.catalog, genOptions);
    if (!created)
      return created.status();
    genBatcher.emplace(std::move(*created));
    batchesPerEpoch = int64_t(genBatcher->batchesPerEpoch());
  } else {
    data::BatcherOptions batcherOptions;
    batcherOptions.batchSize = hyper.batch;
    batcherOptions.maxLen = inputs.maxLen;
    batcherOptions.negatives = inputs.negatives;
    batcherOptions.seed = seed;
    batcherOptions.split = data::Split::Train;
    batcherOptions.shuffle = true;
    StatusOr<data::SequenceBatcher> created =
        data::SequenceBatcher::create(*dataset, batcherOptions);
    if (!created)
      return created.status();
    batcher.emplace(std::move(*created));
    batchesPerEpoch = int64_t(batcher->batchesPerEpoch());
  }

  params = std::make_unique<ParameterStore>(*plan);
  if (Status s = params->makeWritable(); !s)
    return s;
  if (resumeMeta) {
    if (Status s = restore(); !s)
      return s;
    if (options.initWeights)
      spdlog::info("resuming from step {}: --weights {} is not used",
                   resumeMeta->step, *options.initWeights);
  } else if (options.initWeights) {
    // A fresh run starts a fresh optimizer (its step restarts at 1): the
    // file's optimizer state, if any, is not used, so that Adam's bias
    // correction and the moments agree.
    runtime::CheckpointLoadReport report;
    if (Status s = params->loadSafetensors(*options.initWeights, &report); !s)
      return s;
    size_t loadedState = 0;
    for (size_t i = 0; i < params->size(); ++i)
      loadedState += params->isOptimizerState(i);
    loadedState -= report.stateReset.size();
    params->resetOptimizerState();
    if (loadedState > 0 || !report.stateIgnored.empty())
      spdlog::info("--weights {}: its optimizer state ({} tensors) is not "
                   "used; a fresh run starts a fresh optimizer at step 1 "
                   "(use --resume to continue a run)",
                   *options.initWeights,
                   loadedState + report.stateIgnored.size());
  }

  // The command line overrides the plan's (or the checkpoint's) values.
  if (options.lr)
    hyper.schedule.lr = *options.lr;
  if (options.weightDecay)
    hyper.weightDecay = *options.weightDecay;
  if (options.gradClip)
    hyper.gradClip = *options.gradClip;
  if (options.schedule)
    hyper.schedule.kind = *options.schedule;
  if (options.warmup)
    hyper.schedule.warmup = *options.warmup;
  if (hyper.schedule.lr < 0 || hyper.weightDecay < 0 || hyper.gradClip < 0 ||
      hyper.schedule.warmup < 0)
    return invalid("--lr, --weight-decay, --grad-clip and --warmup must not "
                   "be negative");

  // The length of the run, in updates: the command line's, else (resuming)
  // the checkpoint's, else that of the plan's stage that trains this entry.
  int64_t k = hyper.accumulate;
  const plan::Stage *stage = stageOf(p.train(), trainEntry);
  std::optional<int64_t> recordedSteps;
  if (resumeMeta) {
    nlohmann::json run = nlohmann::json::parse(resumeMeta->run, nullptr, false);
    if (run.is_object() && run.contains("total_steps") &&
        run["total_steps"].is_number_integer())
      recordedSteps = run["total_steps"].get<int64_t>();
  }
  if (options.steps) {
    totalSteps = *options.steps;
  } else if (recordedSteps && !options.epochs) {
    totalSteps = *recordedSteps;
  } else {
    int64_t epochs = options.epochs.value_or(0);
    if (!options.epochs && stage && stage->steps() > 0)
      totalSteps = stage->steps();
    else {
      if (!options.epochs && stage)
        epochs = stage->epochs();
      if (epochs <= 0)
        return invalid(fmt::format("{}: the plan's train section gives no "
                                   "epochs or steps; give --epochs N or "
                                   "--steps N",
                                   plan->name()));
      totalSteps = std::max<int64_t>(1, epochs * batchesPerEpoch / k);
    }
  }
  if (totalSteps <= 0)
    return invalid("--steps and --epochs must be at least 1");
  if (recordedSteps && *recordedSteps != totalSteps)
    spdlog::warn("{}: the run was started for {} updates; --{} makes it {} "
                 "(the learning-rate schedule keeps the length it resumed "
                 "with, {} updates; past it the rate stays at its last value)",
                 ckpt->metaPath(resumeMeta->step), *recordedSteps,
                 options.steps ? "steps" : "epochs", totalSteps,
                 hyper.schedule.total > 0 ? hyper.schedule.total
                                          : *recordedSteps);
  // Cosine decays over the whole run unless the plan says otherwise.
  if (hyper.schedule.total <= 0)
    hyper.schedule.total = totalSteps;
  ckptEvery = options.ckptEvery > 0 ? options.ckptEvery
                                    : std::max<int64_t>(1, batchesPerEpoch / k);

  // Executors: one per entry, made once.
  ExecutorOptions executorOptions;
  executorOptions.threads = options.threads;
  executorOptions.seed = seed;
  StatusOr<std::unique_ptr<Executor>> trainExecutor =
      Executor::create(*plan, trainEntry, *params,
                       runtime::defaultKernelRegistry(), executorOptions);
  if (!trainExecutor)
    return trainExecutor.status();
  train = std::move(*trainExecutor);
  trainLoss = outputIndex(train->entry(), "loss");
  trainNorm = outputIndex(train->entry(), "grad_norm");
  if (k > 1) {
    accumulateEntry = accumulateEntryName(trainEntry);
    if (plan->findEntry(accumulateEntry) < 0)
      return invalid(fmt::format(
          "{}: accumulate = {} needs the entry '{}', which the plan lacks",
          plan->name(), k, accumulateEntry));
    StatusOr<std::unique_ptr<Executor>> accumulateExecutor =
        Executor::create(*plan, accumulateEntry, *params,
                         runtime::defaultKernelRegistry(), executorOptions);
    if (!accumulateExecutor)
      return accumulateExecutor.status();
    accumulate = std::move(*accumulateExecutor);
    accumulateLoss = outputIndex(accumulate->entry(), "loss");
  }
  bindFeeds(trainFeeds, true);
  if (accumulate)
    bindFeeds(accumulateFeeds, false);

  // Evaluation, when the plan has a `forward` entry and the data splits.
  bool wantEval = options.evalEvery > 0 || options.finalEval;
  if (wantEval && generative) {
    // Generative models: the loss of the held-out targets (ranking needs
    // beam search: onerec-run eval --catalog).
    std::string lossEntry = validationLossEntry(*plan, trainEntry);
    Status made = Status::ok();
    if (lossEntry.empty()) {
      made = invalid(fmt::format("{}: no Loss entry takes the inputs of '{}' "
                                 "to compute a validation loss with",
                                 plan->name(), trainEntry));
    } else {
      StatusOr<std::unique_ptr<LossEvaluator>> e =
          LossEvaluator::create(*plan, *params, *dataset, *options.catalog,
                                lossEntry, hyper.batch, options.threads);
      if (e)
        lossEvaluator = std::move(*e);
      else
        made = e.status();
    }
    if (!made) {
      if (options.evalEvery > 0)
        return made;
      spdlog::warn("no validation loss: {}", made.message());
    }
  } else if (wantEval) {
    EvalOptions evalOptions;
    evalOptions.cloze = inputs.cloze;
    evalOptions.k = options.evalK;
    evalOptions.protocol = options.evalProtocol;
    evalOptions.threads = options.threads;
    StatusOr<std::unique_ptr<Evaluator>> e =
        Evaluator::create(*plan, *params, *dataset, evalOptions);
    if (!e) {
      if (options.evalEvery > 0)
        return e.status();
      spdlog::warn("no evaluation: {}", e.status().message());
    } else {
      evaluator = std::move(*e);
    }
  }

  if (!options.metricsPath.empty()) {
    StatusOr<std::unique_ptr<MetricsWriter>> writer =
        resumedFrom ? MetricsWriter::resume(options.metricsPath, *resumedFrom)
                    : MetricsWriter::create(options.metricsPath);
    if (!writer)
      return writer.status();
    metrics = std::move(*writer);
  }
  return Status::ok();
}

Status Trainer::State::setUpGenerative() {
  const plan::Binding *history = nullptr;
  const plan::Entry &entry = plan->entry(plan->findEntry(trainEntry));
  for (const plan::Binding *b : *entry.inputs()) {
    const plan::Tensor &t = *entry.tensors()->Get(b->tensor());
    if (!history && t.index_bound() > 0 && t.shape() && t.shape()->size() == 3)
      history = b;
  }
  if (!options.catalog)
    return invalid(fmt::format(
        "{}: entry '{}' takes semantic IDs (input '{}' {}): a generative "
        "model trains with --catalog CATALOG.safetensors, the items' "
        "semantic IDs (make one with onerec-tokenize)",
        plan->name(), trainEntry, history ? history->name()->str() : "?",
        history ? runtime::formatTensorType(
                      plan->plan(), *entry.tensors()->Get(history->tensor()))
                : ""));
  StatusOr<GenerativeInputs> found = inspectGenerativeEntry(*plan, trainEntry);
  if (!found)
    return found.status();
  genInputs = *found;
  if (Status s = checkCatalogFits(genInputs, *plan, *options.catalog,
                                  options.catalogName, *dataset);
      !s)
    return s;
  if (options.catalog->codebook() < genInputs.codebook)
    spdlog::info("{}: codes below {}, plan {} room for {}: codes {}..{} "
                 "stay unused",
                 options.catalogName, options.catalog->codebook(), plan->name(),
                 genInputs.codebook, options.catalog->codebook(),
                 genInputs.codebook - 1);
  if (genInputs.user.empty())
    spdlog::info("entry '{}' takes no user id; examples carry only the "
                 "history",
                 trainEntry);
  return Status::ok();
}

void Trainer::State::bindFeeds(std::vector<NamedTensorView> &feeds,
                               bool optimizer) {
  feeds.clear();
  const plan::Entry &entry = optimizer ? train->entry() : accumulate->entry();
  for (const plan::Binding *b : *entry.inputs()) {
    NamedTensorView feed;
    feed.name = b->name()->str();
    if (feed.name == "optimizer.step")
      feed.view = stepTensor.view();
    else if (feed.name == "optimizer.hparams")
      feed.view = hparamsTensor.view();
    feeds.push_back(std::move(feed));
  }
}

/// A cloze batch from a next-item batch: each row's last L train items
/// (`pos`, the items after the first, right-aligned; and the first item,
/// `seq`'s, when there is room), with every item masked with probability
/// `maskProb` (the last one when none is), keyed by the row's place in the
/// data, so that a resumed run masks the same ones.
void Trainer::State::fillCloze() {
  int64_t rows = batch.rows, L = inputs.maxLen;
  clozeSeq.assign(size_t(rows * L), 0);
  clozeLabels.assign(size_t(rows * L), 0);
  for (int64_t r = 0; r < rows; ++r) {
    data::KeyedRandom rng(seed, uint64_t(data::RandomPurpose::ClozeMask),
                          batch.position.epoch,
                          batch.position.nextRow + uint64_t(r));
    const int64_t *next = batch.pos.data() + r * L;
    const int64_t *prev = batch.seq.data() + r * L;
    int64_t *out = clozeSeq.data() + r * L;
    int64_t *labels = clozeLabels.data() + r * L;
    std::copy(next, next + L, out);
    // The first pos item sits after `first`; seq's item there is the
    // sequence's first item, which fits when the row is not full.
    int64_t first = 0;
    while (first < L && next[first] == 0)
      ++first;
    if (first > 0 && first < L)
      out[first - 1] = prev[first];
    bool masked = false;
    for (int64_t j = 0; j < L; ++j)
      if (out[j] != 0 && rng.unit() < maskProb) {
        labels[j] = out[j];
        out[j] = inputs.maskToken;
        masked = true;
      }
    if (!masked && out[L - 1] != 0) {
      labels[L - 1] = out[L - 1];
      out[L - 1] = inputs.maskToken;
    }
  }
}

void Trainer::State::updateFeeds(std::vector<NamedTensorView> &feeds) {
  if (generative) {
    feedGenerativeBatch(genInputs, genBatch, feeds);
    return;
  }
  int64_t rows = batch.rows, L = inputs.maxLen;
  if (inputs.cloze)
    fillCloze();
  for (NamedTensorView &feed : feeds) {
    if (inputs.cloze && (feed.name == "seq" || feed.name == "labels")) {
      feed.view =
          TensorView{DType::i64,
                     {rows, L},
                     (feed.name == "seq" ? clozeSeq : clozeLabels).data()};
      continue;
    }
    if (feed.name == "seq")
      feed.view = TensorView{DType::i64, {rows, L}, batch.seq.data()};
    else if (feed.name == "pos")
      feed.view = TensorView{DType::i64, {rows, L}, batch.pos.data()};
    else if (feed.name == "neg" && inputs.sharedNegatives) {
      // Uniform over the catalog, keyed by the batch's place in the data
      // (so a resumed run draws the same ones).
      sharedNeg.resize(size_t(inputs.sharedNegatives));
      data::KeyedRandom rng(seed,
                            uint64_t(data::RandomPurpose::SharedNegatives),
                            batch.position.epoch, batch.position.nextRow);
      for (int64_t &item : sharedNeg)
        item = 1 + int64_t(rng.below(dataset->numItems()));
      feed.view =
          TensorView{DType::i64, {inputs.sharedNegatives}, sharedNeg.data()};
    } else if (feed.name == "neg")
      feed.view = inputs.negatives == 1 && batch.negatives == 1
                      ? TensorView{DType::i64, {rows, L}, batch.neg.data()}
                      : TensorView{DType::i64,
                                   {rows, L, inputs.negatives},
                                   batch.neg.data()};
  }
}

Status Trainer::State::evaluate(data::Split split, int64_t step, int64_t epoch,
                                double wallS, ProgressLine *progress,
                                TrainSummary &summary) {
  bool valid = split == data::Split::Valid;
  if (lossEvaluator)
    return evaluateLoss(split, step, epoch, wallS, progress,
                        valid ? summary.validLoss : summary.testLoss);
  std::optional<EvalResult> &out = valid ? summary.valid : summary.test;
  StatusOr<EvalResult> result = evaluator->evaluate(split);
  if (!result)
    return result.status();
  out = *result;
  const RankingMetrics &m = result->metrics;
  std::string line = fmt::format(
      "step {}: {} HR@{} {:.4f}  NDCG@{} {:.4f}  ({} ranking, {} users, "
      "{:.1f} s)",
      step, data::splitName(split), m.k(), m.hitRate(), m.k(), m.ndcg(),
      protocolName(result->protocol), m.users(), result->seconds);
  if (progress)
    progress->message(line);
  if (metrics) {
    EvalRecord record;
    record.split = data::splitName(split);
    record.step = step;
    record.epoch = epoch;
    record.protocol = protocolName(result->protocol);
    record.k = m.k();
    record.hitRate = m.hitRate();
    record.ndcg = m.ndcg();
    record.users = m.users();
    record.wallS = wallS;
    if (Status s = metrics->write(record); !s)
      return s;
  }
  return Status::ok();
}

Status Trainer::State::evaluateLoss(data::Split split, int64_t step,
                                    int64_t epoch, double wallS,
                                    ProgressLine *progress,
                                    std::optional<LossResult> &out) {
  StatusOr<LossResult> result = lossEvaluator->evaluate(split);
  if (!result)
    return result.status();
  out = *result;
  if (progress)
    progress->message(fmt::format("step {}: {} loss {:.4f}  (entry '{}', {} "
                                  "examples, {:.1f} s)",
                                  step, data::splitName(split), result->loss,
                                  result->entry, result->examples,
                                  result->seconds));
  if (metrics) {
    LossEvalRecord record;
    record.split = data::splitName(split);
    record.step = step;
    record.epoch = epoch;
    record.entry = result->entry;
    record.loss = result->loss;
    record.examples = result->examples;
    record.wallS = wallS;
    if (Status s = metrics->write(record); !s)
      return s;
  }
  return Status::ok();
}

StatusOr<TrainSummary> Trainer::run() {
  State &s = *state_;
  TrainSummary summary;
  summary.firstStep = s.startStep + 1;
  summary.lastStep = s.startStep;
  summary.resumedFrom = s.resumedFrom;
  int64_t k = s.hyper.accumulate;
  bool terminal = s.options.terminal.value_or(::isatty(STDERR_FILENO) == 1);
  int64_t logEvery = s.options.logEvery > 0
                         ? s.options.logEvery
                         : std::max<int64_t>(1, (s.totalSteps + 19) / 20);
  std::unique_ptr<ProgressLine> progress;
  if (!s.options.quiet)
    progress = std::make_unique<ProgressLine>(stderr, terminal, s.totalSteps,
                                              logEvery);
  bool alreadyDone = s.startStep >= s.totalSteps;
  if (alreadyDone && progress)
    progress->message(fmt::format("step {}: the run of {} updates is already "
                                  "complete",
                                  s.startStep, s.totalSteps));
  // A finished run's final evaluations are in its metrics already.
  if (alreadyDone)
    s.metrics.reset();
  Clock::time_point start = Clock::now();
  auto wall = [&] {
    return s.wallOffset +
           std::chrono::duration<double>(Clock::now() - start).count();
  };
  int64_t examples = s.examplesBefore;
  double smoothedRate = 0;
  int64_t epoch = int64_t(s.dataPosition().epoch) + 1;
  int64_t lastValidStep = -1;

  for (int64_t step = s.startStep + 1; step <= s.totalSteps; ++step) {
    Clock::time_point stepStart = Clock::now();
    int64_t stepExamples = 0;
    double lossSum = 0, gradNorm = 0;
    for (int64_t micro = 0; micro < k; ++micro) {
      if (!s.nextBatch() && !s.nextBatch())
        return Status::error(Status::Code::Internal,
                             "the train split yields no batch");
      epoch = int64_t(s.batchPosition().epoch) + 1;
      bool last = micro == k - 1;
      Executor &executor = last ? *s.train : *s.accumulate;
      std::vector<NamedTensorView> &feeds =
          last ? s.trainFeeds : s.accumulateFeeds;
      s.updateFeeds(feeds);
      if (last) {
        s.stepTensor.as<int64_t>()[0] = step;
        std::array<float, 8> h = s.hyper.vector(step);
        std::copy(h.begin(), h.end(), s.hparamsTensor.as<float>());
      }
      executor.setStep(uint64_t((step - 1) * k + micro));
      StatusOr<std::vector<NamedTensor>> outputs = executor.run(feeds);
      if (!outputs)
        return outputs.status().withContext(fmt::format("step {}", step));
      const std::string &entryName = last ? s.trainEntry : s.accumulateEntry;
      std::string where =
          k > 1 ? fmt::format("in micro-batch {} of {}", micro + 1, k) : "";
      double loss = scalarOf(
          (*outputs)[size_t(last ? s.trainLoss : s.accumulateLoss)].tensor);
      lossSum += loss;
      stepExamples += s.batchRows();
      Status bad;
      if (!std::isfinite(loss))
        bad = nonFiniteError(step, entryName, "loss", loss, where);
      if (last) {
        // The entry's norm is of the summed (unscaled) gradient of the k
        // micro-batches; report the norm of their mean, the gradient the
        // update applies and grad_clip compares (k = 1: the same).
        gradNorm = scalarOf((*outputs)[size_t(s.trainNorm)].tensor) / double(k);
        if (bad.isOk() && !std::isfinite(gradNorm))
          bad = nonFiniteError(step, entryName, "grad_norm", gradNorm, where);
      }
      if (!bad.isOk()) {
        if (s.metrics) {
          StepRecord record{step,
                            epoch,
                            lossSum / double(micro + 1),
                            s.hyper.schedule.at(step),
                            gradNorm,
                            0,
                            wall()};
          (void)s.metrics->write(record);
        }
        if (progress)
          progress->finish();
        return bad;
      }
    }
    examples += stepExamples;
    double seconds =
        std::chrono::duration<double>(Clock::now() - stepStart).count();
    double rate = seconds > 0 ? double(stepExamples) / seconds : 0;
    smoothedRate = smoothedRate == 0 ? rate : 0.9 * smoothedRate + 0.1 * rate;
    double loss = lossSum / double(k);
    double lr = double(s.hyper.vector(step)[0]);
    summary.lastStep = step;
    summary.lastLoss = loss;
    if (s.metrics) {
      StepRecord record{step, epoch, loss, lr, gradNorm, rate, wall()};
      if (Status st = s.metrics->write(record); !st)
        return st;
    }
    if (progress)
      progress->update(step, epoch, loss, lr, smoothedRate);
    if (s.canEvaluate() && s.options.evalEvery > 0 &&
        step % s.options.evalEvery == 0) {
      if (Status st = s.evaluate(data::Split::Valid, step, epoch, wall(),
                                 progress.get(), summary);
          !st)
        return st;
      lastValidStep = step;
    }
    bool stop = s.options.stopRequested && *s.options.stopRequested;
    if (s.ckpt && (stop || step % s.ckptEvery == 0 || step == s.totalSteps)) {
      if (Status st =
              s.ckpt->save(*s.params, s.checkpointMeta(step, wall(), examples),
                           s.options.keep);
          !st)
        return st;
    }
    if (stop && step < s.totalSteps) {
      if (progress)
        progress->finish();
      return Status::error(
          Status::Code::Unavailable,
          s.ckpt ? fmt::format("interrupted after step {}; its checkpoint is "
                               "in {}: continue with --resume",
                               step, s.ckpt->dir())
                 : fmt::format("interrupted after step {} (no --ckpt-dir: "
                               "nothing saved)",
                               step));
    }
  }
  if (progress)
    progress->finish();
  summary.examples = examples - s.examplesBefore;
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();

  if (s.canEvaluate() && s.options.finalEval) {
    int64_t step = std::max(summary.lastStep, s.startStep);
    if (lastValidStep != step)
      if (Status st = s.evaluate(data::Split::Valid, step, epoch, wall(),
                                 nullptr, summary);
          !st)
        return st;
    if (Status st = s.evaluate(data::Split::Test, step, epoch, wall(), nullptr,
                               summary);
        !st)
      return st;
  }
  return summary;
}

} // namespace onerec::driver
