// SPDX-License-Identifier: Apache-2.0
// IdMultiset: finds the repeated keys among billions, in bounded memory.
//
// Keys are added one by one and spread over 256 partitions by their hash. While
// every partition fits its share of the memory budget nothing touches the disk;
// once one does not, every partition's keys go to its own anonymous temporary file
// (spill_file.h). finish() then takes one partition at a time, spreads it over
// about one bucket per key by more of the hash (a counting sort), and reports each
// key that occurs more than once in a bucket, with its count. A partition too
// large for the budget is split again by the hash's next 8 bits, down to
// partitions whose keys share the whole hash.
//
// Memory: at most `memory_bytes` of keys while adding, and at most that while
// finishing (a partition, its copy in buckets, and 4 bytes a key of offsets).
// Disk: 8 bytes per Snowflake ID and 24 per other ID, once the keys outgrow
// memory, freed as finish() proceeds.
//
// Thread safety: one thread at a time.
#ifndef IDFORGE_CLI_ID_MULTISET_H_
#define IDFORGE_CLI_ID_MULTISET_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "idforge/result.h"
#include "spill_file.h"

namespace idforge::cli {

// The key of an ID wider than 64 bits: its bytes (at most 20, a KSUID's width) with
// zeros after them, and its format in the last byte, so that IDs of different
// formats never compare equal. Compares as the ID's bytes do.
struct WideKey {
  std::array<std::uint8_t, 24> bytes{};
  friend auto operator<=>(const WideKey&, const WideKey&) = default;
};

namespace detail {

// How IdMultiset stores, spreads and sorts one key type.
template <typename Key>
struct MultisetKey;

// A Snowflake ID is stored multiplied by an odd constant. That is a bijection on
// 64-bit words: equal stored words are equal IDs, the ID comes back by multiplying
// with the inverse, and the stored words' top bits spread evenly over partitions
// though the IDs of one period share their top (time) bits.
// The inverse of an odd number modulo 2^64 (Newton's iteration).
constexpr std::uint64_t inverse_of_odd(std::uint64_t a) {
  std::uint64_t x = a;  // Right in the low 3 bits; each step doubles that.
  for (int i = 0; i < 5; ++i) x *= 2 - a * x;
  return x;
}

template <>
struct MultisetKey<std::uint64_t> {
  using Stored = std::uint64_t;
  static constexpr std::uint64_t kOdd = 0x9e3779b97f4a7c15ULL;
  static constexpr std::uint64_t kInverse = inverse_of_odd(kOdd);
  static_assert(kOdd * kInverse == 1);

  static Stored store(std::uint64_t id) { return id * kOdd; }
  static std::uint64_t load(Stored stored) { return stored * kInverse; }
  static std::uint64_t hash(Stored stored) { return stored; }
};

template <>
struct MultisetKey<WideKey> {
  using Stored = WideKey;
  static Stored store(const WideKey& key) { return key; }
  static WideKey load(const Stored& stored) { return stored; }
  static std::uint64_t hash(const Stored& key) {
    std::uint64_t w[3];
    std::memcpy(w, key.bytes.data(), sizeof w);
    std::uint64_t h = (w[0] * 0x9e3779b97f4a7c15ULL) ^ (w[1] * 0xc2b2ae3d27d4eb4fULL) ^ (w[2] * 0x165667b19e3779f9ULL);
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 29);
  }
};

}  // namespace detail

template <typename Key>
class IdMultiset {
  using Traits = detail::MultisetKey<Key>;
  using Stored = typename Traits::Stored;

 public:
  static constexpr int kPartitionBits = 8;
  static constexpr std::size_t kPartitions = std::size_t{1} << kPartitionBits;
  // Below this depth a partition's keys share kPartitionBits more bits of the hash;
  // at it they share all 64.
  static constexpr int kMaxDepth = 64 / kPartitionBits - 1;

  // Keys beyond `memory_bytes` go to temporary files in `tmp_dir`.
  IdMultiset(std::size_t memory_bytes, std::string tmp_dir, int depth = 0)
      : memory_bytes_(memory_bytes),
        tmp_dir_(std::move(tmp_dir)),
        depth_(depth),
        shift_(64 - kPartitionBits * (depth + 1)),
        partition_capacity_(std::max<std::size_t>(1, memory_bytes / (kPartitions * sizeof(Stored)))),
        partitions_(kPartitions) {}

  Result<void> add(const Key& key) {
    const Stored stored = Traits::store(key);
    Partition& p = partitions_[(Traits::hash(stored) >> shift_) & (kPartitions - 1)];
    p.keys.push_back(stored);
    if (p.keys.size() >= partition_capacity_) [[unlikely]] return spill(p);
    return {};
  }

  // Bytes written to temporary files so far.
  std::uint64_t spilled_bytes() const { return spilled_bytes_; }

