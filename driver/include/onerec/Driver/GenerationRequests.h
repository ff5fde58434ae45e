//===- GenerationRequests.h - encoder inputs of one generation request -*- C++
//-*-===//
//
// What `onerec-run generate` reads per line and `eval` builds per user: the
// inputs of a plan's encoder entry, one row each. A JSON request names them
// like the entry's inputs (docs/generation.md, "Requests and answers"):
// plain ids take an integer, semantic-ID histories [hist, levels] take a
// list of dataset item ids (their codes from the catalog, right-aligned and
// padded with code 0), floats and booleans take (nested) lists of the
// input's shape. Every mistake is an error naming the field.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DRIVER_GENERATIONREQUESTS_H
#define ONEREC_DRIVER_GENERATIONREQUESTS_H

#include "onerec/Data/Catalog.h"
#include "onerec/Driver/BeamSearch.h"
#include "onerec/Runtime/PlanFile.h"

#include <nlohmann/json.hpp>

#include <string_view>

namespace onerec::driver {

/// How each input of an encoder entry is filled.
class RequestReader {
public:
  RequestReader(const runtime::PlanFile &plan, const plan::Entry &encoder,
                const data::Catalog &catalog);

  /// One request from a JSON object (its "id" is the caller's business).
  runtime::StatusOr<GenerationRequest>
  fromJson(const nlohmann::json &request) const;
  /// A request of a dataset user: the id input gets `user`, the history
  /// input the codes of `items` (the last ones when there are more than it
  /// holds). Any other input is an error naming it.
  runtime::StatusOr<GenerationRequest>
  fromHistory(int64_t user, const int64_t *items, size_t count) const;

private:
  enum class Kind { Id, History, Float, Bool, Integer };
  struct Input {
    std::string name;
    Kind kind;
    runtime::DType dtype;
    runtime::Shape row; // without the batch extent
    int64_t bound = 0;  // ids: below this (0 = any non-negative id)
  };
  runtime::StatusOr<runtime::HostTensor> historyTensor(const Input &input,
                                                       const int64_t *items,
                                                       size_t count,
                                                       bool truncate) const;

  const data::Catalog &catalog_;
  std::vector<Input> inputs_;
  runtime::Status unsupported_;
};

} // namespace onerec::driver

#endif // ONEREC_DRIVER_GENERATIONREQUESTS_H
