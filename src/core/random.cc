#include "idforge/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "core/fork.h"
#include "idforge/result.h"

namespace idforge {
namespace detail {
namespace {

constexpr int kDoubleRounds = 6;  // ChaCha12.
constexpr std::array<std::uint32_t, 4> kSigma = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};

constexpr std::uint32_t rotl(std::uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

std::uint32_t load_le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

void store_le32(std::uint32_t v, std::uint8_t* p) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Computes `Lanes` consecutive blocks for counters counter, counter+1, … into `out`.
// The state is laid out word-major (x[word][lane]) so the compiler runs the lanes
// side by side in vector registers.
template <std::size_t Lanes>
void chacha_blocks(const std::array<std::uint32_t, 8>& key, std::uint64_t counter, std::uint8_t* out) {
  std::uint32_t input[16][Lanes];
  for (std::size_t l = 0; l < Lanes; ++l) {
    for (std::size_t w = 0; w < 4; ++w) input[w][l] = kSigma[w];
    for (std::size_t w = 0; w < 8; ++w) input[4 + w][l] = key[w];
    const std::uint64_t c = counter + l;
    input[12][l] = static_cast<std::uint32_t>(c);
    input[13][l] = static_cast<std::uint32_t>(c >> 32);
    input[14][l] = 0;
    input[15][l] = 0;
  }
  std::uint32_t x[16][Lanes];
  std::memcpy(x, input, sizeof x);
  auto quarter = [&x](int a, int b, int c, int d) {
    for (std::size_t l = 0; l < Lanes; ++l) {
      x[a][l] += x[b][l]; x[d][l] = rotl(x[d][l] ^ x[a][l], 16);
      x[c][l] += x[d][l]; x[b][l] = rotl(x[b][l] ^ x[c][l], 12);
      x[a][l] += x[b][l]; x[d][l] = rotl(x[d][l] ^ x[a][l], 8);
      x[c][l] += x[d][l]; x[b][l] = rotl(x[b][l] ^ x[c][l], 7);
    }
  };
  for (int round = 0; round < kDoubleRounds; ++round) {
    quarter(0, 4, 8, 12);
    quarter(1, 5, 9, 13);
    quarter(2, 6, 10, 14);
    quarter(3, 7, 11, 15);
    quarter(0, 5, 10, 15);
    quarter(1, 6, 11, 12);
    quarter(2, 7, 8, 13);
    quarter(3, 4, 9, 14);
  }
  for (std::size_t l = 0; l < Lanes; ++l) {
    for (std::size_t w = 0; w < 16; ++w) store_le32(x[w][l] + input[w][l], out + 64 * l + 4 * w);
  }
}

}  // namespace

void chacha12_block(const std::array<std::uint32_t, 8>& key, std::uint64_t counter,
                    std::array<std::uint8_t, 64>& out) {
  chacha_blocks<1>(key, counter, out.data());
}

void ChaChaStream::rekey(std::span<const std::uint8_t, kKeyBytes> key) {
  for (std::size_t w = 0; w < key_.size(); ++w) key_[w] = load_le32(key.data() + 4 * w);
  used_ = buffer_.size();
  produced_ = 0;
}

// Fast key erasure: the first 32 bytes of each refill become the next key and are
// wiped; the key changes with every refill, so the block counter can stay at 0.
void ChaChaStream::refill() {
  chacha_blocks<kBlocks>(key_, 0, buffer_.data());
  for (std::size_t w = 0; w < key_.size(); ++w) key_[w] = load_le32(buffer_.data() + 4 * w);
  std::memset(buffer_.data(), 0, kKeyBytes);
  used_ = kKeyBytes;
}

void ChaChaStream::fill(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    if (used_ == buffer_.size()) refill();
    const std::size_t n = std::min(out.size() - done, buffer_.size() - used_);
    std::memcpy(out.data() + done, buffer_.data() + used_, n);
    std::memset(buffer_.data() + used_, 0, n);
    used_ += n;
    done += n;
  }
  produced_ += out.size();
}

}  // namespace detail

namespace {

constexpr std::uint64_t kReseedBytes = 1 << 20;

struct ThreadStream {
  detail::ChaChaStream stream;
  std::uint64_t fork_generation = 0;
  bool seeded = false;

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
    fork_generation = detail::fork_generation();
    seeded = true;
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
  if (!s.seeded || s.fork_generation != detail::fork_generation() || s.stream.produced() >= kReseedBytes)
      [[unlikely]] {
    s.seed();
  }
  s.stream.fill(out);
}

SeededRandom::SeededRandom(std::uint64_t seed) {
  std::array<std::uint8_t, detail::ChaChaStream::kKeyBytes> key{};
  for (std::size_t i = 0; i < 8; ++i) key[i] = static_cast<std::uint8_t>(seed >> (8 * i));
  stream_.rekey(key);
}

}  // namespace idforge