  // Calls on_repeat(key, occurrences) once for every key added more than once (in
  // no particular order, one call at a time), emptying the set as it goes. Two
  // threads share the partitions (each within half the memory) where the machine
  // has two cores. Stops at the first error, whether its own or one on_repeat
  // returns.
  using OnRepeat = std::function<Result<void>(const Key& key, std::uint64_t occurrences)>;
  Result<void> finish(const OnRepeat& on_repeat) {
    if (spilled_) {
      for (Partition& p : partitions_) {
        if (!p.keys.empty()) {
          if (Result<void> s = spill(p); !s) return s;
        }
        p.keys = {};
      }
    }
    const bool parallel = depth_ == 0 && std::thread::hardware_concurrency() > 1;
    const std::size_t memory = parallel ? memory_bytes_ / 2 : memory_bytes_;
    std::mutex mutex;
    std::optional<Error> error;  // Guarded by mutex.
    const OnRepeat report = [&](const Key& key, std::uint64_t occurrences) -> Result<void> {
      std::lock_guard lock(mutex);
      return on_repeat(key, occurrences);
    };
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      std::vector<Stored> scratch;
      for (std::size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < kPartitions;) {
        Partition& p = partitions_[i];
        Result<void> done = p.file ? finish_spilled(*p.file, memory, report) : scan_repeats(p.keys, scratch, report);
        p.keys = {};
        p.file.reset();
        if (!done) {
          std::lock_guard lock(mutex);
          if (!error) error = done.error();
          next.store(kPartitions, std::memory_order_relaxed);
          return;
        }
      }
    };
    std::thread helper;
    if (parallel) helper = std::thread(work);
    work();
    if (helper.joinable()) helper.join();
    if (error) return *error;
    return {};
  }

 private:
  struct Partition {
    std::vector<Stored> keys;
    std::unique_ptr<SpillFile> file;  // A pointer keeps the partitions small: they are all hot.
  };
  static constexpr std::size_t kChunkKeys = (std::size_t{1} << 20) / sizeof(Stored);

  Result<void> spill(Partition& p) {
    if (!p.file) {
      Result<SpillFile> file = SpillFile::create(tmp_dir_);
      if (!file) return file.error();
      p.file = std::make_unique<SpillFile>(std::move(*file));
    }
    const std::size_t bytes = p.keys.size() * sizeof(Stored);
    if (Result<void> w = p.file->append(p.keys.data(), bytes); !w) return w;
    spilled_bytes_ += bytes;
    spilled_ = true;
    p.keys.clear();
    return {};
  }

  // Reports the repeats among `keys`. Equal keys have equal hashes, so it is enough
  // to spread the keys by the hash bits below this depth's partition bits into
  // about one bucket per key (a counting sort: two passes) and to sort only the
  // buckets that hold more than one. Needs `scratch` for a copy of the keys and 4
  // bytes a key for the bucket offsets.
  Result<void> scan_repeats(std::vector<Stored>& keys, std::vector<Stored>& scratch, const OnRepeat& on_repeat) {
    const std::size_t n = keys.size();
    if (n < 2) return {};
    int bits = 0;
    while (bits < shift_ && bits < 31 && (std::size_t{2} << bits) <= n) ++bits;
    const int down = shift_ - bits;
    const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
    auto bucket = [&](const Stored& k) { return static_cast<std::size_t>((Traits::hash(k) >> down) & mask); };
    // Counts, then where each bucket starts, then (after the scatter) where it ends.
    std::vector<std::uint32_t> offsets(std::size_t{1} << bits, 0);
    for (const Stored& k : keys) ++offsets[bucket(k)];
    std::uint32_t start = 0;
    for (std::uint32_t& o : offsets) start += std::exchange(o, start);
    scratch.resize(n);
    for (const Stored& k : keys) scratch[offsets[bucket(k)]++] = k;
    for (std::size_t b = 0; b < offsets.size(); ++b) {
      const std::uint32_t begin = b == 0 ? 0 : offsets[b - 1];
      const std::uint32_t size = offsets[b] - begin;
      if (size < 2 || (size == 2 && !(scratch[begin] == scratch[begin + 1]))) continue;
      const auto first = scratch.begin() + begin, last = scratch.begin() + offsets[b];
      std::sort(first, last);
      for (auto i = first; i != last;) {
        auto j = i + 1;
        while (j != last && *j == *i) ++j;
        if (j - i > 1) {
          if (Result<void> r = on_repeat(Traits::load(*i), static_cast<std::uint64_t>(j - i)); !r) return r;
        }
        i = j;
      }
    }
    return {};
  }

  // Reads `file` back in chunks, handing each key to `each`.
  template <typename Each>
  static Result<void> read_back(const SpillFile& file, Each&& each) {
    std::vector<Stored> chunk(kChunkKeys);
    const std::uint64_t total = file.size() / sizeof(Stored);
    for (std::uint64_t at = 0; at < total; at += chunk.size()) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), total - at));
      if (Result<void> r = file.read(at * sizeof(Stored), chunk.data(), n * sizeof(Stored)); !r) return r;
      for (std::size_t i = 0; i < n; ++i) {
        if (Result<void> e = each(chunk[i]); !e) return e;
      }
    }
    return {};
  }

  Result<void> finish_spilled(const SpillFile& file, std::size_t memory, const OnRepeat& on_repeat) {
    if (3 * file.size() <= memory) {
      std::vector<Stored> keys(static_cast<std::size_t>(file.size() / sizeof(Stored)));
      if (Result<void> r = file.read(0, keys.data(), file.size()); !r) return r;
      std::vector<Stored> scratch;
      return scan_repeats(keys, scratch, on_repeat);
    }
    if (depth_ == kMaxDepth) {
      // The keys share their whole hash: almost surely one key, however many times.
      std::map<Stored, std::uint64_t> counts;
      Result<void> read = read_back(file, [&](const Stored& s) -> Result<void> {
        ++counts[s];
        return {};
      });
      if (!read) return read;
      for (const auto& [stored, count] : counts) {
        if (count < 2) continue;
        if (Result<void> r = on_repeat(Traits::load(stored), count); !r) return r;
      }
      return {};
    }
    IdMultiset child(memory, tmp_dir_, depth_ + 1);
    Result<void> read = read_back(file, [&](const Stored& s) { return child.add(Traits::load(s)); });
    if (!read) return read;
    return child.finish(on_repeat);
  }

  const std::size_t memory_bytes_;
  const std::string tmp_dir_;
  const int depth_;
  const int shift_;
  const std::size_t partition_capacity_;
  std::vector<Partition> partitions_;
  bool spilled_ = false;
  std::uint64_t spilled_bytes_ = 0;
};

