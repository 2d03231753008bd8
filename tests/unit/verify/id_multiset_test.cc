// SPDX-License-Identifier: Apache-2.0
// IdMultiset and BackgroundMultiset against a plain std::map, on seeded keys with
// planted repeats: in memory, spilled to temporary files, and split again and
// again when one key fills a partition — two threads finishing at once throughout.
#include "id_multiset.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "support/temp_dir.h"

namespace idforge::cli {
namespace {

// Seeded keys, some of them repeated (a few very often), and their true counts.
std::vector<std::uint64_t> keys_with_repeats(std::size_t n, std::map<std::uint64_t, std::uint64_t>& counts) {
  std::mt19937_64 random(7);
  std::vector<std::uint64_t> keys;
  while (keys.size() < n) {
    const std::uint64_t k = random() >> (random() % 40);  // Dense at the bottom, so some collide by chance.
    const int copies = random() % 100 == 0 ? 1 + static_cast<int>(random() % 5) : 1;
    for (int c = 0; c < copies; ++c) keys.push_back(k);
  }
  for (int i = 0; i < 20000; ++i) keys.push_back(42);  // One key repeated many times.
  std::shuffle(keys.begin(), keys.end(), random);
  for (const std::uint64_t k : keys) ++counts[k];
  return keys;
}

std::map<std::uint64_t, std::uint64_t> repeats_of(const std::map<std::uint64_t, std::uint64_t>& counts) {
  std::map<std::uint64_t, std::uint64_t> out;
  for (const auto& [k, c] : counts) {
    if (c > 1) out[k] = c;
  }
  return out;
}

template <typename Set>
std::map<std::uint64_t, std::uint64_t> found_by(Set& set) {
  std::map<std::uint64_t, std::uint64_t> found;
  Result<void> done = set.finish([&](const std::uint64_t& key, std::uint64_t occurrences) -> Result<void> {
    EXPECT_TRUE(found.emplace(key, occurrences).second) << "reported twice: " << key;
    return {};
  });
  EXPECT_TRUE(done) << done.error().message();
  return found;
}

TEST(IdMultiset, FindsEveryRepeatInMemory) {
  testing::TempDir tmp;
  std::map<std::uint64_t, std::uint64_t> counts;
  const std::vector<std::uint64_t> keys = keys_with_repeats(200'000, counts);
  IdMultiset<std::uint64_t> set(std::size_t{64} << 20, tmp.path().string());
  for (const std::uint64_t k : keys) ASSERT_TRUE(set.add(k));
  EXPECT_EQ(found_by(set), repeats_of(counts));
  EXPECT_EQ(set.spilled_bytes(), 0u);
}

TEST(IdMultiset, FindsTheSameWhenSpilledAndSplitDownToTheLastLevel) {
  testing::TempDir tmp;
  std::map<std::uint64_t, std::uint64_t> counts;
  const std::vector<std::uint64_t> keys = keys_with_repeats(200'000, counts);
  // 64 KiB: 32 keys a partition before it spills; every partition file is larger
  // than a third of the budget, so each is split again, and key 42's down to the end.
  IdMultiset<std::uint64_t> set(std::size_t{64} << 10, tmp.path().string());
  for (const std::uint64_t k : keys) ASSERT_TRUE(set.add(k));
  EXPECT_GT(set.spilled_bytes(), keys.size() * 8 - (std::size_t{64} << 10));  // All but the last buffers.
  EXPECT_EQ(found_by(set), repeats_of(counts));
}

TEST(IdMultiset, WideKeysOfDifferentFormatsNeverEqual) {
  testing::TempDir tmp;
  IdMultiset<WideKey> set(std::size_t{64} << 10, tmp.path().string());
  std::mt19937_64 random(11);
  std::map<WideKey, std::uint64_t> counts;
  for (int i = 0; i < 50'000; ++i) {
    WideKey k;
    const std::uint64_t v = random() % 40'000;  // Repeats by chance.
    std::memcpy(k.bytes.data(), &v, sizeof v);
    k.bytes.back() = static_cast<std::uint8_t>(random() % 2);  // Two formats, same bytes.
    ++counts[k];
    ASSERT_TRUE(set.add(k));
  }
  std::map<WideKey, std::uint64_t> expected, found;
  for (const auto& [k, c] : counts) {
    if (c > 1) expected[k] = c;
  }
  ASSERT_TRUE(set.finish([&](const WideKey& k, std::uint64_t c) -> Result<void> {
    found[k] = c;
    return {};
  }));
  EXPECT_EQ(found, expected);
}

TEST(BackgroundMultiset, FeedsFromItsOwnThreadAndFindsTheSame) {
  testing::TempDir tmp;
  std::map<std::uint64_t, std::uint64_t> counts;
  const std::vector<std::uint64_t> keys = keys_with_repeats(300'000, counts);
  for (const std::size_t memory : {std::size_t{64} << 20, std::size_t{256} << 10}) {
    BackgroundMultiset<std::uint64_t> set(memory, tmp.path().string());
    for (const std::uint64_t k : keys) ASSERT_TRUE(set.add(k));
    EXPECT_EQ(found_by(set), repeats_of(counts)) << memory;
  }
}

TEST(BackgroundMultiset, AnErrorOfTheTemporaryFilesReachesTheCaller) {
  // A directory that does not exist: the first spill fails, in the worker.
  BackgroundMultiset<std::uint64_t> set(std::size_t{64} << 10, "/nonexistent/idforge-test");
  Result<void> failed;
  for (std::uint64_t k = 0; k < 1'000'000 && failed; ++k) failed = set.add(k);
  if (failed) failed = set.finish([](const std::uint64_t&, std::uint64_t) -> Result<void> { return {}; });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), Errc::io);
  EXPECT_NE(failed.error().message().find("--tmp-dir '/nonexistent/idforge-test'"), std::string::npos);
}

}  // namespace
}  // namespace idforge::cli
