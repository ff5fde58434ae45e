//===- Importer.h - sequence files and interaction logs to datasets -*- C++
//-*-===//
//
// Two input formats become one DatasetContents:
//  - sequence files, one user per line: `user item item ...` (whitespace
//    separated, chronological), as the S3-Rec / SASRec files;
//  - interaction logs, CSV or TSV with a header: a user, an item and a
//    timestamp column, optional numeric label columns; rows are grouped per
//    user and stably sorted by timestamp.
// Raw ids become dense ids: users 0..U-1, items 1..N (0 is padding), both in
// raw-id order (numeric when every id is an integer). A bad record is an
// error naming the file and line, or, with skipBad, is skipped and counted.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DATA_IMPORTER_H
#define ONEREC_DATA_IMPORTER_H

#include "onerec/Data/DatasetWriter.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace onerec::data {

struct ImportOptions {
  enum class Format { Auto, Sequences, Log };
  /// Auto: .csv and .tsv files are logs, anything else a sequence file.
  Format format = Format::Auto;
  enum class Ids { Auto, Numeric, String };
  /// Auto: numeric ids for sequence files, any token for logs.
  Ids ids = Ids::Auto;
  /// Skip bad records (and count them) instead of failing on the first.
  bool skipBad = false;
  /// Log columns by header name; empty picks by common names (user, user_id,
  /// ...). labelCols empty with labelColsGiven false picks known label names
  /// (label, like, click, rating, watch_time, ...) present in the header.
  std::string userCol, itemCol, timeCol;
  std::vector<std::string> labelCols;
  bool labelColsGiven = false;
  /// 0: a tab if the header has one, else a comma.
  char delimiter = 0;
  /// How many skipped records the report quotes.
  size_t maxExamples = 5;
};

struct ImportReport {
  std::string format;   // "sequences" or "log"
  uint64_t lines = 0;   // lines read, header included
  uint64_t records = 0; // records kept
  uint64_t skipped = 0;
  uint64_t blankLines = 0;
  std::map<std::string, uint64_t> skippedByReason;
  std::vector<std::string> examples; // "file:line: message"

  /// "skipped 3 of 120 records (2 non-numeric id, 1 user without items)".
  std::string summary() const;
};

/// Reads `path` into dense contents (no split applied yet).
StatusOr<DatasetContents> importFile(const std::string &path,
                                     const ImportOptions &options,
                                     ImportReport &report);

/// Splits a log line on `delimiter`, honouring double quotes ("a,b", "" for
/// a quote). Returns false on an unterminated quote.
bool splitDelimited(const std::string &line, char delimiter,
                    std::vector<std::string> &fields);

} // namespace onerec::data

#endif // ONEREC_DATA_IMPORTER_H
