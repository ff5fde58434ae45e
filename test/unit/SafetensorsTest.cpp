//===- SafetensorsTest.cpp - the safetensors reader and writer ------------===//

#include "onerec/Runtime/Safetensors.h"
#include "onerec/Runtime/HostTensor.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <unistd.h>

using namespace onerec::runtime;

namespace {

std::string tempPath(const std::string &name) {
  return testing::TempDir() + "/onerec-st-" + std::to_string(getpid()) + "-" +
         name;
}

/// A safetensors file from a header text and `dataBytes` bytes of data.
std::string fileWithHeader(const std::string &header, size_t dataBytes) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<char>(uint64_t(header.size()) >> (8 * i));
  return bytes + header + std::string(dataBytes, '\x01');
}

Status parse(const std::string &bytes) {
  auto file =
      SafetensorsFile::fromBytes(bytes.data(), bytes.size(), "w.safetensors");
  return file.isOk() ? Status::ok() : file.status();
}

void expectCorrupt(const std::string &bytes, const std::string &expected) {
  Status status = parse(bytes);
  ASSERT_FALSE(status.isOk()) << "expected: " << expected;
  EXPECT_NE(status.message().find(expected), std::string::npos)
      << "message: " << status.message() << "\nexpected: " << expected;
}

TEST(Safetensors, RoundTripsEveryDTypeAndMetadata) {
  std::vector<HostTensor> tensors;
  const DType dtypes[] = {DType::f32,   DType::f16, DType::bf16,
                          DType::bool8, DType::i32, DType::i64};
  std::vector<NamedTensorView> views;
  for (DType dtype : dtypes) {
    HostTensor t(dtype, {2, 3});
    for (size_t i = 0; i < t.bytes(); ++i)
      t.data()[i] = std::byte(i * 7 + static_cast<int>(dtype));
    tensors.push_back(std::move(t));
  }
  HostTensor scalar(DType::f32, Shape());
  scalar.as<float>()[0] = 2.5f;
  for (size_t i = 0; i < tensors.size(); ++i)
    views.push_back(
        {std::string("t.") + dtypeName(dtypes[i]), tensors[i].view()});
  views.push_back({"scalar", scalar.view()});
  std::string path = tempPath("roundtrip.safetensors");
  ASSERT_TRUE(
      writeSafetensors(path, views, {{"format", "pt"}, {"step", "12"}}).isOk());

  auto file = SafetensorsFile::open(path);
  ASSERT_TRUE(file.isOk()) << file.status().message();
  EXPECT_EQ((*file)->entries().size(), views.size());
  EXPECT_EQ((*file)->metadata().at("step"), "12");
  for (size_t i = 0; i < tensors.size(); ++i) {
    const SafetensorsEntry *entry = (*file)->find(views[i].name);
    ASSERT_NE(entry, nullptr) << views[i].name;
    EXPECT_EQ(entry->dtype, dtypes[i]);
    EXPECT_EQ(entry->shape, (Shape{2, 3}));
    EXPECT_EQ(std::memcmp((*file)->data(*entry), tensors[i].data(),
                          tensors[i].bytes()),
              0);
  }
  const SafetensorsEntry *s = (*file)->find("scalar");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->shape.rank, 0);
  float value;
  std::memcpy(&value, (*file)->data(*s), 4);
  EXPECT_EQ(value, 2.5f);

  // The data starts 8-byte aligned, as Hugging Face writes it.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  uint64_t headerBytes = 0;
  std::memcpy(&headerBytes, bytes.data(), 8);
  EXPECT_EQ((8 + headerBytes) % 8, 0u);
  std::remove(path.c_str());
}

TEST(Safetensors, RejectsDuplicateNamesWhenWriting) {
  HostTensor t(DType::f32, {1});
  Status status = writeSafetensors(tempPath("dup.safetensors"),
                                   {{"a", t.view()}, {"a", t.view()}});
  EXPECT_EQ(status.code(), Status::Code::InvalidArgument);
}

TEST(Safetensors, RejectsTruncatedFiles) {
  expectCorrupt(
      "abc",
      "w.safetensors: truncated: 3 bytes, a safetensors file has at least 8");
  std::string header =
      R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
  std::string good = fileWithHeader(header, 8);
  EXPECT_TRUE(parse(good).isOk()) << parse(good).message();
  expectCorrupt(good.substr(0, 20), "truncated: the header needs");
  expectCorrupt(good.substr(0, good.size() - 1),
                "tensor 'a' at data bytes [0, 8) lies past the end of the data "
                "(7 bytes)");
}

TEST(Safetensors, RejectsMalformedHeaders) {
  expectCorrupt(fileWithHeader("{not json", 0), "the header is not valid JSON");
  expectCorrupt(fileWithHeader("[1, 2]", 0), "the header is not a JSON object");
  expectCorrupt(fileWithHeader(R"({"a": 3})", 0),
                "tensor 'a': the header entry is not an object");
  expectCorrupt(fileWithHeader(R"({"a": {"dtype": "F32", "shape": [1]}})", 4),
                "tensor 'a': needs \"dtype\", \"shape\" and \"data_offsets\"");
  expectCorrupt(
      fileWithHeader(
          R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
          4),
      "\"shape\" holds something other than a non-negative integer");
  expectCorrupt(
      fileWithHeader(
          R"({"a": {"dtype": "F32", "shape": [1,1,1,1,1,1,1,1,1], "data_offsets": [0, 4]}})",
          4),
      "\"shape\" must be a list of at most 8 extents");
  expectCorrupt(
      fileWithHeader(
          R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", 8),
      "\"data_offsets\" must be [begin, end]");
  expectCorrupt(fileWithHeader(R"({"__metadata__": {"k": 1}})", 0),
                "metadata 'k' is not a string");
}

TEST(Safetensors, RejectsUnsupportedDTypes) {
  Status status = parse(fileWithHeader(
      R"({"a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})", 8));
  EXPECT_EQ(status.code(), Status::Code::Unsupported);
  EXPECT_EQ(status.message(),
            "w.safetensors: tensor 'a': dtype 'F64' is not supported (onerec "
            "reads F32, F16, BF16, I64, I32 and BOOL)");
}

TEST(Safetensors, RejectsByteCountsThatDoNotMatchTheShape) {
  expectCorrupt(
      fileWithHeader(
          R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
          8),
      "tensor 'a': data_offsets [0, 8) hold 8 bytes, but f32[3] needs 12");
  expectCorrupt(
      fileWithHeader(
          R"({"a": {"dtype": "I64", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 8]}})",
          8),
      "the shape's element count overflows");
}

TEST(Safetensors, RejectsOverlapsAndHoles) {
  expectCorrupt(
      fileWithHeader(
          R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                   "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
          8),
      "overlaps the tensor before it");
  expectCorrupt(
      fileWithHeader(
          R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
          8),
      "data bytes [0, 4) before tensor 'a' belong to no tensor");
  expectCorrupt(
      fileWithHeader(
          R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
          8),
      "the last 4 data bytes belong to no tensor");
}

} // namespace
