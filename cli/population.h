// SPDX-License-Identifier: Apache-2.0
// Population: the IDs `idforge verify` reads, checked as they arrive.
//
// Every word of every input is read as an ID (any text form the decoder reads, and
// nothing the decoder would have to guess at: a word that reads two ways, such as
// 32 hex digits that are a flake-128 ID or a UUID written without dashes, is
// unparsed unless a format is named) and counted per node: a Snowflake ID's node fields, a flake-128 ID's worker, an
// ObjectId's process value; ULID, UUID and KSUID IDs count per format. As they
// arrive it notes, per node, the first and last instant, order inversions (an ID
// below the one before it from the same node in the same input; not for UUIDv4 and
// KSUID, whose order is random) and instants past the clock; the IDs themselves go
// to an IdMultiset, which finish() searches for repeats.
//
// Decimal Snowflake IDs take a fast path (no allocation, no decoder call) that
// accepts exactly what the decoder would; every other word goes through decode().
//
// Thread safety: one thread at a time.
#ifndef IDFORGE_CLI_POPULATION_H_
#define IDFORGE_CLI_POPULATION_H_

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "id_multiset.h"
#include "idforge/decoder.h"
#include "idforge/layout.h"

namespace idforge::cli {

struct PopulationOptions {
  Layout layout = Layout::twitter();
  // Read every word as this format only (Default: detect).
  std::optional<Format> format;
  // Read Snowflake IDs in this encoding only (implies format snowflake; Default: detect).
  std::optional<Encoding> encoding;
  // Read every word of digits as a decimal Snowflake ID of `layout`, never as a
  // fixed-width encoding of the same length (the user named the layout).
  // Default: false (a 11, 13 or 16-digit word is ambiguous, and unparsed).
  bool digits_are_snowflakes = false;
  // Memory for the IDs themselves before they spill to `tmp_dir`.
  std::size_t memory_bytes = std::size_t{1} << 30;
  std::string tmp_dir = "/tmp";
};

// Where a word was read: the input's index (in the order given) and its line.
struct Where {
  std::uint32_t input = 0;
  std::uint64_t line = 0;
};

// How many examples of each finding a report keeps.
inline constexpr std::size_t kMaxExamples = 10;
// How many places a repeated ID's example lists.
inline constexpr std::size_t kMaxPlaces = 10;

struct Unparsed {
  Where where;
  std::string text;  // At most 64 bytes of the word.
  std::string error;
};

struct Repeat {
  std::string id;  // Canonical text.
  std::uint64_t occurrences = 0;
  std::vector<Where> seen;  // Filled by locate(); empty when no input could be read again.
};

struct NodeReport {
  Format format = Format::snowflake;
  std::optional<std::uint64_t> node;  // Absent for formats without a node.
  std::uint64_t ids = 0;
  std::optional<std::int64_t> first_unix_ms;  // Absent for UUIDv4, which carries no instant.
  std::optional<std::int64_t> last_unix_ms;
  std::optional<std::uint64_t> out_of_order;  // Absent where order means nothing.
  std::uint64_t future = 0;
  std::uint64_t duplicates = 0;
};

struct PopulationReport {
  std::uint64_t ids = 0;         // Words read as IDs.
  std::uint64_t duplicates = 0;  // IDs that equal an earlier one (n copies count n - 1).
  std::uint64_t distinct_repeated = 0;
  std::uint64_t unparsed = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t future = 0;
  std::vector<Repeat> repeats;  // At most kMaxExamples, smallest ID first.
  std::vector<Unparsed> unparsed_examples;
  std::vector<NodeReport> nodes;  // By format, then node.
};

class Population {
 public:
  explicit Population(PopulationOptions options);

  // Starts a new input: order is checked within an input only.
  void begin_input(std::uint32_t input) { input_ = input; }
  // The wall clock now, for "stamped in the future".
  void set_now(std::int64_t unix_ms);

  // Reads `word` (seen on `line`) as an ID. Fails only when the temporary files do.
  Result<void> add(std::string_view word, std::uint64_t line) {
    std::uint64_t id;
    if (fast_path_ && read_decimal(word, id)) return add_snowflake(id);
    return add_slow(word, line);
  }

  std::uint64_t ids() const { return ids_; }
  std::uint64_t spilled_bytes() const { return snowflakes_.spilled_bytes() + wide_.spilled_bytes(); }

  // Searches for repeats and builds the report. Call once, after the last add().
  Result<PopulationReport> finish();

  // The index in `report.repeats` of the ID `word` reads as, or -1.
  int repeat_index(const PopulationReport& report, std::string_view word) const;

 private:
  struct Stats {
    std::uint64_t ids = 0;
    std::uint64_t out_of_order = 0;
    std::uint64_t future = 0;
    std::uint64_t duplicates = 0;
    std::int64_t first = INT64_MAX;  // Snowflake: ticks; others: Unix ms.
    std::int64_t last = INT64_MIN;
    std::uint32_t last_input = UINT32_MAX;
    std::uint64_t last_id = 0;
    WideKey last_wide;
  };
  using GroupKey = std::pair<Format, std::optional<std::uint64_t>>;

