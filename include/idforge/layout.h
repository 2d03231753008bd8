// SPDX-License-Identifier: Apache-2.0
// Layout: how a 64-bit Snowflake-family ID is cut into fields.
//
// A layout names, from the most significant bit down, one timestamp field, one
// sequence field and up to four node fields (datacenter, worker, process, shard,
// machine, …), with a tick (any whole number of milliseconds) and an epoch. A
// Layout value is always valid: the only ways to get one are the presets and
// `Layout::parse`/`Layout::create`, which refuse an invalid layout with a message
// that says why.
//
// The timestamp is always the most significant field, so IDs sort by time. IDs stay
// non-negative int64: at most 63 bits are ever set. A layout may declare 64 bits (as
// Instagram's and Discord's do); the timestamp's top bit is then the sign bit and
// never set, which halves the timestamp's range.
//
// Text form (usable wherever a preset name is; see docs/layouts.md):
//
//   time:41-datacenter:5-worker:5-seq:12/tick=1ms/epoch=2010-11-04T01:42:54.657Z
//
// Fields are `name:bits`, most significant first, joined by '-'. A field named
// `time` or `timestamp` is the timestamp; `seq`, `sequence`, `increment` or
// `counter` is the sequence; any other name is a node field. Options follow '/':
// `tick=` (`Nms` or `Ns`; Default: 1ms) and `epoch=` (Unix milliseconds or an
// ISO-8601 UTC date/instant; Default: the Unix epoch).
//
// Thread safety: a Layout is an immutable value; share it freely.
//
// Example:
//
//   idforge::Layout discord = idforge::Layout::discord();
//   idforge::Parts parts = discord.decompose(175928847299117063);
//   std::int64_t when = discord.unix_ms_of_tick(parts.tick);  // 2016-04-30T11:18:25.796Z
//   std::uint64_t increment = parts.sequence;                  // 7
#ifndef IDFORGE_LAYOUT_H_
#define IDFORGE_LAYOUT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "idforge/result.h"

namespace idforge {

// The most fields a layout can have, and the most node fields among them.
inline constexpr int kMaxFields = 6;
inline constexpr int kMaxNodeFields = 4;
// The longest field name.
inline constexpr std::size_t kMaxFieldNameLength = 15;

enum class FieldKind : std::uint8_t { timestamp, node, sequence };

// One field of a layout, as placed in the 64-bit word.
struct Field {
  // The field's name as the layout spells it ("worker", "increment", …).
  std::string_view name() const { return {name_chars.data(), name_length}; }
  // The largest value the field holds.
  std::uint64_t max_value() const { return bits >= 64 ? ~0ULL : (1ULL << bits) - 1; }

  std::array<char, kMaxFieldNameLength> name_chars{};
  std::uint8_t name_length = 0;
  FieldKind kind = FieldKind::node;
  int bits = 0;   // Width in bits.
  int shift = 0;  // Position of the field's lowest bit in the ID.
};

// A field as the caller describes it to Layout::create.
struct FieldSpec {
  std::string_view name;
  int bits = 0;
};

// An ID taken apart. `node` holds the node fields' values in the layout's field
// order (most significant first); unused entries are 0.
struct Parts {
  std::int64_t tick = 0;
  std::uint64_t sequence = 0;
  std::array<std::uint64_t, kMaxNodeFields> node{};
};

// The smallest and largest ID a layout can stamp in a span of time.
struct IdRange {
  std::uint64_t min = 0;
  std::uint64_t max = 0;
};

// What a layout can carry, for planning (see `idforge layout`).
struct Capacity {
  std::uint64_t ids_per_tick = 0;         // 2^sequence_bits.
  double ids_per_second_per_node = 0;     // ids_per_tick per tick, in a second.
  std::uint64_t nodes = 0;                // 2^(sum of node field bits).
  std::int64_t first_unix_ms = 0;         // The epoch: the first instant a stamp can carry.
  std::int64_t last_unix_ms = 0;          // The last millisecond of the last tick.
  // The first instant whose IDs reach 2^53 (JavaScript's last safe integer + 1), or
  // nullopt when no ID of the layout ever does.
  std::optional<std::int64_t> js_unsafe_from_unix_ms;
};

class Layout {
 public:
  // The presets. Each comment gives the source the layout follows.

  // Twitter Snowflake (twitter-archive/snowflake, 2010): 41-bit ms timestamp,
  // 5-bit datacenter, 5-bit worker, 12-bit sequence; epoch 1288834974657.
  static Layout twitter();
  // Discord (discord.com/developers/docs/reference#snowflakes): 42-bit ms timestamp,
  // 5-bit worker, 5-bit process, 12-bit increment; epoch 1420070400000 (2015-01-01).
  static Layout discord();
  // Instagram ("Sharding & IDs at Instagram", 2012): 41-bit ms timestamp, 13-bit
  // shard, 10-bit sequence; epoch 1314220021721 (2011-08-24T21:07:01.721Z).
  static Layout instagram();
  // Sonyflake (sony/sonyflake): 39-bit timestamp in 10 ms units, 8-bit sequence,
  // 16-bit machine in the low bits; start time 2014-09-01T00:00:00Z.
  static Layout sonyflake();
  // Baidu uid-generator's DefaultUidGenerator (baidu/uid-generator): 28-bit delta
  // seconds, 22-bit worker, 13-bit sequence; epoch 2016-05-20. It ran out of time on
  // 2024-11-20 — kept so old IDs decode; `idforge layout baidu` shows the warning.
  static Layout baidu();
  // idforge's JavaScript-safe layout: 38-bit timestamp in 10 ms units, 5-bit worker,
  // 10-bit sequence (53 bits); epoch 2024-01-01. IDs stay below 2^53 until 2111.
  static Layout js53();

