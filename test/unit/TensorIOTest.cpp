//===- TensorIOTest.cpp - JSON and safetensors tensor files ---------------===//

#include "onerec/Runtime/TensorIO.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <unistd.h>

using namespace onerec::runtime;

namespace {

const DTypeByName kDTypes = {{"seq", DType::i64},    {"x", DType::f32},
                             {"mask", DType::bool8}, {"h", DType::f16},
                             {"b", DType::bf16},     {"n", DType::i32}};

StatusOr<std::vector<NamedTensor>> parse(const std::string &text) {
  return parseJsonTensors(text, "in.json", kDTypes);
}

std::string error(const std::string &text) {
  auto tensors = parse(text);
  return tensors.isOk() ? std::string() : tensors.status().message();
}

TEST(TensorIO, ReadsNestedListsWithThePlansDTypes) {
  auto tensors = parse(R"({"seq": [[0, 0, 3, 7], [1, 2, 3, 4]], "x": 1.5,
                           "mask": [true, false, 1], "h": [0.5, -2], "b": [[3.0]], "n": [-7]})");
  ASSERT_TRUE(tensors.isOk()) << tensors.status().message();
  ASSERT_EQ(tensors->size(), 6u);
  auto find = [&](const std::string &name) -> const HostTensor & {
    for (const NamedTensor &t : *tensors)
      if (t.name == name)
        return t.tensor;
    ADD_FAILURE() << "no tensor " << name;
    return (*tensors)[0].tensor;
  };
  const HostTensor &seq = find("seq");
  EXPECT_EQ(seq.dtype(), DType::i64);
  EXPECT_EQ(seq.shape(), (Shape{2, 4}));
  EXPECT_EQ(seq.as<int64_t>()[3], 7);
  EXPECT_EQ(find("x").shape().rank, 0);
  EXPECT_EQ(find("x").as<float>()[0], 1.5f);
  EXPECT_EQ(find("mask").as<uint8_t>()[2], 1);
  EXPECT_EQ(elementAsDouble(find("h").view(), 1), -2.0);
  EXPECT_EQ(elementAsDouble(find("b").view(), 0), 3.0);
  EXPECT_EQ(find("n").as<int32_t>()[0], -7);
}

TEST(TensorIO, NamesThePathOfRaggedAndWrongValues) {
  EXPECT_EQ(error(R"({"seq": [[0, 1], [2]]})"),
            "in.json: tensor 'seq'[1]: is ragged: 1 elements where the first "
            "list at this depth "
            "has 2");
  EXPECT_EQ(error(R"({"seq": [[0, 1], [2, 3.5]]})"),
            "in.json: tensor 'seq'[1][1]: 3.5 is not a valid i64 value");
  EXPECT_EQ(error(R"({"seq": [[0, 1], 2]})"),
            "in.json: tensor 'seq'[1]: expected a list of 2 elements (the "
            "shape is [2, 2]), got "
            "number");
  EXPECT_EQ(error(R"({"seq": [0, [1]]})"),
            "in.json: tensor 'seq'[1]: is a list where a number belongs (the "
            "shape is [2])");
  EXPECT_EQ(error(R"({"n": [3000000000]})"),
            "in.json: tensor 'n'[0]: 3000000000 does not fit i32");
  EXPECT_EQ(error(R"({"x": ["a"]})"),
            "in.json: tensor 'x'[0]: expected a number (f32), got string");
  EXPECT_EQ(error(R"({"mask": [2]})"),
            "in.json: tensor 'mask'[0]: 2 does not fit bool");
  EXPECT_EQ(error(R"({"other": 1})"),
            "in.json: unknown tensor 'other' (expected: 'b', 'h', 'mask', 'n', "
            "'seq', 'x')");
  EXPECT_EQ(error("[1]"),
            "in.json: expected an object of named tensors, {\"name\": [...]}");
  EXPECT_EQ(error("{"), "in.json: not valid JSON: line 1, column 2: syntax "
                        "error while parsing object key - unexpected end of "
                        "input; expected string literal");
}

TEST(TensorIO, WritesJsonInShortestForm) {
  HostTensor x(DType::f32, {2, 2});
  float values[] = {0.1f, -2.0f, NAN, INFINITY};
  std::copy(values, values + 4, x.as<float>());
  HostTensor flags(DType::bool8, {2});
  flags.as<uint8_t>()[1] = 1;
  HostTensor scalar(DType::i64, Shape());
  scalar.as<int64_t>()[0] = -3;
  std::vector<NamedTensor> tensors;
  tensors.push_back({"x", std::move(x)});
  tensors.push_back({"flags", std::move(flags)});
  tensors.push_back({"n", std::move(scalar)});
  EXPECT_EQ(formatJsonTensors(tensors),
            "{\"x\": [[0.1, -2], [NaN, Infinity]],\n \"flags\": [false, "
            "true],\n \"n\": -3}\n");
}

TEST(TensorIO, RoundTripsFilesByExtension) {
  HostTensor seq(DType::i64, {1, 3});
  seq.as<int64_t>()[2] = int64_t(1) << 60; // exact, not through double
  std::vector<NamedTensor> tensors;
  tensors.push_back({"seq", std::move(seq)});
  std::string base =
      testing::TempDir() + "/onerec-io-" + std::to_string(getpid());
  for (const char *ext : {".json", ".safetensors"}) {
    std::string path = base + ext;
    ASSERT_TRUE(writeTensorFile(path, tensors).isOk()) << path;
    auto back = readTensorFile(path, kDTypes);
    ASSERT_TRUE(back.isOk()) << back.status().message();
    EXPECT_EQ((*back)[0].tensor.shape(), (Shape{1, 3}));
    EXPECT_EQ((*back)[0].tensor.as<int64_t>()[2], int64_t(1) << 60) << ext;
    std::remove(path.c_str());
  }
  auto unknown = readTensorFile(base + ".npy", kDTypes);
  ASSERT_FALSE(unknown.isOk());
  EXPECT_NE(unknown.status().message().find("name it *.safetensors or *.json"),
            std::string::npos);
}

TEST(TensorIO, ConvertsHalfPrecisionByRoundingToNearest) {
  HostTensor h(DType::f16, {4}), b(DType::bf16, {2});
  double values[] = {1.0 / 3, 65504, 1e-7, 70000};
  for (int i = 0; i < 4; ++i)
    storeElement(h.view(), i, values[i]);
  EXPECT_NEAR(elementAsDouble(h.view(), 0), 1.0 / 3, 1e-4);
  EXPECT_EQ(elementAsDouble(h.view(), 1), 65504);
  EXPECT_NEAR(elementAsDouble(h.view(), 2), 1.19e-7, 1e-8); // subnormal
  EXPECT_TRUE(std::isinf(elementAsDouble(h.view(), 3)));
  storeElement(b.view(), 0, 1.0 + 1.0 / 256); // halfway: ties to even (1.0)
  storeElement(b.view(), 1, -3.0);
  EXPECT_EQ(elementAsDouble(b.view(), 0), 1.0);
  EXPECT_EQ(elementAsDouble(b.view(), 1), -3.0);
}

} // namespace
