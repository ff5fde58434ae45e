//===- CatalogTest.cpp - the catalog, its trie, its file, history codes ---===//

#include "DataTestUtil.h"

#include "onerec/Data/Catalog.h"
#include "onerec/Runtime/Safetensors.h"

#include <cstring>

using namespace onerec::data;
using namespace onerec::data::test;
using onerec::runtime::DType;
using onerec::runtime::NamedTensorView;
using onerec::runtime::Shape;
using onerec::runtime::TensorView;

namespace {

/// Five items, two levels, codebook 4:
///   item 10 (1, 2), 11 (0, 3), 12 (1, 0), 13 (3, 3), 14 (0, 1).
Catalog smallCatalog() {
  auto c = Catalog::fromCodes(2, 4, {10, 11, 12, 13, 14},
                              {1, 2, 0, 3, 1, 0, 3, 3, 0, 1});
  EXPECT_TRUE(c.isOk()) << c.status().toString();
  return std::move(c).value();
}

TEST(CatalogTest, TrieIsBfsCsrSortedByCode) {
  Catalog c = smallCatalog();
  EXPECT_EQ(c.levels(), 2);
  EXPECT_EQ(c.codebook(), 4);
  EXPECT_EQ(c.size(), 5u);
  // Root -> codes 0, 1, 3 (nodes 1, 2, 3); node 1 -> 1, 3; node 2 -> 0, 2;
  // node 3 -> 3. Leaves 4..8 in BFS (= code) order.
  EXPECT_EQ(c.nodes(), 9u);
  EXPECT_EQ(std::vector<int32_t>(c.childCodes().begin() + c.childBegin(0),
                                 c.childCodes().begin() + c.childEnd(0)),
            (std::vector<int32_t>{0, 1, 3}));
  EXPECT_EQ(c.childCodes(), (std::vector<int32_t>{0, 1, 3, 1, 3, 0, 2, 3}));
  EXPECT_EQ(c.childNodes(), (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(c.child(Catalog::kRoot, 1), 2);
  EXPECT_EQ(c.child(Catalog::kRoot, 2), -1);
  EXPECT_EQ(c.child(2, 2), 7);
  EXPECT_EQ(c.child(99, 0), -1);
  EXPECT_EQ(c.child(-1, 0), -1);
  // Walking each item's codes reaches the leaf of its row.
  for (size_t row = 0; row < c.size(); ++row) {
    int32_t node = Catalog::kRoot;
    for (int64_t l = 0; l < c.levels(); ++l) {
      EXPECT_EQ(c.leafRow(node), -1);
      node = c.child(node, c.codes(row)[l]);
      ASSERT_GE(node, 0);
    }
    EXPECT_EQ(c.leafRow(node), static_cast<int64_t>(row));
    EXPECT_EQ(c.childBegin(node), c.childEnd(node));
  }
  EXPECT_EQ(c.leafRow(8), 3); // (3, 3) is item 13, row 3
  EXPECT_EQ(c.leafRow(100), -1);
  EXPECT_EQ(c.rowOf(12), std::optional<size_t>(2));
  EXPECT_EQ(c.rowOf(99), std::nullopt);
  EXPECT_EQ(c.itemId(4), 14);
}

TEST(CatalogTest, FromCodesErrors) {
  auto bad = [](int64_t levels, int64_t codebook, std::vector<int64_t> ids,
                std::vector<int32_t> codes) {
    auto c = Catalog::fromCodes(levels, codebook, ids, codes);
    EXPECT_FALSE(c.isOk());
    return c.isOk() ? std::string() : c.status().message();
  };
  EXPECT_NE(bad(2, 4, {1, 2}, {0, 1, 2}).find("3 codes, 2 items x 2 levels"),
            std::string::npos);
  EXPECT_NE(bad(2, 4, {1, 2}, {0, 1, 2, 4}).find("code 4 at level 1"),
            std::string::npos);
  EXPECT_NE(bad(2, 4, {1, 2}, {0, -1, 2, 3}).find("code -1 at level 1"),
            std::string::npos);
  EXPECT_NE(bad(2, 4, {7, 7}, {0, 1, 2, 3}).find("item 7 is in rows 0 and 1"),
            std::string::npos);
  EXPECT_NE(bad(2, 4, {1, 2, 3}, {0, 1, 2, 3, 0, 1})
                .find("items 1 and 3 (rows 0 and 2) share the semantic ID "
                      "(0, 1)"),
            std::string::npos);
  EXPECT_NE(bad(0, 4, {1}, {}).find("levels 0"), std::string::npos);
  EXPECT_NE(bad(1, 0, {1}, {0}).find("codebook size 0"), std::string::npos);
  EXPECT_NE(bad(1, 4, {}, {}).find("needs an item"), std::string::npos);
}

TEST(CatalogTest, SaveLoadRoundTrip) {
  TempDir dir;
  Catalog c = smallCatalog();
  std::vector<std::vector<float>> books = {{0, 1, 2, 3, 4, 5, 6, 7},
                                           {8, 9, 10, 11, 12, 13, 14, 15}};
  std::string path = dir.file("catalog.safetensors");
  ASSERT_TRUE(c.save(path, books, 2, {{"stats", R"({"loss": 0.5})"}}).isOk());
  auto loaded = Catalog::load(path);
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  EXPECT_EQ(loaded->levels(), 2);
  EXPECT_EQ(loaded->codebook(), 4);
  ASSERT_EQ(loaded->size(), c.size());
  for (size_t row = 0; row < c.size(); ++row) {
    EXPECT_EQ(loaded->itemId(row), c.itemId(row));
    EXPECT_EQ(loaded->codes(row)[0], c.codes(row)[0]);
    EXPECT_EQ(loaded->codes(row)[1], c.codes(row)[1]);
  }
  EXPECT_EQ(loaded->childCodes(), c.childCodes());
  EXPECT_EQ(loaded->childNodes(), c.childNodes());
  EXPECT_EQ(loaded->codebooks(), books);
  EXPECT_EQ(loaded->codebookDim(), 2);
  EXPECT_EQ(loaded->stats(), R"({"loss": 0.5})");
  // Without codebooks.
  ASSERT_TRUE(c.save(path).isOk());
  loaded = Catalog::load(path);
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  EXPECT_TRUE(loaded->codebooks().empty());
  EXPECT_EQ(loaded->stats(), "");
  // Bad arguments to save.
  EXPECT_FALSE(c.save(path, {{1, 2}}, 2).isOk());
  EXPECT_FALSE(c.save(path, {}, 0, {{"format", "x"}}).isOk());
}

/// Writes a catalog file by hand, each part overridable.
struct CatalogParts {
  std::vector<int64_t> ids = {10, 11, 12, 13, 14};
  std::vector<int32_t> codes = {1, 2, 0, 3, 1, 0, 3, 3, 0, 1};
  DType codesDType = DType::i32;
  std::vector<int64_t> offsets = {0, 3, 5, 7, 8, 8, 8, 8, 8, 8};
  std::vector<int32_t> edgeCodes = {0, 1, 3, 1, 3, 0, 2, 3};
  std::vector<int32_t> edgeNodes = {1, 2, 3, 4, 5, 6, 7, 8};
  std::map<std::string, std::string> meta = {{"format", "onerec-catalog"},
                                             {"version", "1"},
                                             {"levels", "2"},
                                             {"codebook", "4"}};

  std::string write(const TempDir &dir) const {
    std::string path = dir.file("hand.safetensors");
    int64_t n = static_cast<int64_t>(ids.size());
    auto view = [](DType t, Shape s, const void *d) {
      return TensorView{t, s, const_cast<void *>(d)};
    };
    std::vector<NamedTensorView> tensors = {
        {"item_ids", view(DType::i64, Shape{n}, ids.data())},
        {"codes", view(codesDType, Shape{n, 2}, codes.data())},
        {"trie.offsets",
         view(DType::i64, Shape{static_cast<int64_t>(offsets.size())},
              offsets.data())},
        {"trie.codes",
         view(DType::i32, Shape{static_cast<int64_t>(edgeCodes.size())},
              edgeCodes.data())},
        {"trie.children",
         view(DType::i32, Shape{static_cast<int64_t>(edgeNodes.size())},
              edgeNodes.data())}};
    EXPECT_TRUE(writeSafetensors(path, tensors, meta).isOk());
    return path;
  }
};

std::string loadError(const std::string &path) {
  auto c = Catalog::load(path);
  EXPECT_FALSE(c.isOk()) << path << " loaded";
  return c.isOk() ? std::string() : c.status().message();
}

#define EXPECT_HAS(text, part)                                                 \
  EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(CatalogTest, CorruptFiles) {
  TempDir dir;
  CatalogParts good;
  std::string path = good.write(dir);
  ASSERT_TRUE(Catalog::load(path).isOk()) << loadError(path);

  // Truncated at every length: an error, never a crash.
  std::string bytes = readBytes(path);
  std::string cut = dir.file("cut.safetensors");
  for (size_t n = 0; n < bytes.size(); n += 7) {
    writeBytes(cut, bytes.substr(0, n));
    std::string e = loadError(cut);
    EXPECT_HAS(e, cut);
  }
  EXPECT_HAS(loadError(dir.file("missing.safetensors")), "missing");

  CatalogParts p = good;
  p.codesDType = DType::f32;
  EXPECT_HAS(loadError(p.write(dir)),
             "tensor 'codes' is F32 [5, 2], expected I32 of rank 2");
  p = good;
  p.codes[9] = 3; // item 14 (0, 3) = item 11
  EXPECT_HAS(loadError(p.write(dir)), "items 11 and 14 (rows 1 and 4) share");
  p = good;
  p.codes[0] = 4;
  EXPECT_HAS(loadError(p.write(dir)), "code 4 at level 0 is not in 0..3");
  p = good;
  p.ids[3] = 10;
  EXPECT_HAS(loadError(p.write(dir)), "item 10 is in rows 0 and 3");
  p = good;
  std::swap(p.edgeNodes[3], p.edgeNodes[4]);
  EXPECT_HAS(loadError(p.write(dir)),
             "trie.children does not match the trie of the code table "
             "(element 3: 5, expected 4)");
  p = good;
  p.offsets.pop_back();
  EXPECT_HAS(loadError(p.write(dir)),
             "trie.offsets has 9 elements, the trie of the code table has 10");
  p = good;
  p.edgeCodes[0] = 2;
  EXPECT_HAS(loadError(p.write(dir)), "trie.codes does not match");
  p = good;
  p.meta["format"] = "pt";
  EXPECT_HAS(loadError(p.write(dir)), "not a catalog (metadata format is 'pt'");
  p = good;
  p.meta["version"] = "2";
  EXPECT_HAS(loadError(p.write(dir)), "catalog version '2' is not supported");
  p = good;
  p.meta["levels"] = "3";
  EXPECT_HAS(loadError(p.write(dir)),
             "tensor 'codes' is [5, 2], expected [5, 3]");
  p = good;
  p.meta["codebook"] = "x";
  EXPECT_HAS(loadError(p.write(dir)), "metadata 'codebook' is missing");
}

TEST(CatalogTest, EveryFlippedByteLoadsOrFails) {
  // Each byte of a saved catalog XOR 0x5a in turn: load() either succeeds
  // (a flip in padding, or one that keeps every check true: then the trie
  // still matches the table) or fails naming the file; it never crashes.
  TempDir dir;
  Catalog c = smallCatalog();
  std::string path = dir.file("c.safetensors");
  ASSERT_TRUE(
      c.save(path, {std::vector<float>(8), std::vector<float>(8)}, 2).isOk());
  std::string bytes = readBytes(path);
  std::string flipped = dir.file("flipped.safetensors");
  int failures = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string copy = bytes;
    copy[i] = static_cast<char>(copy[i] ^ 0x5a);
    writeBytes(flipped, copy);
    auto loaded = Catalog::load(flipped);
    if (!loaded) {
      ++failures;
      EXPECT_HAS(loaded.status().message(), flipped);
      continue;
    }
    // What loads is consistent: every row's codes walk to its own leaf.
    for (size_t row = 0; row < loaded->size(); ++row) {
      int32_t node = Catalog::kRoot;
      for (int64_t l = 0; l < loaded->levels(); ++l)
        node = loaded->child(node, loaded->codes(row)[l]);
      EXPECT_EQ(loaded->leafRow(node), static_cast<int64_t>(row)) << i;
    }
  }
  // The header, ids, codes and trie are all checked.
  EXPECT_GT(failures, static_cast<int>(bytes.size() / 2));
}

TEST(CatalogTest, CorruptCodebooks) {
  TempDir dir;
  Catalog c = smallCatalog();
  std::string path = dir.file("c.safetensors");
  ASSERT_TRUE(
      c.save(path, {std::vector<float>(8), std::vector<float>(8)}, 2).isOk());
  auto file = onerec::runtime::SafetensorsFile::open(path);
  ASSERT_TRUE(file.isOk());
  // Rewrite with codebook.1 dropped, then with an extra tensor.
  std::vector<NamedTensorView> tensors;
  for (const auto &e : (*file)->entries())
    if (e.name != "codebook.1")
      tensors.push_back(
          {e.name, TensorView{e.dtype, e.shape,
                              const_cast<std::byte *>((*file)->data(e))}});
  std::string dropped = dir.file("dropped.safetensors");
  ASSERT_TRUE(writeSafetensors(dropped, tensors, (*file)->metadata()).isOk());
  EXPECT_HAS(loadError(dropped), "has codebook.0 but no 'codebook.1'");
  tensors.push_back({"codebook.1", tensors.back().view});
  tensors.push_back({"extra", tensors.back().view});
  std::string extra = dir.file("extra.safetensors");
  ASSERT_TRUE(writeSafetensors(extra, tensors, (*file)->metadata()).isOk());
  EXPECT_HAS(loadError(extra), "unexpected tensor 'extra'");
}

TEST(CatalogTest, FillHistoryCodes) {
  Catalog c = smallCatalog();
  std::vector<int64_t> out(4 * 2, -7);
  int64_t history[] = {12, 10};
  ASSERT_TRUE(fillHistoryCodes(c, history, 2, 4, false, out.data()).isOk());
  // Right-aligned, padding 0: _, _, item 12 (1, 0), item 10 (1, 2).
  EXPECT_EQ(out, (std::vector<int64_t>{0, 0, 0, 0, 1, 0, 1, 2}));

  int64_t longer[] = {13, 11, 14, 12, 10};
  auto s = fillHistoryCodes(c, longer, 5, 4, false, out.data());
  ASSERT_FALSE(s.isOk());
  EXPECT_HAS(s.message(), "a history of 5 items does not fit in 4 slots");
  ASSERT_TRUE(fillHistoryCodes(c, longer, 5, 4, true, out.data()).isOk());
  EXPECT_EQ(out, (std::vector<int64_t>{0, 3, 0, 1, 1, 0, 1, 2}));

  // An unknown item is an error; one truncated away is not looked at.
  int64_t unknown[] = {99, 12, 10};
  s = fillHistoryCodes(c, unknown, 3, 3, false, out.data());
  ASSERT_FALSE(s.isOk());
  EXPECT_HAS(s.message(), "item 99 (history position 0) is not in the catalog");
  EXPECT_TRUE(fillHistoryCodes(c, unknown, 3, 2, true, out.data()).isOk());

  // An empty history is all padding.
  std::fill(out.begin(), out.end(), -7);
  ASSERT_TRUE(fillHistoryCodes(c, nullptr, 0, 4, false, out.data()).isOk());
  EXPECT_EQ(out, std::vector<int64_t>(8, 0));
}

} // namespace