  // The preset names, in the order above.
  static std::span<const std::string_view> preset_names();

  // Parses a preset name or a layout spec (see the file comment). Fails with
  // invalid_argument naming what is wrong.
  static Result<Layout> parse(std::string_view preset_or_spec);

  // Builds a layout from fields (most significant first), a tick and an epoch.
  // REQUIRES nothing: every invalid combination is an invalid_argument error.
  static Result<Layout> create(std::span<const FieldSpec> fields, std::int64_t tick_ms,
                               std::int64_t epoch_unix_ms);

  // The preset name when this layout equals a preset, otherwise "custom".
  std::string_view name() const { return {name_.data(), name_length_}; }

  // The canonical text form; Layout::parse(spec()) gives back an equal layout.
  std::string spec() const;

  // Where the node and sequence bits sit below the timestamp, most significant
  // first, adjacent node fields merged: "node10-seq12" for twitter and discord,
  // "seq8-node16" for sonyflake. Layouts of one geometry make the same ID from the
  // same (stamp, node number, sequence) whatever their field names, epochs or
  // ticks: they are one ID space, and share one reservation store.
  std::string geometry() const;

  // Every field, most significant first.
  std::span<const Field> fields() const { return {fields_.data(), field_count_}; }
  const Field& timestamp_field() const { return fields_[timestamp_index_]; }
  const Field& sequence_field() const { return fields_[sequence_index_]; }
  // The node fields, most significant first.
  int node_field_count() const { return node_field_count_; }
  const Field& node_field(int i) const { return fields_[node_index_[static_cast<std::size_t>(i)]]; }
  // The index among node fields of the one called `name`, or -1.
  int find_node_field(std::string_view name) const;

  std::int64_t tick_ms() const { return tick_ms_; }
  std::int64_t epoch_unix_ms() const { return epoch_unix_ms_; }
  // The largest tick an ID may carry (smaller than the field's maximum when the
  // top bit is the sign bit).
  std::int64_t max_tick() const { return max_tick_; }
  // Total width of the node fields; the layout has 2^node_bits() nodes.
  int node_bits() const { return node_bits_; }

  // The instant a tick starts, in Unix milliseconds.
  std::int64_t unix_ms_of_tick(std::int64_t tick) const { return epoch_unix_ms_ + tick * tick_ms_; }
  // The tick holding `unix_ms` (rounding down; negative before the epoch, possibly
  // past max_tick()).
  std::int64_t tick_at_unix_ms(std::int64_t unix_ms) const;

  // Splits an ID into its fields. Any 64-bit value decomposes; validity is the
  // caller's question (see `is_valid_id`).
  Parts decompose(std::uint64_t id) const;
  // True when `id` could have been made under this layout (sign bit clear, tick within range).
  bool is_valid_id(std::uint64_t id) const;
  // Builds an ID from fields; invalid_argument when a value does not fit its field
  // or the tick is outside [0, max_tick()].
  Result<std::uint64_t> compose(const Parts& parts) const;

  // A node number is the node fields' values concatenated in field order, so that
  // nodes are numbered 0 .. 2^node_bits()-1 (twitter: datacenter*32 + worker).
  std::array<std::uint64_t, kMaxNodeFields> node_values(std::uint64_t node_number) const;
  std::uint64_t node_number(const std::array<std::uint64_t, kMaxNodeFields>& values) const;
  // The node's bits placed where the ID carries them. REQUIRES: node_number < 2^node_bits().
  std::uint64_t node_bits_in_id(std::uint64_t node_number) const;

  // The smallest and largest ID whose stamp holds `unix_ms`, for time-range queries
  // (`WHERE id BETWEEN min AND max`). invalid_argument outside the layout's lifetime.
  Result<std::uint64_t> min_id_at(std::int64_t unix_ms) const;
  Result<std::uint64_t> max_id_at(std::int64_t unix_ms) const;
  // min_id_at(from) and max_id_at(to): every ID stamped from `from` to `to`
  // (inclusive) lies between them, as Discord documents for pagination.
  // invalid_argument when from > to or either is outside the layout's lifetime.
  Result<IdRange> id_range(std::int64_t from_unix_ms, std::int64_t to_unix_ms) const;

  Capacity capacity() const;

  friend bool operator==(const Layout& a, const Layout& b) { return a.spec() == b.spec(); }

 private:
  Layout() = default;
  // create() without recognising presets (the presets themselves are built with it).
  static Result<Layout> build(std::span<const FieldSpec> fields, std::int64_t tick_ms, std::int64_t epoch_unix_ms);
  static Layout preset(std::string_view name, std::span<const FieldSpec> fields, std::int64_t tick_ms,
                       std::int64_t epoch_unix_ms);

  std::array<Field, kMaxFields> fields_{};
  std::size_t field_count_ = 0;
  std::size_t timestamp_index_ = 0;
  std::size_t sequence_index_ = 0;
  std::array<std::size_t, kMaxNodeFields> node_index_{};
  int node_field_count_ = 0;
  int node_bits_ = 0;
  std::int64_t tick_ms_ = 1;
  std::int64_t epoch_unix_ms_ = 0;
  std::int64_t max_tick_ = 0;
  std::array<char, 16> name_{};
  std::size_t name_length_ = 0;
};

}  // namespace idforge

#endif  // IDFORGE_LAYOUT_H_
