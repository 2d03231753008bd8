// SPDX-License-Identifier: Apache-2.0
#include "idforge/random.h"

#include <sys/random.h>

#include <bit>
#include <cerrno>
#include <cstring>

#include "core/fork.h"
#include "idforge/result.h"

namespace idforge {
namespace detail {
namespace {

constexpr int kDoubleRounds = 6;  // ChaCha12.
constexpr std::array<std::uint32_t, 4> kSigma = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};

std::uint32_t load_le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

// One state word of kBlocks blocks side by side, a 32-bit lane each.
constexpr std::size_t kLanes = ChaChaStream::kBlocks;
typedef std::uint32_t Lanes __attribute__((vector_size(4 * kLanes)));

// On x86-64 the block function is built twice and chosen at load time: with AVX2
// the eight lanes are one register; without it, two SSE2 registers. Sanitizer
// builds take the plain one only: the load-time chooser runs before ThreadSanitizer
// is ready and crashes it, and so those builds test the SSE2 path that release
// builds on AVX2 machines skip.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__) && \
    !defined(__SANITIZE_ADDRESS__)
#define IDFORGE_CHACHA_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define IDFORGE_CHACHA_CLONES
#endif

// Lanes pass by reference only: a 32-byte vector passed by value would differ in
// ABI between the AVX2 and the default build (GCC's -Wpsabi).
[[gnu::always_inline]] inline void rotate_left(Lanes& v, int n) { v = (v << n) | (v >> (32 - n)); }

[[gnu::always_inline]] inline void quarter(Lanes& a, Lanes& b, Lanes& c, Lanes& d) {
  a += b; d ^= a; rotate_left(d, 16);
  c += d; b ^= c; rotate_left(b, 12);
  a += b; d ^= a; rotate_left(d, 8);
  c += d; b ^= c; rotate_left(b, 7);
}

// Computes the kBlocks blocks for counters counter, counter + 1, … into
// out[0, 64 · kBlocks).
IDFORGE_CHACHA_CLONES void chacha_blocks(const std::array<std::uint32_t, 8>& key, std::uint64_t counter, std::uint8_t* out) {
  Lanes input[16];
  for (std::size_t w = 0; w < 4; ++w) input[w] = Lanes{} + kSigma[w];
  for (std::size_t w = 0; w < 8; ++w) input[4 + w] = Lanes{} + key[w];
  for (std::uint32_t l = 0; l < kLanes; ++l) {
    input[12][l] = static_cast<std::uint32_t>(counter + l);
    input[13][l] = static_cast<std::uint32_t>((counter + l) >> 32);
  }
  input[14] = Lanes{};
  input[15] = Lanes{};
  Lanes x[16];
  for (std::size_t w = 0; w < 16; ++w) x[w] = input[w];
  for (int round = 0; round < kDoubleRounds; ++round) {
    quarter(x[0], x[4], x[8], x[12]);
    quarter(x[1], x[5], x[9], x[13]);
    quarter(x[2], x[6], x[10], x[14]);
    quarter(x[3], x[7], x[11], x[15]);
    quarter(x[0], x[5], x[10], x[15]);
    quarter(x[1], x[6], x[11], x[12]);
    quarter(x[2], x[7], x[8], x[13]);
    quarter(x[3], x[4], x[9], x[14]);
  }
  for (std::size_t w = 0; w < 16; ++w) {
    Lanes sum = x[w] + input[w];
    if constexpr (std::endian::native == std::endian::big) {
      for (std::size_t l = 0; l < kLanes; ++l) sum[l] = __builtin_bswap32(sum[l]);
    }
    for (std::size_t l = 0; l < kLanes; ++l) {
      const std::uint32_t word = sum[l];
      std::memcpy(out + 64 * l + 4 * w, &word, 4);
    }
  }
}

}  // namespace

void chacha12_block(const std::array<std::uint32_t, 8>& key, std::uint64_t counter,
                    std::array<std::uint8_t, 64>& out) {
  std::uint8_t blocks[ChaChaStream::kBlockBytes * kLanes];
  chacha_blocks(key, counter, blocks);
  std::memcpy(out.data(), blocks, out.size());
}

void ChaChaStream::rekey(std::span<const std::uint8_t, kKeyBytes> key) {
  for (std::size_t w = 0; w < key_.size(); ++w) key_[w] = load_le32(key.data() + 4 * w);
  used_ = buffer_.size();
  produced_ = 0;
}

// Fast key erasure: the first 32 bytes of each refill become the next key and are
// wiped; the key changes with every refill, so the block counter can stay at 0.
void ChaChaStream::refill() {
  chacha_blocks(key_, 0, buffer_.data());
  for (std::size_t w = 0; w < key_.size(); ++w) key_[w] = load_le32(buffer_.data() + 4 * w);
  std::memset(buffer_.data(), 0, kKeyBytes);
  used_ = kKeyBytes;
}

void ChaChaStream::take(std::uint8_t* out, std::size_t n) {
  std::uint8_t* from = buffer_.data() + used_;
  used_ += n;
  if (n >= 8 && n <= 16) {
    // The common sizes (an ID's random part) as two overlapping 8-byte moves,
    // without a call to memcpy and memset.
    std::uint64_t head, tail;
    const std::uint64_t zero = 0;
    std::memcpy(&head, from, 8);
    std::memcpy(&tail, from + n - 8, 8);
    std::memcpy(out, &head, 8);
    std::memcpy(out + n - 8, &tail, 8);
    std::memcpy(from, &zero, 8);
    std::memcpy(from + n - 8, &zero, 8);
    return;
  }
  std::memcpy(out, from, n);
  std::memset(from, 0, n);
}

void ChaChaStream::fill(std::span<std::uint8_t> out) {
  if (out.size() > buffer_.size() - used_) [[unlikely]] return fill_across_refills(out);
  take(out.data(), out.size());
  produced_ += out.size();
}

void ChaChaStream::fill_across_refills(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    if (used_ == buffer_.size()) refill();
    const std::size_t n = std::min(out.size() - done, buffer_.size() - used_);
    take(out.data() + done, n);
    done += n;
  }
  produced_ += out.size();
}

}  // namespace detail

