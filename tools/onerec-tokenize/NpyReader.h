//===- NpyReader.h - 2-D float matrices from numpy .npy files ---*- C++ -*-===//
//
// numpy's own format (numpy.lib.format, versions 1 to 3):
//
//   "\x93NUMPY" | major | minor | header length (u16, or u32 from 2.0) |
//   a Python dict literal {'descr': '<f4', 'fortran_order': False,
//   'shape': (N, D), } padded with spaces | N * D elements, C order
//
// onerec-tokenize reads embeddings this way: little-endian float32 or
// float64 (converted to float32), C order, rank 2. Anything else is an
// error that names the file and says what was found.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_TOOLS_NPYREADER_H
#define ONEREC_TOOLS_NPYREADER_H

#include "onerec/Runtime/Status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace onerec::tools {

struct FloatMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> values; // rows * cols, row-major
};

/// Reads `path` (see above).
runtime::StatusOr<FloatMatrix> readNpyMatrix(const std::string &path);
/// The same from bytes in memory; `name` stands in for the file name.
runtime::StatusOr<FloatMatrix> parseNpyMatrix(std::string_view bytes,
                                              const std::string &name);

} // namespace onerec::tools

#endif // ONEREC_TOOLS_NPYREADER_H
