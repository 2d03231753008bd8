// SPDX-License-Identifier: Apache-2.0
// The randomness source: the ChaCha12 block, determinism of the seeded source, and
// fork safety of the system source.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <vector>

#include "idforge/random.h"
#include "idforge/uuid.h"
#include "support/fork_kinds.h"
#include "support/testdata.h"

namespace idforge {
namespace {

using testing::hex;

TEST(ChaCha12, ZeroKeyBlockMatchesTheReferenceKeystream) {
  // The first 32 bytes of ChaCha12 with an all-zero key, nonce and counter, as the
  // Rust rand crate's ChaCha12 (StdRng::from_seed([0; 32])) and the ChaCha test
  // vectors (Strombergson, TC1, 12 rounds) give them.
  std::array<std::uint8_t, 64> block;
  detail::chacha12_block({}, 0, block);
  EXPECT_EQ(hex(std::span(block).first(32)), "9bf49a6a0755f953811fce125f2683d50429c3bb49e074147e0089a52eae155f");
}

TEST(SeededRandom, SameSeedSameStreamOtherSeedOtherStream) {
  SeededRandom a(7), b(7), c(8);
  std::array<std::uint8_t, 1000> x, y, z;  // Spans several refills.
  a.fill(x);
  b.fill(y);
  c.fill(z);
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
}

TEST(SeededRandom, PiecewiseFillEqualsOneFill) {
  SeededRandom a(3), b(3);
  std::array<std::uint8_t, 700> whole, parts;
  a.fill(whole);
  // Pieces of 1 to 20 bytes: below, inside and above the 8-to-16-byte fast copy,
  // and across refills.
  for (std::size_t at = 0, size = 1; at < parts.size(); at += size, size = size % 20 + 1) {
    b.fill(std::span(parts).subspan(at, std::min(size, parts.size() - at)));
  }
  EXPECT_EQ(whole, parts);
}

TEST(SystemRandom, ManyDrawsAreDistinct) {
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 100'000; ++i) ASSERT_TRUE(seen.insert(SystemRandom::instance().next_u64()).second);
}

// Parent and forked children keep drawing after the fork; no 16-byte value may
// appear twice anywhere. Each child writes its draws to a pipe. Regression: a child
// made by _Fork() or a raw system call repeated its parent's stream.
class SystemRandomFork : public ::testing::TestWithParam<testing::ForkKind> {};

INSTANTIATE_TEST_SUITE_P(EveryKind, SystemRandomFork, ::testing::ValuesIn(testing::kForkKinds),
                         [](const auto& param_info) { return testing::param_name(param_info.param); });

TEST_P(SystemRandomFork, ParentAndChildrenNeverRepeat) {
  constexpr int kChildren = 4;
  constexpr int kDraws = 2000;
  using Draw = std::array<std::uint8_t, 16>;
  Draw before;
  SystemRandom::instance().fill(before);  // The parent's stream exists before the fork.

  std::vector<Draw> all;
  std::vector<pid_t> pids;
  std::vector<int> reads;
  for (int c = 0; c < kChildren; ++c) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = testing::fork_by(GetParam());
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      for (int i = 0; i < kDraws; ++i) {
        Draw d;
        SystemRandom::instance().fill(d);
        if (::write(fds[1], d.data(), d.size()) != static_cast<ssize_t>(d.size())) ::_exit(1);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    pids.push_back(pid);
    reads.push_back(fds[0]);
  }
  for (int i = 0; i < kDraws; ++i) {
    Draw d;
    SystemRandom::instance().fill(d);
    all.push_back(d);
  }
  for (std::size_t c = 0; c < pids.size(); ++c) {
    for (int i = 0; i < kDraws; ++i) {
      Draw d;
      std::size_t got = 0;
      while (got < d.size()) {
        const ssize_t n = ::read(reads[c], d.data() + got, d.size() - got);
        ASSERT_GT(n, 0) << "child " << c << " wrote too little";
        got += static_cast<std::size_t>(n);
      }
      all.push_back(d);
    }
    ::close(reads[c]);
    int status = 0;
    ASSERT_EQ(::waitpid(pids[c], &status, 0), pids[c]);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  all.push_back(before);
  ASSERT_EQ(all.size(), static_cast<std::size_t>((kChildren + 1) * kDraws + 1));
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a value repeated across fork()";
}

}  // namespace
}  // namespace idforge