// An IdMultiset fed from a thread of its own: add() collects keys in batches and
// hands each full batch over, so that spreading keys over partitions (and writing
// them to the temporary files) runs beside the caller's reading and parsing.
// Memory: the IdMultiset's, plus three batches of kBatchKeys keys.
//
// Thread safety: add() and finish() from one thread; the worker is internal.
template <typename Key>
class BackgroundMultiset {
 public:
  static constexpr std::size_t kBatchKeys = 1 << 16;

  BackgroundMultiset(std::size_t memory_bytes, std::string tmp_dir) : set_(memory_bytes, std::move(tmp_dir)) {
    batch_.reserve(kBatchKeys);
    worker_ = std::thread([this] { run(); });
  }
  ~BackgroundMultiset() { stop(); }
  BackgroundMultiset(const BackgroundMultiset&) = delete;
  BackgroundMultiset& operator=(const BackgroundMultiset&) = delete;

  // Adds `key`; fails with the worker's first error (the temporary files'), late by
  // up to two batches.
  Result<void> add(const Key& key) {
    batch_.push_back(key);
    if (batch_.size() == kBatchKeys) [[unlikely]] return hand_over();
    return {};
  }

  // Bytes written to temporary files so far (as of the last batch handed over).
  std::uint64_t spilled_bytes() const { return spilled_bytes_.load(std::memory_order_relaxed); }

  // Adds what is left, waits for the worker, and runs IdMultiset::finish.
  Result<void> finish(const typename IdMultiset<Key>::OnRepeat& on_repeat) {
    if (Result<void> r = hand_over(); !r) return r;
    stop();
    if (error_) return *error_;
    return set_.finish(on_repeat);
  }

 private:
  Result<void> hand_over() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !full_ || stopping_; });
    if (error_) return *error_;
    std::swap(batch_, handed_);
    full_ = true;
    changed_.notify_all();
    lock.unlock();
    batch_.clear();
    if (batch_.capacity() < kBatchKeys) batch_.reserve(kBatchKeys);
    return {};
  }

  void run() {
    std::vector<Key> work;
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [&] { return full_ || stopping_; });
      if (!full_) return;
      std::swap(work, handed_);
      full_ = false;
      changed_.notify_all();
      lock.unlock();
      std::optional<Error> failed;
      for (const Key& key : work) {
        if (Result<void> r = set_.add(key); !r) {
          failed = r.error();
          break;
        }
      }
      spilled_bytes_.store(set_.spilled_bytes(), std::memory_order_relaxed);
      work.clear();
      lock.lock();
      if (failed && !error_) error_ = failed;
    }
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      changed_.notify_all();
    }
    if (worker_.joinable()) worker_.join();
  }

  IdMultiset<Key> set_;  // Used by the worker until stop(), then by finish().
  std::vector<Key> batch_;  // The caller's.
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Key> handed_;  // Guarded by mutex_: the batch waiting for the worker.
  bool full_ = false;        // Guarded by mutex_.
  bool stopping_ = false;    // Guarded by mutex_.
  std::optional<Error> error_;  // Guarded by mutex_.
  std::atomic<std::uint64_t> spilled_bytes_{0};
  std::thread worker_;
};

}  // namespace idforge::cli

#endif  // IDFORGE_CLI_ID_MULTISET_H_
