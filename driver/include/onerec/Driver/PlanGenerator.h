//===- PlanGenerator.h - beam search's StepModel over a plan ----*- C++ -*-===//
//
// PlanStepModel runs a plan's decoding entries (docs/generation.md,
// "Decoding entries") for BeamSearch: the encoder and `decode_init` once
// per admitted batch of requests, their contexts copied into request slots;
// `decode_step` once per step over every beam row, reading the slots'
// contexts through `rows` and the rows' key/value caches in place (views,
// no copies); the new keys and values written at each row's position; the
// caches gathered by parent between steps (only the positions a row has).
// create() checks every entry against the decoding contract and names
// what does not match.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DRIVER_PLANGENERATOR_H
#define ONEREC_DRIVER_PLANGENERATOR_H

#include "onerec/Driver/BeamSearch.h"
#include "onerec/Runtime/Executor.h"

#include <memory>
#include <string>
#include <vector>

namespace onerec::driver {

/// The plan's generate section `name` (the first when empty); the error
/// says what the plan has instead.
runtime::StatusOr<const plan::Generate *>
findGenerate(const runtime::PlanFile &plan, std::string_view name = {});

class PlanStepModel : public StepModel {
public:
  static runtime::StatusOr<std::unique_ptr<PlanStepModel>>
  create(const runtime::PlanFile &plan, runtime::ParameterStore &params,
         const plan::Generate &generate, unsigned threads = 0);

  /// The encoder entry (its inputs are what a request holds).
  const plan::Entry &encoderEntry() const { return encoder_->entry(); }
  const plan::Generate &generate() const { return generate_; }
  /// Seconds spent in the three entries so far.
  double encodeSeconds() const { return encodeSeconds_; }
  double stepSeconds() const { return stepSeconds_; }

  const DecodeShape &shape() const override { return shape_; }
  int64_t maxRows() const override { return maxRows_; }
  int64_t maxSlots() const override { return maxSlots_; }
  runtime::Status reserve(int64_t rows, int64_t slots) override;
  runtime::Status encode(const GenerationRequest *const *requests,
                         const int64_t *slots, size_t count) override;
  runtime::StatusOr<const float *> step(int64_t n, const int64_t *tokens,
                                        const int64_t *positions,
                                        const int64_t *slots) override;
  void reorder(int64_t n, const int32_t *parents,
               const int64_t *lengths) override;

private:
  PlanStepModel(const runtime::PlanFile &plan, const plan::Generate &generate)
      : plan_(plan), generate_(generate) {}
  runtime::Status checkContract();

  /// A context: one row per request slot.
  struct Context {
    std::string name;
    runtime::Shape row; // without the leading batch extent
    int64_t rowElements = 0;
    runtime::HostTensor slots;
  };
  /// One causal self-attention's keys or values: [rows, length, width],
  /// the current layout and the next one (reorder gathers into it).
  struct Cache {
    std::string name;
    int64_t width = 0;
    runtime::HostTensor current, next;
  };

  const runtime::PlanFile &plan_;
  const plan::Generate &generate_;
  std::unique_ptr<runtime::Executor> encoder_, init_, step_;
  DecodeShape shape_;
  int64_t length_ = 0;
  int64_t maxRows_ = 0, maxSlots_ = 0;
  int64_t rows_ = 0, slots_ = 0;
  std::vector<Context> contexts_;
  std::vector<Cache> caches_;
  std::vector<runtime::NamedTensor> stepOutputs_;
  const float *logits_ = nullptr;
  double encodeSeconds_ = 0, stepSeconds_ = 0;
};

} // namespace onerec::driver

#endif // ONEREC_DRIVER_PLANGENERATOR_H