  // A decimal Snowflake ID of the layout, as decode() would read it; false sends the
  // word to the slow path, which reads it or says why not.
  bool read_decimal(std::string_view word, std::uint64_t& id) const {
    const std::size_t n = word.size();
    if (n == 0 || n > 19 || (n > 1 && word[0] == '0') ||
        (detect_ && !options_.digits_are_snowflakes && ambiguous_length(n))) {
      return false;
    }
    // The leading n % 8 digits one by one, then eight at a time.
    const char* p = word.data();
    const char* const end = p + n;
    std::uint64_t v = 0;
    for (; (end - p) % 8 != 0; ++p) {
      const unsigned d = static_cast<unsigned char>(*p) - unsigned{'0'};
      if (d > 9) return false;
      v = v * 10 + d;
    }
    for (; p != end; p += 8) {
      std::uint64_t eight;
      if (!read_eight_digits(p, eight)) return false;
      v = v * 100'000'000 + eight;
    }
    if ((v >> 63) || static_cast<std::int64_t>(v >> ts_shift_) > max_tick_) return false;
    id = v;
    return true;
  }
  // Reads the eight digits at `p` at once (SWAR: the bytes of one 64-bit word,
  // first digit in the lowest byte); false unless all eight are digits.
  static bool read_eight_digits(const char* p, std::uint64_t& out) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if (((w & 0xf0f0f0f0f0f0f0f0) | (((w + 0x0606060606060606) & 0xf0f0f0f0f0f0f0f0) >> 4)) != 0x3333333333333333) {
      return false;
    }
    w -= 0x3030303030303030;
    w = (w * 10 + (w >> 8)) & 0x00ff00ff00ff00ff;             // Pairs of digits.
    w = (w * 100 + (w >> 16)) & 0x0000ffff0000ffff;           // Fours.
    out = (w * 10000 + (w >> 32)) & 0x00000000ffffffff;       // Eight.
    return true;
  }
  // Digit strings of these lengths also read as fixed-width encodings, so
  // detection must weigh them through decode().
  static bool ambiguous_length(std::size_t n) { return n == 11 || n == 13 || n == 16; }

  Result<void> add_snowflake(std::uint64_t id) {
    ++ids_;
    Stats& s = snowflake_stats(node_of(id));
    const std::int64_t tick = static_cast<std::int64_t>(id >> ts_shift_);
    ++s.ids;
    s.first = std::min(s.first, tick);
    s.last = std::max(s.last, tick);
    if (s.last_input == input_ && id < s.last_id) ++s.out_of_order;
    s.last_input = input_;
    s.last_id = id;
    if (tick > now_tick_) ++s.future;
    return snowflakes_.add(id);
  }
  Result<void> add_slow(std::string_view word, std::uint64_t line);
  Result<void> add_wide(const DecodedId& id);

  std::uint64_t node_of(std::uint64_t id) const {
    std::uint64_t node = 0;
    for (int i = 0; i < node_fields_; ++i) {
      node = (node << node_bits_[i]) | ((id >> node_shift_[i]) & node_mask_[i]);
    }
    return node;
  }
  Stats& snowflake_stats(std::uint64_t node) {
    if (direct_) {
      std::uint32_t& slot = node_slot_[node];
      if (slot == 0) {
        node_table_.push_back({node, Stats{}});
        slot = static_cast<std::uint32_t>(node_table_.size());
      }
      return node_table_[slot - 1].second;
    }
    auto [it, added] = node_index_.try_emplace(node, static_cast<std::uint32_t>(node_table_.size()));
    if (added) node_table_.push_back({node, Stats{}});
    return node_table_[it->second].second;
  }
  Result<DecodedId> decode_word(std::string_view word) const;
  static GroupKey group_of(const DecodedId& id);
  static NodeReport node_report(const GroupKey& key, const Stats& stats);

  const PopulationOptions options_;
  const bool detect_;
  const bool fast_path_;
  const int ts_shift_;
  const std::int64_t max_tick_;
  int node_fields_ = 0;
  int node_bits_[kMaxNodeFields] = {};
  int node_shift_[kMaxNodeFields] = {};
  std::uint64_t node_mask_[kMaxNodeFields] = {};
  bool direct_ = false;

  std::uint32_t input_ = 0;
  std::int64_t now_tick_ = INT64_MAX;
  std::int64_t now_unix_ms_ = INT64_MAX;
  std::uint64_t ids_ = 0;
  std::uint64_t unparsed_ = 0;
  std::vector<Unparsed> unparsed_examples_;

  // Snowflake nodes: a slot per node number (1-based index into node_table_) when
  // the layout has few enough, else a hash map.
  std::vector<std::uint32_t> node_slot_;
  std::unordered_map<std::uint64_t, std::uint32_t> node_index_;
  std::vector<std::pair<std::uint64_t, Stats>> node_table_;
  std::map<GroupKey, Stats> wide_groups_;

  BackgroundMultiset<std::uint64_t> snowflakes_;
  IdMultiset<WideKey> wide_;
};

}  // namespace idforge::cli

#endif  // IDFORGE_CLI_POPULATION_H_
