//===- Importer.cpp - parsing sequence files and interaction logs ---------===//

#include "onerec/Data/Importer.h"

#include "onerec/Runtime/Status.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <unordered_map>

namespace onerec::data {

using Code = Status::Code;
using runtime::printableText;

std::string ImportReport::summary() const {
  std::string text =
      fmt::format("skipped {} of {} records", skipped, skipped + records);
  if (!skippedByReason.empty()) {
    text += " (";
    bool first = true;
    for (const auto &[reason, count] : skippedByReason) {
      text += fmt::format("{}{} {}", first ? "" : ", ", count, reason);
      first = false;
    }
    text += ")";
  }
  return text;
}

bool splitDelimited(const std::string &line, char delimiter,
                    std::vector<std::string> &fields) {
  fields.clear();
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char ch = line[i];
    if (quoted) {
      if (ch == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += ch;
      }
    } else if (ch == '"' && field.empty()) {
      quoted = true;
    } else if (ch == delimiter) {
      fields.push_back(std::move(field));
      field.clear();
    } else {
      field += ch;
    }
  }
  fields.push_back(std::move(field));
  return !quoted;
}

namespace {

bool isNumericId(const std::string &s) {
  return !s.empty() && s.size() <= 18 &&
         std::all_of(s.begin(), s.end(),
                     [](char ch) { return ch >= '0' && ch <= '9'; });
}

/// Control characters (tabs, newlines) would break users.tsv / items.tsv.
bool hasControl(const std::string &s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
  });
}

/// Collects the records of one file and the errors of the bad ones.
class RecordSink {
public:
  RecordSink(const std::string &path, const ImportOptions &options,
             ImportReport &report)
      : path_(path), options_(options), report_(report) {}

  /// Records a bad line: an error to return (when not skipping), or ok.
  Status bad(uint64_t line, const std::string &reason,
             const std::string &message) {
    std::string located =
        fmt::format("{}:{}: {}", path_, line, printableText(message, 300));
    if (!options_.skipBad)
      return Status::error(Code::InvalidArgument,
                           located + " (--skip-bad skips such records)");
    ++report_.skipped;
    ++report_.skippedByReason[reason];
    if (report_.examples.size() < options_.maxExamples)
      report_.examples.push_back(located);
    return Status::ok();
  }

  uint32_t user(const std::string &raw) { return intern(raw, users_, userIds); }
  uint32_t item(const std::string &raw) { return intern(raw, items_, itemIds); }

  std::vector<std::string> userIds, itemIds;

private:
  static uint32_t intern(const std::string &raw,
                         std::unordered_map<std::string, uint32_t> &map,
                         std::vector<std::string> &ids) {
    auto [it, inserted] = map.emplace(raw, static_cast<uint32_t>(ids.size()));
    if (inserted)
      ids.push_back(raw);
    return it->second;
  }

  const std::string &path_;
  const ImportOptions &options_;
  ImportReport &report_;
  std::unordered_map<std::string, uint32_t> users_, items_;
};

struct Row {
  uint32_t user;
  uint32_t item;
  int64_t time;
  uint64_t order; // position in the file, for a stable sort
};

/// Builds dense contents from rows (grouped and sorted here) and the
/// temporary ids of the sink.
DatasetContents buildContents(std::vector<Row> &rows, RecordSink &sink,
                              bool withTime,
                              const std::vector<std::vector<float>> &labels) {
  std::vector<size_t> userOrder = sortedIdOrder(sink.userIds);
  std::vector<size_t> itemOrder = sortedIdOrder(sink.itemIds);
  std::vector<uint32_t> userRank(userOrder.size()), itemRank(itemOrder.size());
  DatasetContents c;
  for (size_t i = 0; i < userOrder.size(); ++i) {
    userRank[userOrder[i]] = static_cast<uint32_t>(i);
    c.userIds.push_back(sink.userIds[userOrder[i]]);
  }
  for (size_t i = 0; i < itemOrder.size(); ++i) {
    itemRank[itemOrder[i]] = static_cast<uint32_t>(i);
    c.itemIds.push_back(sink.itemIds[itemOrder[i]]);
  }
  for (Row &row : rows)
    row.user = userRank[row.user];
  std::stable_sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) {
    if (a.user != b.user)
      return a.user < b.user;
    if (a.time != b.time)
      return a.time < b.time;
    return a.order < b.order;
  });
  c.rowOffsets.assign(c.userIds.size() + 1, 0);
  c.items.reserve(rows.size());
  c.labels.assign(labels.size(), {});
  for (const Row &row : rows) {
    ++c.rowOffsets[row.user + 1];
    c.items.push_back(static_cast<int32_t>(itemRank[row.item] + 1));
    if (withTime)
      c.timestamps.push_back(row.time);
    for (size_t j = 0; j < labels.size(); ++j)
      c.labels[j].push_back(labels[j][row.order]);
  }
  for (size_t u = 0; u < c.userIds.size(); ++u)
    c.rowOffsets[u + 1] += c.rowOffsets[u];
  return c;
}

