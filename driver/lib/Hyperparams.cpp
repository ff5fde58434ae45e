//===- Hyperparams.cpp - optimizer settings and the LR schedule -----------===//

#include "onerec/Driver/Hyperparams.h"

#include "plan_generated.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

using onerec::runtime::Status;
using onerec::runtime::StatusOr;

namespace onerec::driver {

const char *optimizerName(OptimizerKind kind) {
  switch (kind) {
  case OptimizerKind::Sgd:
    return "sgd";
  case OptimizerKind::Adam:
    return "adam";
  case OptimizerKind::AdamW:
    return "adamw";
  }
  return "?";
}

const char *scheduleName(ScheduleKind kind) {
  switch (kind) {
  case ScheduleKind::Constant:
    return "constant";
  case ScheduleKind::Warmup:
    return "warmup";
  case ScheduleKind::Cosine:
    return "cosine";
  }
  return "?";
}

std::optional<ScheduleKind> parseSchedule(std::string_view name) {
  for (ScheduleKind kind :
       {ScheduleKind::Constant, ScheduleKind::Warmup, ScheduleKind::Cosine})
    if (name == scheduleName(kind))
      return kind;
  return std::nullopt;
}

static std::optional<OptimizerKind> parseOptimizer(std::string_view name) {
  for (OptimizerKind kind :
       {OptimizerKind::Sgd, OptimizerKind::Adam, OptimizerKind::AdamW})
    if (name == optimizerName(kind))
      return kind;
  return std::nullopt;
}

double LrSchedule::at(int64_t t) const {
  switch (kind) {
  case ScheduleKind::Constant:
    return lr;
  case ScheduleKind::Warmup:
    return warmup > 0 ? lr * std::min(1.0, double(t) / double(warmup)) : lr;
  case ScheduleKind::Cosine: {
    if (warmup > 0 && t <= warmup)
      return lr * double(t) / double(warmup);
    // A decay span of zero or less (total <= warmup) is already decayed.
    double progress =
        total > warmup
            ? std::min(1.0, double(t - warmup) / double(total - warmup))
            : 1.0;
    return minLr + (lr - minLr) * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  }
  return lr;
}

Hyperparams Hyperparams::fromPlan(const plan::TrainConfig *config) {
  Hyperparams h;
  if (!config)
    return h;
  switch (config->optimizer()) {
  case plan::OptimizerKind::Sgd:
    h.optimizer = OptimizerKind::Sgd;
    break;
  case plan::OptimizerKind::Adam:
    h.optimizer = OptimizerKind::Adam;
    break;
  case plan::OptimizerKind::AdamW:
    h.optimizer = OptimizerKind::AdamW;
    break;
  }
  switch (config->schedule()) {
  case plan::ScheduleKind::Constant:
    h.schedule.kind = ScheduleKind::Constant;
    break;
  case plan::ScheduleKind::Warmup:
    h.schedule.kind = ScheduleKind::Warmup;
    break;
  case plan::ScheduleKind::Cosine:
    h.schedule.kind = ScheduleKind::Cosine;
    break;
  }
  h.schedule.lr = config->lr();
  h.schedule.warmup = std::max<int64_t>(0, config->warmup());
  h.schedule.total = std::max<int64_t>(0, config->total());
  h.schedule.minLr = config->min_lr();
  h.beta1 = config->beta1();
  h.beta2 = config->beta2();
  h.eps = config->eps();
  h.weightDecay = config->weight_decay();
  h.momentum = config->momentum();
  h.nesterov = config->nesterov();
  h.gradClip = config->grad_clip();
  h.accumulate = std::max<int64_t>(1, config->accumulate());
  h.batch = std::max<int64_t>(0, config->batch());
  return h;
}

std::array<float, 8> Hyperparams::vector(int64_t t) const {
  bool sgd = optimizer == OptimizerKind::Sgd;
  return {static_cast<float>(schedule.at(t)),
          static_cast<float>(sgd ? momentum : beta1),
          static_cast<float>(sgd ? (nesterov ? 1.0 : 0.0) : beta2),
          static_cast<float>(eps),
          static_cast<float>(weightDecay),
          static_cast<float>(gradClip),
          static_cast<float>(1.0 / double(accumulate)),
          0.0f};
}

std::string Hyperparams::toJson() const {
  nlohmann::ordered_json j;
  j["optimizer"] = optimizerName(optimizer);
  j["lr"] = schedule.lr;
  j["schedule"] = scheduleName(schedule.kind);
  j["warmup"] = schedule.warmup;
  j["total"] = schedule.total;
  j["min_lr"] = schedule.minLr;
  j["beta1"] = beta1;
  j["beta2"] = beta2;
  j["eps"] = eps;
  j["weight_decay"] = weightDecay;
  j["momentum"] = momentum;
  j["nesterov"] = nesterov;
  j["grad_clip"] = gradClip;
  j["accumulate"] = accumulate;
  j["batch"] = batch;
  return j.dump();
}

StatusOr<Hyperparams> Hyperparams::fromJson(std::string_view text,
                                            std::string_view what) {
  auto bad = [&](const std::string &why) {
    return Status::error(
        Status::Code::Corrupt,
        fmt::format("{}: the hyperparameters are unreadable: {}", what, why));
  };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object())
    return bad("not a JSON object");
  Hyperparams h;
  try {
    std::optional<OptimizerKind> optimizer =
        parseOptimizer(j.at("optimizer").get<std::string>());
    std::optional<ScheduleKind> schedule =
        parseSchedule(j.at("schedule").get<std::string>());
    if (!optimizer || !schedule)
      return bad("unknown optimizer or schedule");
    h.optimizer = *optimizer;
    h.schedule.kind = *schedule;
    h.schedule.lr = j.at("lr").get<double>();
    h.schedule.warmup = j.at("warmup").get<int64_t>();
    h.schedule.total = j.at("total").get<int64_t>();
    h.schedule.minLr = j.at("min_lr").get<double>();
    h.beta1 = j.at("beta1").get<double>();
    h.beta2 = j.at("beta2").get<double>();
    h.eps = j.at("eps").get<double>();
    h.weightDecay = j.at("weight_decay").get<double>();
    h.momentum = j.at("momentum").get<double>();
    h.nesterov = j.at("nesterov").get<bool>();
    h.gradClip = j.at("grad_clip").get<double>();
    h.accumulate = j.at("accumulate").get<int64_t>();
    h.batch = j.at("batch").get<int64_t>();
  } catch (const nlohmann::json::exception &e) {
    return bad(e.what());
  }
  if (h.accumulate < 1 || h.batch < 0)
    return bad("accumulate or batch out of range");
  return h;
}

bool Hyperparams::operator==(const Hyperparams &o) const {
  return optimizer == o.optimizer && schedule.kind == o.schedule.kind &&
         schedule.lr == o.schedule.lr && schedule.warmup == o.schedule.warmup &&
         schedule.total == o.schedule.total &&
         schedule.minLr == o.schedule.minLr && beta1 == o.beta1 &&
         beta2 == o.beta2 && eps == o.eps && weightDecay == o.weightDecay &&
         momentum == o.momentum && nesterov == o.nesterov &&
         gradClip == o.gradClip && accumulate == o.accumulate &&
         batch == o.batch;
}

} // namespace onerec::driver
