//===- TensorIO.h - named tensors in files ----------------------*- C++ -*-===//
//
// Entry inputs and outputs on disk, in one of two formats chosen by the file
// extension:
//
//   .safetensors  any size, any dtype, read by PyTorch and numpy alike
//   .json         small cases: {"seq": [[0, 0, 3, 7]], "mask": [true, false]}
//                 an object of nested lists; the shape is the nesting, the
//                 dtype comes from the plan (reading) or the tensor (writing)
//
// JSON output writes floats in their shortest round-trip form and non-finite
// values as NaN / Infinity / -Infinity (as Python's json module does).
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_TENSORIO_H
#define ONEREC_RUNTIME_TENSORIO_H

#include "onerec/Runtime/HostTensor.h"
#include "onerec/Runtime/Status.h"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace onerec::runtime {

struct NamedTensor {
  std::string name;
  HostTensor tensor;
};

/// The dtype each named tensor should have when read from JSON.
using DTypeByName = std::map<std::string, DType, std::less<>>;

/// Reads every tensor of a .safetensors or .json file. JSON tensors take
/// their dtype from `dtypes`; a name missing there is an error that lists
/// the names expected.
StatusOr<std::vector<NamedTensor>> readTensorFile(const std::string &path,
                                                  const DTypeByName &dtypes);
/// Parses JSON text (see above); `fileName` is used in messages.
StatusOr<std::vector<NamedTensor>> parseJsonTensors(std::string_view text,
                                                    const std::string &fileName,
                                                    const DTypeByName &dtypes);

/// Writes `tensors` to a .safetensors or .json file.
Status writeTensorFile(const std::string &path,
                       const std::vector<NamedTensor> &tensors);
/// The JSON text of `tensors`: one line per tensor, in the given order.
std::string formatJsonTensors(const std::vector<NamedTensor> &tensors);

/// Element `i` of `tensor` as a double (f16 and bf16 widened exactly).
double elementAsDouble(const TensorView &tensor, int64_t i);
/// Stores `value` into element `i` (rounded to nearest for f16 / bf16,
/// truncated toward zero for integers, nonzero -> 1 for bool).
void storeElement(const TensorView &tensor, int64_t i, double value);

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_TENSORIO_H