StatusOr<DatasetContents> importSequences(const std::string &path,
                                          std::ifstream &in,
                                          const ImportOptions &options,
                                          ImportReport &report) {
  report.format = "sequences";
  bool numeric = options.ids != ImportOptions::Ids::String;
  RecordSink sink(path, options, report);
  std::vector<Row> rows;
  std::unordered_map<uint32_t, uint64_t> userLine;
  std::string line;
  std::vector<std::string> tokens;
  uint64_t lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    tokens.clear();
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() &&
             std::isspace(static_cast<unsigned char>(line[i])))
        ++i;
      size_t start = i;
      while (i < line.size() &&
             !std::isspace(static_cast<unsigned char>(line[i])))
        ++i;
      if (i > start)
        tokens.push_back(line.substr(start, i - start));
    }
    if (tokens.empty()) {
      ++report.blankLines;
      continue;
    }
    Status status;
    if (tokens.size() == 1) {
      status = sink.bad(lineNo, "user without items",
                        fmt::format("user '{}' has no items", tokens[0]));
    } else if (auto bad = std::find_if(tokens.begin(), tokens.end(),
                                       [&](const std::string &t) {
                                         return numeric ? !isNumericId(t)
                                                        : hasControl(t);
                                       });
               bad != tokens.end()) {
      size_t index = bad - tokens.begin();
      status = sink.bad(
          lineNo, numeric ? "non-numeric id" : "bad id",
          numeric ? fmt::format("field {}: {} '{}' is not a non-negative "
                                "integer (--ids string accepts any token)",
                                index + 1, index ? "item" : "user", *bad)
                  : fmt::format("field {}: id with a control character",
                                index + 1));
    } else {
      uint32_t user = sink.user(tokens[0]);
      auto [it, inserted] = userLine.emplace(user, lineNo);
      if (!inserted) {
        status = sink.bad(lineNo, "duplicate user",
                          fmt::format("user '{}' already has a line ({})",
                                      tokens[0], it->second));
      } else {
        for (size_t t = 1; t < tokens.size(); ++t)
          rows.push_back(Row{user, sink.item(tokens[t]), 0, rows.size()});
        ++report.records;
        continue;
      }
    }
    if (!status)
      return status;
  }
  report.lines = lineNo;
  // A skipped duplicate user interned nothing new; a skipped first line of a
  // user interned the user: drop users without rows.
  std::vector<bool> hasRows(sink.userIds.size(), false);
  for (const Row &row : rows)
    hasRows[row.user] = true;
  if (std::find(hasRows.begin(), hasRows.end(), false) != hasRows.end()) {
    std::vector<uint32_t> remap(sink.userIds.size());
    std::vector<std::string> kept;
    for (size_t u = 0; u < hasRows.size(); ++u)
      if (hasRows[u]) {
        remap[u] = static_cast<uint32_t>(kept.size());
        kept.push_back(sink.userIds[u]);
      }
    for (Row &row : rows)
      row.user = remap[row.user];
    sink.userIds = std::move(kept);
  }
  DatasetContents c = buildContents(rows, sink, false, {});
  c.source = {{"kind", "sequences"}, {"path", path}};
  return c;
}

