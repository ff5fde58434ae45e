//===- DataTestUtil.h - temporary files and datasets for data tests -*- C++
//-*-===//
#ifndef ONEREC_TEST_DATATESTUTIL_H
#define ONEREC_TEST_DATATESTUTIL_H

#include "onerec/Data/Dataset.h"
#include "onerec/Data/DatasetWriter.h"
#include "onerec/Data/Importer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace onerec::data::test {

/// A fresh directory under the system temp dir, removed at the end.
class TempDir {
public:
  TempDir() {
    const ::testing::TestInfo *info =
        ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (std::string("onerec-data-") + info->test_suite_name() + "-" +
             info->name() + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string &name) const {
    return (path_ / name).string();
  }
  std::string write(const std::string &name, const std::string &text) const {
    std::ofstream out(file(name), std::ios::binary);
    out << text;
    return file(name);
  }

private:
  std::filesystem::path path_;
};

inline std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

/// Imports `text` (a sequence file, or a log when `name` ends in .csv/.tsv),
/// splits it and writes it to `dir`/`out`; fails the test on an error.
inline std::string makeDataset(const TempDir &dir, const std::string &name,
                               const std::string &text,
                               SplitPolicy split = SplitPolicy{},
                               uint64_t shardUsers = 8192,
                               const std::string &out = "ds") {
  ImportReport report;
  auto contents = importFile(dir.write(name, text), ImportOptions{}, report);
  EXPECT_TRUE(contents.isOk()) << contents.status().toString();
  if (!contents)
    return "";
  Status s = applySplit(*contents, split);
  EXPECT_TRUE(s.isOk()) << s.toString();
  WriteOptions options;
  options.outDir = dir.file(out);
  options.shardUsers = shardUsers;
  s = writeDataset(*contents, options);
  EXPECT_TRUE(s.isOk()) << s.toString();
  return options.outDir;
}

} // namespace onerec::data::test

#endif // ONEREC_TEST_DATATESTUTIL_H