namespace {

constexpr std::uint64_t kReseedBytes = 1 << 20;

// Each thread's stream, and the fork generation (core/fork.h) it was seeded in. A
// child of any kind — fork(), _Fork(), a raw system call — has another
// generation, so it reseeds before its first byte and never repeats its parent.
struct ThreadStream {
  detail::ChaChaStream stream;
  std::uint64_t reseed_at = 0;
  std::uint64_t generation = 0;

  void seed() {
    std::array<std::uint8_t, detail::ChaChaStream::kKeyBytes> key;
    std::size_t got = 0;
    while (got < key.size()) {
      const ssize_t n = ::getrandom(key.data() + got, key.size() - got, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) detail::die("SystemRandom: getrandom() failed; the kernel gives no secure randomness");
      got += static_cast<std::size_t>(n);
    }
    stream.rekey(key);
    std::memset(key.data(), 0, key.size());
    reseed_at = kReseedBytes;
    generation = detail::fork_generation();
  }
};

thread_local ThreadStream t_stream;

}  // namespace

SystemRandom& SystemRandom::instance() {
  static SystemRandom random;
  return random;
}

void SystemRandom::fill(std::span<std::uint8_t> out) {
  ThreadStream& s = t_stream;
  if (s.stream.produced() >= s.reseed_at || s.generation != detail::fork_generation()) [[unlikely]] s.seed();
  s.stream.fill(out);
}

SeededRandom::SeededRandom(std::uint64_t seed) {
  std::array<std::uint8_t, detail::ChaChaStream::kKeyBytes> key{};
  for (std::size_t i = 0; i < 8; ++i) key[i] = static_cast<std::uint8_t>(seed >> (8 * i));
  stream_.rekey(key);
}

}  // namespace idforge