std::string lower(std::string s) {
  for (char &ch : s)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

/// The index of the column named by `given`, or of the first header name in
/// `defaults`; -1 when none.
int findColumn(const std::vector<std::string> &header, const std::string &given,
               std::initializer_list<const char *> defaults) {
  for (size_t i = 0; i < header.size(); ++i)
    if (!given.empty() && header[i] == given)
      return static_cast<int>(i);
  if (!given.empty())
    return -1;
  for (const char *name : defaults)
    for (size_t i = 0; i < header.size(); ++i)
      if (lower(header[i]) == name)
        return static_cast<int>(i);
  return -1;
}

StatusOr<DatasetContents> importLog(const std::string &path, std::ifstream &in,
                                    const ImportOptions &options,
                                    ImportReport &report) {
  report.format = "log";
  bool numeric = options.ids == ImportOptions::Ids::Numeric;
  std::string line;
  if (!std::getline(in, line))
    return Status::error(
        Code::InvalidArgument,
        fmt::format("{}: empty (a log needs a header line)", path));
  if (!line.empty() && line.back() == '\r')
    line.pop_back();
  char delimiter = options.delimiter
                       ? options.delimiter
                       : (line.find('\t') != std::string::npos ? '\t' : ',');
  std::vector<std::string> header;
  if (!splitDelimited(line, delimiter, header))
    return Status::error(
        Code::InvalidArgument,
        fmt::format("{}:1: unterminated quote in the header", path));
  std::string headerText;
  for (const std::string &h : header)
    headerText += (headerText.empty() ? "" : ", ") + h;
  headerText = printableText(headerText, 200);
  auto missing = [&](const char *what, const std::string &given,
                     const char *flag) {
    return Status::error(
        Code::InvalidArgument,
        given.empty()
            ? fmt::format("{}:1: no {} column in the header ({}); name it "
                          "with {}",
                          path, what, headerText, flag)
            : fmt::format("{}:1: no column '{}' ({}) in the header ({})", path,
                          given, flag, headerText));
  };
  int userCol = findColumn(header, options.userCol,
                           {"user", "user_id", "userid", "uid", "reviewerid",
                            "visitorid", "session_id"});
  if (userCol < 0)
    return missing("user", options.userCol, "--user-col");
  int itemCol = findColumn(header, options.itemCol,
                           {"item", "item_id", "itemid", "iid", "movie_id",
                            "movieid", "product_id", "asin", "video_id"});
  if (itemCol < 0)
    return missing("item", options.itemCol, "--item-col");
  int timeCol = findColumn(header, options.timeCol,
                           {"timestamp", "time", "ts", "unixreviewtime",
                            "time_ms", "datetime", "date"});
  if (timeCol < 0)
    return missing("timestamp", options.timeCol, "--time-col");
  std::vector<int> labelCols;
  std::vector<std::string> labelNames;
  if (options.labelColsGiven) {
    for (const std::string &name : options.labelCols) {
      int col = findColumn(header, name, {});
      if (col < 0)
        return missing("label", name, "--label-cols");
      labelCols.push_back(col);
    }
  } else {
    for (const char *name : {"label", "like", "is_like", "click", "is_click",
                             "rating", "watch_time", "play_time", "long_view",
                             "follow", "comment", "forward"})
      for (size_t i = 0; i < header.size(); ++i)
        if (lower(header[i]) == name && int(i) != userCol &&
            int(i) != itemCol && int(i) != timeCol)
          labelCols.push_back(static_cast<int>(i));
  }
  for (int col : labelCols) {
    std::string name = header[col];
    if (name.empty() || hasControl(name) || name == "item" ||
        name == "timestamp" ||
        std::find(labelNames.begin(), labelNames.end(), name) !=
            labelNames.end())
      return Status::error(Code::InvalidArgument,
                           fmt::format("{}:1: label column name '{}' is empty, "
                                       "reserved or repeated",
                                       path, printableText(name, 80)));
    labelNames.push_back(name);
  }

  RecordSink sink(path, options, report);
  std::vector<Row> rows;
  std::vector<std::vector<float>> labels(labelCols.size());
  std::vector<std::string> fields;
  uint64_t lineNo = 1;
  while (std::getline(in, line)) {
    ++lineNo;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      ++report.blankLines;
      continue;
    }
    Status status;
    if (!splitDelimited(line, delimiter, fields)) {
      status = sink.bad(lineNo, "unterminated quote", "unterminated quote");
    } else if (fields.size() != header.size()) {
      status = sink.bad(lineNo, "wrong column count",
                        fmt::format("{} fields, the header has {}",
                                    fields.size(), header.size()));
    } else {
      const std::string &user = fields[userCol], &item = fields[itemCol];
      const std::string &time = fields[timeCol];
      errno = 0;
      char *end = nullptr;
      long long ts = std::strtoll(time.c_str(), &end, 10);
      bool timeOk =
          !time.empty() && end == time.c_str() + time.size() && errno == 0;
      std::vector<float> values;
      int badLabel = -1;
      for (size_t j = 0; j < labelCols.size() && badLabel < 0; ++j) {
        const std::string &text = fields[labelCols[j]];
        char *lend = nullptr;
        float v = std::strtof(text.c_str(), &lend);
        if (text.empty() || lend != text.c_str() + text.size() ||
            !std::isfinite(v))
          badLabel = static_cast<int>(j);
        values.push_back(v);
      }
      auto badId = [&](const std::string &id) {
        return id.empty() || hasControl(id) || (numeric && !isNumericId(id));
      };
      if (badId(user) || badId(item)) {
        bool isUser = badId(user);
        const std::string &id = isUser ? user : item;
        status = sink.bad(
            lineNo, numeric ? "non-numeric id" : "bad id",
            fmt::format("{} '{}' (column '{}') is {}", isUser ? "user" : "item",
                        id, header[isUser ? userCol : itemCol],
                        id.empty() ? "empty"
                        : numeric && !hasControl(id)
                            ? "not a non-negative integer (--ids numeric)"
                            : "not a valid id (control character)"));
      } else if (!timeOk) {
        status = sink.bad(lineNo, "bad timestamp",
                          fmt::format("timestamp '{}' (column '{}') is not an "
                                      "integer",
                                      time, header[timeCol]));
      } else if (badLabel >= 0) {
        status = sink.bad(lineNo, "bad label",
                          fmt::format("label '{}' (column '{}') is not a "
                                      "finite number",
                                      fields[labelCols[badLabel]],
                                      labelNames[badLabel]));
      } else {
        rows.push_back(Row{sink.user(user), sink.item(item), ts, rows.size()});
        for (size_t j = 0; j < values.size(); ++j)
          labels[j].push_back(values[j]);
        ++report.records;
        continue;
      }
    }
    if (!status)
      return status;
  }
  report.lines = lineNo;
  DatasetContents c = buildContents(rows, sink, true, labels);
  c.labelNames = labelNames;
  c.source = {{"kind", "log"},
              {"path", path},
              {"user_col", header[userCol]},
              {"item_col", header[itemCol]},
              {"time_col", header[timeCol]}};
  return c;
}

} // namespace

StatusOr<DatasetContents> importFile(const std::string &path,
                                     const ImportOptions &options,
                                     ImportReport &report) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error(
        Code::NotFound,
        fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  ImportOptions::Format format = options.format;
  if (format == ImportOptions::Format::Auto) {
    std::string ext =
        lower(path.size() >= 4 ? path.substr(path.size() - 4) : "");
    format = ext == ".csv" || ext == ".tsv" ? ImportOptions::Format::Log
                                            : ImportOptions::Format::Sequences;
  }
  StatusOr<DatasetContents> contents =
      format == ImportOptions::Format::Log
          ? importLog(path, in, options, report)
          : importSequences(path, in, options, report);
  if (contents && in.bad())
    return Status::error(Code::IoError, fmt::format("{}: read error", path));
  if (contents && contents->items.empty())
    return Status::error(
        Code::InvalidArgument,
        fmt::format("{}: no valid records ({})", path, report.summary()));
  if (contents && contents->itemIds.size() > INT32_MAX)
    return Status::error(Code::Unsupported,
                         fmt::format("{}: more than 2^31-1 items", path));
  return contents;
}

} // namespace onerec::data
