//===- ImporterTest.cpp - sequence files, logs, splits, bad records -------===//

#include "DataTestUtil.h"

#include <filesystem>

using namespace onerec::data;
using namespace onerec::data::test;

namespace {

std::vector<int32_t> itemsOf(const DatasetContents &c, uint64_t u) {
  return std::vector<int32_t>(c.items.begin() + c.rowOffsets[u],
                              c.items.begin() + c.rowOffsets[u + 1]);
}

StatusOr<DatasetContents>
importText(const TempDir &dir, const std::string &name, const std::string &text,
           ImportReport &report, ImportOptions options = {}) {
  return importFile(dir.write(name, text), options, report);
}

TEST(ImporterTest, SequenceFileDenseIds) {
  TempDir dir;
  ImportReport report;
  // Users out of order, item ids sparse: dense ids follow numeric raw order.
  auto c = importText(dir, "seq.txt", "7 30 10 20\n3 10 40\n\n5 20 20 30 10\n",
                      report);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(report.format, "sequences");
  EXPECT_EQ(report.records, 3u);
  EXPECT_EQ(report.blankLines, 1u);
  EXPECT_EQ(c->userIds, (std::vector<std::string>{"3", "5", "7"}));
  EXPECT_EQ(c->itemIds, (std::vector<std::string>{"10", "20", "30", "40"}));
  EXPECT_EQ(itemsOf(*c, 0), (std::vector<int32_t>{1, 4}));
  EXPECT_EQ(itemsOf(*c, 1), (std::vector<int32_t>{2, 2, 3, 1}));
  EXPECT_EQ(itemsOf(*c, 2), (std::vector<int32_t>{3, 1, 2}));
  EXPECT_TRUE(c->timestamps.empty());
}

TEST(ImporterTest, CsvLogGroupedAndSortedStably) {
  TempDir dir;
  ImportReport report;
  auto c = importText(dir, "log.csv",
                      "user_id,item_id,timestamp,watch_time,title\n"
                      "u2,b,5,1.5,x\n"
                      "u1,a,9,2,\"y, z\"\n"
                      "u1,c,3,0.5,w\n"
                      "u2,a,5,7,v\n"          // same time as the first u2 row
                      "u1,b,3,1,\"q\"\"\"\n", // ties keep file order
                      report);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(report.format, "log");
  EXPECT_EQ(c->userIds, (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(c->itemIds, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(itemsOf(*c, 0), (std::vector<int32_t>{3, 2, 1})); // c@3 b@3 a@9
  EXPECT_EQ(itemsOf(*c, 1), (std::vector<int32_t>{2, 1}));    // b@5 a@5
  EXPECT_EQ(c->timestamps, (std::vector<int64_t>{3, 3, 9, 5, 5}));
  ASSERT_EQ(c->labelNames, (std::vector<std::string>{"watch_time"}));
  EXPECT_EQ(c->labels[0], (std::vector<float>{0.5f, 1, 2, 1.5f, 7}));
}

TEST(ImporterTest, TsvLogWithNamedColumns) {
  TempDir dir;
  ImportReport report;
  ImportOptions options;
  options.userCol = "who";
  options.itemCol = "what";
  options.timeCol = "when";
  options.labelCols = {"like"};
  options.labelColsGiven = true;
  auto c = importText(dir, "log.tsv",
                      "who\twhat\twhen\tlike\n1\t10\t2\t1\n1\t11\t1\t0\n",
                      report, options);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(itemsOf(*c, 0), (std::vector<int32_t>{2, 1}));
  EXPECT_EQ(c->labels[0], (std::vector<float>{0, 1}));
}

TEST(ImporterTest, LeaveOneOutSplit) {
  TempDir dir;
  ImportReport report;
  auto c =
      importText(dir, "seq.txt", "1 1 2 3 4 5\n2 1 2 3\n3 4 5\n4 1\n", report);
  ASSERT_TRUE(c.isOk());
  ASSERT_TRUE(applySplit(*c, SplitPolicy{}).isOk());
  // (trainEnd, validEnd) per user; fewer than 3 items: all train.
  EXPECT_EQ(c->splits, (std::vector<uint32_t>{3, 4, 1, 2, 2, 2, 1, 1}));
  EXPECT_EQ(c->split["policy"], "loo");
  EXPECT_EQ(c->split["short_users"], 2);
  EXPECT_EQ(c->split["counts"]["test_users"], 2);
}

TEST(ImporterTest, TimeSplit) {
  TempDir dir;
  ImportReport report;
  auto c = importText(dir, "log.csv",
                      "user,item,time\n1,1,10\n1,2,20\n1,3,30\n1,4,40\n"
                      "2,1,35\n2,2,50\n3,3,5\n",
                      report);
  ASSERT_TRUE(c.isOk());
  SplitPolicy policy;
  policy.kind = SplitPolicy::Kind::Time;
  policy.validFrom = 30;
  policy.testFrom = 40;
  ASSERT_TRUE(applySplit(*c, policy).isOk());
  EXPECT_EQ(c->splits, (std::vector<uint32_t>{2, 3, 0, 1, 1, 1}));
  // Sequence files have no timestamps.
  auto s = importText(dir, "seq.txt", "1 1 2 3\n", report);
  ASSERT_TRUE(s.isOk());
  Status status = applySplit(*s, policy);
  EXPECT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("needs timestamps"), std::string::npos);
}

struct BadInput {
  const char *name;
  const char *text;
  const char *message;
};

class MalformedInputTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(MalformedInputTest, ErrorNamesFileAndLine) {
  TempDir dir;
  ImportReport report;
  const BadInput &bad = GetParam();
  auto c = importText(dir, bad.name, bad.text, report);
  ASSERT_FALSE(c.isOk());
  std::string expected = dir.file(bad.name) + bad.message;
  EXPECT_NE(c.status().message().find(expected), std::string::npos)
      << c.status().message() << "\nexpected: " << expected;
}

INSTANTIATE_TEST_SUITE_P(
    Importer, MalformedInputTest,
    ::testing::Values(
        BadInput{"seq.txt", "1 2 3\n2 4 x5\n",
                 ":2: field 3: item 'x5' is not a non-negative integer"},
        BadInput{"seq.txt", "1 2 3\nu2 4\n",
                 ":2: field 1: user 'u2' is not a non-negative integer"},
        BadInput{"seq.txt", "1 2 3\n\n7\n", ":3: user '7' has no items"},
        BadInput{"seq.txt", "1 2 3\n1 4 5\n",
                 ":2: user '1' already has a line (1)"},
        BadInput{"seq.txt", "\n\n", ": no valid records"},
        BadInput{"log.csv", "user,item,time\n1,2,3\n1,2\n",
                 ":3: 2 fields, the header has 3"},
        BadInput{"log.csv", "user,item,time\n1,2,3\n1,2,soon\n",
                 ":3: timestamp 'soon' (column 'time') is not an integer"},
        BadInput{"log.csv", "user,item,time,like\n1,2,3,yes\n",
                 ":2: label 'yes' (column 'like') is not a finite number"},
        BadInput{"log.csv", "user,item,time\n1,,3\n",
                 ":2: item '' (column 'item') is empty"},
        BadInput{"log.csv", "user,item,time\n1,\"2,3\n",
                 ":2: unterminated quote"},
        BadInput{"log.csv", "person,item,time\n1,2,3\n",
                 ":1: no user column in the header (person, item, time)"},
        BadInput{"log.csv", "", ": empty (a log needs a header line)"}));

TEST(ImporterTest, NumericIdsForLogsOnRequest) {
  TempDir dir;
  ImportReport report;
  ImportOptions options;
  options.ids = ImportOptions::Ids::Numeric;
  auto c =
      importText(dir, "log.csv", "user,item,time\nu1,2,3\n", report, options);
  ASSERT_FALSE(c.isOk());
  EXPECT_NE(c.status().message().find(
                ":2: user 'u1' (column 'user') is not a non-negative integer"),
            std::string::npos)
      << c.status().message();
}

TEST(ImporterTest, SkipBadCountsAndQuotes) {
  TempDir dir;
  ImportReport report;
  ImportOptions options;
  options.skipBad = true;
  options.maxExamples = 2;
  auto c = importText(dir, "seq.txt",
                      "1 1 2 3\n2 a 3\n3\n4 4 5\n1 9 9\n5 x\n6 6 7\n", report,
                      options);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(report.records, 3u);
  EXPECT_EQ(report.skipped, 4u);
  EXPECT_EQ(report.skippedByReason["non-numeric id"], 2u);
  EXPECT_EQ(report.skippedByReason["user without items"], 1u);
  EXPECT_EQ(report.skippedByReason["duplicate user"], 1u);
  ASSERT_EQ(report.examples.size(), 2u);
  EXPECT_NE(report.examples[0].find("seq.txt:2: "), std::string::npos);
  EXPECT_NE(report.examples[1].find("seq.txt:3: "), std::string::npos);
  EXPECT_EQ(report.summary(), "skipped 4 of 7 records (1 duplicate user, 2 "
                              "non-numeric id, 1 user without items)");
  EXPECT_EQ(c->userIds, (std::vector<std::string>{"1", "4", "6"}));
  EXPECT_EQ(itemsOf(*c, 0), (std::vector<int32_t>{1, 2, 3}));

  ImportReport logReport;
  auto log =
      importText(dir, "log.csv", "user,item,time\n1,2,3\n1,2\n1,3,x\n2,2,4\n",
                 logReport, options);
  ASSERT_TRUE(log.isOk());
  EXPECT_EQ(logReport.records, 2u);
  EXPECT_EQ(logReport.skippedByReason["wrong column count"], 1u);
  EXPECT_EQ(logReport.skippedByReason["bad timestamp"], 1u);
}

TEST(ImporterTest, FailedWriteLeavesNoDirectory) {
  TempDir dir;
  ImportReport report;
  auto c = importText(dir, "seq.txt", "1 1 2 3\n", report);
  ASSERT_TRUE(c.isOk());
  ASSERT_TRUE(applySplit(*c, SplitPolicy{}).isOk());
  WriteOptions options;
  options.outDir = dir.file("out");
  ASSERT_TRUE(writeDataset(*c, options).isOk());
  // A second write without overwrite fails and leaves the first intact.
  Status again = writeDataset(*c, options);
  ASSERT_FALSE(again.isOk());
  EXPECT_NE(again.message().find("already exists"), std::string::npos);
  EXPECT_TRUE(Dataset::open(options.outDir).isOk());
  // An inconsistent dataset is rejected before anything is written.
  c->splits.pop_back();
  options.outDir = dir.file("out2");
  EXPECT_FALSE(writeDataset(*c, options).isOk());
  EXPECT_FALSE(std::filesystem::exists(options.outDir));
  // Overwrite replaces it; no temporary directory is left behind.
  c->splits.push_back(2);
  options.outDir = dir.file("out");
  options.overwrite = true;
  ASSERT_TRUE(writeDataset(*c, options).isOk());
  int entries = 0;
  for (auto &entry : std::filesystem::directory_iterator(dir.file("")))
    entries += entry.path().filename().string()[0] == '.';
  EXPECT_EQ(entries, 0);
}

TEST(ImporterTest, SplitDelimited) {
  std::vector<std::string> fields;
  EXPECT_TRUE(splitDelimited("a,\"b,c\",\"d\"\"e\",", ',', fields));
  EXPECT_EQ(fields, (std::vector<std::string>{"a", "b,c", "d\"e", ""}));
  EXPECT_FALSE(splitDelimited("a,\"b", ',', fields));
}

} // namespace
