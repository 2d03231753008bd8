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

std::uint32_t load_le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

void store_le32(std::uint32_t v, std::uint8_t* p) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Four 32-bit lanes: one state word of four blocks side by side (SSE2 on x86-64).
typedef std::uint32_t Lanes __attribute__((vector_size(16)));

inline Lanes rotl(Lanes v, int n) { return (v << n) | (v >> (32 - n)); }

inline void quarter(Lanes& a, Lanes& b, Lanes& c, Lanes& d) {
  a += b; d = rotl(d ^ a, 16);
  c += d; b = rotl(b ^ c, 12);
  a += b; d = rotl(d ^ a, 8);
  c += d; b = rotl(b ^ c, 7);
}

// Computes the four blocks for counters counter .. counter+3 into out[0, 256).
void chacha_blocks4(const std::array<std::uint32_t, 8>& key, std::uint64_t counter, std::uint8_t* out) {
  Lanes input[16];
  for (std::size_t w = 0; w < 4; ++w) input[w] = Lanes{} + kSigma[w];
  for (std::size_t w = 0; w < 8; ++w) input[4 + w] = Lanes{} + key[w];
  for (std::uint32_t l = 0; l < 4; ++l) {
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
    const Lanes sum = x[w] + input[w];
    for (std::size_t l = 0; l < 4; ++l) store_le32(sum[l], out + 64 * l + 4 * w);
  }
}

}  // namespace

void chacha12_block(const std::array<std::uint32_t, 8>& key, std::uint64_t counter,
                    std::array<std::uint8_t, 64>& out) {
  std::uint8_t four[256];
  chacha_blocks4(key, counter, four);
  std::memcpy(out.data(), four, out.size());
}

void ChaChaStream::rekey(std::span<const std::uint8_t, kKeyBytes> key) {
  for (std::size_t w = 0; w < key_.size(); ++w) key_[w] = load_le32(key.data() + 4 * w);
  used_ = buffer_.size();
  produced_ = 0;
}

// Fast key erasure: the first 32 bytes of each refill become the next key and are
// wiped; the key changes with every refill, so the block counter can stay at 0.
void ChaChaStream::refill() {
  chacha_blocks4(key_, 0, buffer_.data());
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
