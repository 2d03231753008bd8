// SPDX-License-Identifier: Apache-2.0
// Random: the source of randomness for the formats that need it (UUIDv4/v7, ULID,
// ObjectId, KSUID).
//
// SystemRandom is a cryptographically secure generator: a ChaCha12 keystream per
// thread, keyed from getrandom(2), with fast key erasure (each refill's first 32
// bytes become the next key and handed-out bytes are wiped, so a memory dump
// reveals no earlier output). It reseeds from the kernel every 1 MiB of output and
// in a child process, however it was made (fork(), glibc's _Fork(), a raw clone or
// fork system call: the kernel wipes a marker page in every child): a child never
// repeats its parent's stream (RFC 9562 §6.9, the ObjectId spec). glibc 2.36's arc4random_buf makes one getrandom() system call per
// call (about 400 ns here, docs/benchmarks.md); a refill of 480 bytes (eight
// ChaCha12 blocks less the next key) costs less than one of those 16-byte calls.
//
// SeededRandom is the same keystream from a fixed seed, for deterministic tests.
// It is not for production: its output is as predictable as its seed.
//
// Thread safety: SystemRandom::instance() may be used from any thread at once (the
// state is per thread). A SeededRandom is for one thread at a time.
//
// Failure: getrandom() failing (a kernel before 3.17) is a broken environment; the
// process stops with a message rather than hand out weak randomness.
//
// Example:
//
//   std::array<std::uint8_t, 16> key;
//   idforge::SystemRandom::instance().fill(key);
#ifndef IDFORGE_RANDOM_H_
#define IDFORGE_RANDOM_H_

#include <array>
#include <cstdint>
#include <span>

namespace idforge {

class Random {
 public:
  virtual ~Random() = default;

  // Fills `out` with random bytes.
  virtual void fill(std::span<std::uint8_t> out) = 0;

  // Eight random bytes as a number.
  std::uint64_t next_u64() {
    std::array<std::uint8_t, 8> b;
    fill(b);
    std::uint64_t v = 0;
    for (std::uint8_t byte : b) v = (v << 8) | byte;
    return v;
  }
};

// The process-wide secure source (see the file comment).
class SystemRandom final : public Random {
 public:
  static SystemRandom& instance();
  void fill(std::span<std::uint8_t> out) override;

 private:
  SystemRandom() = default;
};

namespace detail {
// A ChaCha12 keystream with fast key erasure; the engine of both sources.
class ChaChaStream {
 public:
  static constexpr std::size_t kBlockBytes = 64;
  static constexpr std::size_t kBlocks = 8;
  static constexpr std::size_t kKeyBytes = 32;

  void rekey(std::span<const std::uint8_t, kKeyBytes> key);
  void fill(std::span<std::uint8_t> out);
  // Output bytes produced since the last rekey().
  std::uint64_t produced() const { return produced_; }

 private:
  void refill();
  void fill_across_refills(std::span<std::uint8_t> out);
  // Copies the next `n` buffered bytes to `out` and wipes them from the buffer.
  void take(std::uint8_t* out, std::size_t n);

  std::array<std::uint32_t, 8> key_{};
  std::array<std::uint8_t, kBlockBytes * kBlocks> buffer_{};
  std::size_t used_ = sizeof(buffer_);
  std::uint64_t produced_ = 0;
};

// ChaCha12's block function as a keyed pseudo-random function: 64 bytes for
// (key, counter). Used to derive per-tick secrets.
void chacha12_block(const std::array<std::uint32_t, 8>& key, std::uint64_t counter,
                    std::array<std::uint8_t, 64>& out);
}  // namespace detail

// A deterministic stream from `seed`, for tests.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(std::uint64_t seed);
  void fill(std::span<std::uint8_t> out) override { stream_.fill(out); }

 private:
  detail::ChaChaStream stream_;
};

}  // namespace idforge

#endif  // IDFORGE_RANDOM_H_
