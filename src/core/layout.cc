// SPDX-License-Identifier: Apache-2.0
#include "idforge/layout.h"

#include <algorithm>

#include "core/text.h"
#include "idforge/time_text.h"

namespace idforge {
namespace {

using detail::cat;

constexpr std::int64_t kMaxTickMs = 86'400'000;

FieldKind kind_of(std::string_view name) {
  if (name == "time" || name == "timestamp") return FieldKind::timestamp;
  if (name == "seq" || name == "sequence" || name == "increment" || name == "counter") return FieldKind::sequence;
  return FieldKind::node;
}

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxFieldNameLength || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

Error invalid(std::string message) { return Error(Errc::invalid_argument, std::move(message)); }

}  // namespace

Result<Layout> Layout::build(std::span<const FieldSpec> specs, std::int64_t tick_ms, std::int64_t epoch_unix_ms) {
  if (specs.size() < 2 || specs.size() > static_cast<std::size_t>(kMaxFields)) {
    return invalid(cat("a layout has one timestamp, one sequence and up to ", kMaxNodeFields,
                       " node fields; this one has ", specs.size(), " fields"));
  }
  Layout layout;
  int total_bits = 0;
  int timestamps = 0;
  int sequences = 0;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const FieldSpec& spec = specs[i];
    if (!is_valid_name(spec.name)) {
      return invalid(cat("field name '", spec.name, "' must be 1-", kMaxFieldNameLength,
                         " characters of a-z, 0-9 and _, starting with a letter"));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (specs[j].name == spec.name) return invalid(cat("field '", spec.name, "' appears twice"));
    }
    if (spec.bits < 1 || spec.bits > 63) {
      return invalid(cat("field '", spec.name, "' has ", spec.bits, " bits; a field has 1 to 63"));
    }
    Field& field = layout.fields_[i];
    std::copy(spec.name.begin(), spec.name.end(), field.name_chars.begin());
    field.name_length = static_cast<std::uint8_t>(spec.name.size());
    field.kind = kind_of(spec.name);
    field.bits = spec.bits;
    total_bits += spec.bits;
    switch (field.kind) {
      case FieldKind::timestamp:
        ++timestamps;
        layout.timestamp_index_ = i;
        break;
      case FieldKind::sequence:
        ++sequences;
        layout.sequence_index_ = i;
        break;
      case FieldKind::node:
        if (layout.node_field_count_ == kMaxNodeFields) {
          return invalid(cat("a layout has at most ", kMaxNodeFields, " node fields"));
        }
        layout.node_index_[static_cast<std::size_t>(layout.node_field_count_++)] = i;
        layout.node_bits_ += spec.bits;
        break;
    }
  }
  if (timestamps != 1 || sequences != 1) {
    return invalid(cat("a layout needs exactly one timestamp field (time or timestamp) and one sequence field ",
                       "(seq, sequence, increment or counter); this one has ", timestamps, " and ", sequences));
  }
  if (total_bits > 64) return invalid(cat("the fields add up to ", total_bits, " bits; an ID has 64"));
  if (layout.timestamp_index_ != 0) {
    return invalid("the timestamp must be the first (most significant) field, so that IDs sort by time");
  }
  if (tick_ms < 1 || tick_ms > kMaxTickMs) {
    return invalid(cat("tick of ", tick_ms, " ms is out of range; use 1 ms to 1 day"));
  }
  if (epoch_unix_ms < 0 || epoch_unix_ms > kMaxRfc3339UnixMs) {
    return invalid(cat("epoch ", epoch_unix_ms, " is outside 1970-01-01 .. 9999-12-31"));
  }
  layout.field_count_ = specs.size();
  layout.tick_ms_ = tick_ms;
  layout.epoch_unix_ms_ = epoch_unix_ms;
  int shift = 0;
  for (std::size_t i = specs.size(); i-- > 0;) {
    layout.fields_[i].shift = shift;
    shift += layout.fields_[i].bits;
  }
  const int ts_bits = layout.timestamp_field().bits - (total_bits == 64 ? 1 : 0);
  layout.max_tick_ = static_cast<std::int64_t>((1ULL << ts_bits) - 1);
  const std::int64_t ticks_left = (kMaxRfc3339UnixMs - epoch_unix_ms) / tick_ms;
  if (layout.max_tick_ >= ticks_left) {
    const int declared = layout.timestamp_field().bits;
    return invalid(cat("a ", declared, "-bit timestamp",
                       declared != ts_bits ? cat(" (", ts_bits, " bits below the sign bit)") : std::string(), " of ",
                       tick_ms, " ms ticks outlives the year 9999; use fewer timestamp bits"));
  }
  layout.name_length_ = 6;
  std::copy_n("custom", 6, layout.name_.begin());
  return layout;
}

Result<Layout> Layout::create(std::span<const FieldSpec> specs, std::int64_t tick_ms, std::int64_t epoch_unix_ms) {
  Result<Layout> layout = build(specs, tick_ms, epoch_unix_ms);
  if (!layout) return layout;
  const std::string spec = layout->spec();
  for (std::string_view name : preset_names()) {
    if (parse(name)->spec() == spec) {
      std::copy(name.begin(), name.end(), layout->name_.begin());
      layout->name_length_ = name.size();
    }
  }
  return layout;
}

Layout Layout::preset(std::string_view name, std::span<const FieldSpec> fields, std::int64_t tick_ms,
                      std::int64_t epoch_unix_ms) {
  Layout out = build(fields, tick_ms, epoch_unix_ms).value();
  std::copy(name.begin(), name.end(), out.name_.begin());
  out.name_length_ = name.size();
  return out;
}

Layout Layout::twitter() {
  static const FieldSpec f[] = {{"timestamp", 41}, {"datacenter", 5}, {"worker", 5}, {"sequence", 12}};
  return preset("twitter", f, 1, 1288834974657);
}
Layout Layout::discord() {
  static const FieldSpec f[] = {{"timestamp", 42}, {"worker", 5}, {"process", 5}, {"increment", 12}};
  return preset("discord", f, 1, 1420070400000);
}
Layout Layout::instagram() {
  static const FieldSpec f[] = {{"timestamp", 41}, {"shard", 13}, {"sequence", 10}};
  return preset("instagram", f, 1, 1314220021721);
}
Layout Layout::sonyflake() {
  static const FieldSpec f[] = {{"time", 39}, {"sequence", 8}, {"machine", 16}};
  return preset("sonyflake", f, 10, 1409529600000);
}
Layout Layout::baidu() {
  static const FieldSpec f[] = {{"timestamp", 28}, {"worker", 22}, {"sequence", 13}};
  return preset("baidu", f, 1000, 1463702400000);
}
Layout Layout::js53() {
  static const FieldSpec f[] = {{"timestamp", 38}, {"worker", 5}, {"sequence", 10}};
  return preset("js53", f, 10, 1704067200000);
}

std::span<const std::string_view> Layout::preset_names() {
  static constexpr std::string_view names[] = {"twitter", "discord", "instagram", "sonyflake", "baidu", "js53"};
  return names;
}

int Layout::find_node_field(std::string_view name) const {
  for (int i = 0; i < node_field_count_; ++i) {
    if (node_field(i).name() == name) return i;
  }
  return -1;
}

std::int64_t Layout::tick_at_unix_ms(std::int64_t unix_ms) const {
  return detail::floor_div(unix_ms - epoch_unix_ms_, tick_ms_);
}

Parts Layout::decompose(std::uint64_t id) const {
  auto field_value = [id](const Field& f) { return (id >> f.shift) & f.max_value(); };
  Parts parts;
  parts.tick = static_cast<std::int64_t>(field_value(timestamp_field()));
  parts.sequence = field_value(sequence_field());
  for (int i = 0; i < node_field_count_; ++i) parts.node[static_cast<std::size_t>(i)] = field_value(node_field(i));
  return parts;
}

bool Layout::is_valid_id(std::uint64_t id) const {
  if (id >> 63) return false;
  return decompose(id).tick <= max_tick_;
}

Result<std::uint64_t> Layout::compose(const Parts& parts) const {
  if (parts.tick < 0 || parts.tick > max_tick_) {
    return invalid(cat("tick ", parts.tick, " is outside this layout's range 0..", max_tick_));
  }
  if (parts.sequence > sequence_field().max_value()) {
    return invalid(cat(sequence_field().name(), " ", parts.sequence, " does not fit in ", sequence_field().bits,
                       " bits (max ", sequence_field().max_value(), ")"));
  }
  std::uint64_t id = (static_cast<std::uint64_t>(parts.tick) << timestamp_field().shift) |
                     (parts.sequence << sequence_field().shift);
  for (int i = 0; i < node_field_count_; ++i) {
    const Field& f = node_field(i);
    const std::uint64_t value = parts.node[static_cast<std::size_t>(i)];
    if (value > f.max_value()) {
      return invalid(cat(f.name(), " ", value, " does not fit in ", f.bits, " bits (max ", f.max_value(), ")"));
    }
    id |= value << f.shift;
  }
  return id;
}

std::array<std::uint64_t, kMaxNodeFields> Layout::node_values(std::uint64_t node_number) const {
  std::array<std::uint64_t, kMaxNodeFields> values{};
  for (int i = node_field_count_; i-- > 0;) {
    const Field& f = node_field(i);
    values[static_cast<std::size_t>(i)] = node_number & f.max_value();
    node_number >>= f.bits;
  }
  return values;
}

std::uint64_t Layout::node_number(const std::array<std::uint64_t, kMaxNodeFields>& values) const {
  std::uint64_t number = 0;
  for (int i = 0; i < node_field_count_; ++i) {
    number = (number << node_field(i).bits) | values[static_cast<std::size_t>(i)];
  }
  return number;
}

std::uint64_t Layout::node_bits_in_id(std::uint64_t node_number) const {
  if (node_bits_ < 64 && node_number >> node_bits_) detail::die("Layout::node_bits_in_id: node out of range");
  const std::array<std::uint64_t, kMaxNodeFields> values = node_values(node_number);
  std::uint64_t bits = 0;
  for (int i = 0; i < node_field_count_; ++i) bits |= values[static_cast<std::size_t>(i)] << node_field(i).shift;
  return bits;
}

Result<std::uint64_t> Layout::min_id_at(std::int64_t unix_ms) const {
  const std::int64_t tick = tick_at_unix_ms(unix_ms);
  if (tick < 0 || tick > max_tick_) {
    return invalid(cat("instant ", format_utc_ms(unix_ms), " is outside layout ", name(), "'s lifetime, ",
                       format_utc_ms(epoch_unix_ms_), " to ", format_utc_ms(capacity().last_unix_ms)));
  }
  return static_cast<std::uint64_t>(tick) << timestamp_field().shift;
}

Result<std::uint64_t> Layout::max_id_at(std::int64_t unix_ms) const {
  Result<std::uint64_t> min = min_id_at(unix_ms);
  if (!min) return min;
  return *min | ((1ULL << timestamp_field().shift) - 1);
}

Result<IdRange> Layout::id_range(std::int64_t from_unix_ms, std::int64_t to_unix_ms) const {
  if (from_unix_ms > to_unix_ms) {
    return invalid(cat("the range starts at ", format_utc_ms(from_unix_ms), ", after its end ", format_utc_ms(to_unix_ms)));
  }
  Result<std::uint64_t> min = min_id_at(from_unix_ms);
  if (!min) return min.error();
  Result<std::uint64_t> max = max_id_at(to_unix_ms);
  if (!max) return max.error();
  return IdRange{*min, *max};
}

Capacity Layout::capacity() const {
  Capacity c;
  c.ids_per_tick = sequence_field().max_value() + 1;
  c.ids_per_second_per_node = static_cast<double>(c.ids_per_tick) * 1000.0 / static_cast<double>(tick_ms_);
  c.nodes = 1ULL << node_bits_;
  c.first_unix_ms = epoch_unix_ms_;
  c.last_unix_ms = unix_ms_of_tick(max_tick_) + tick_ms_ - 1;
  // The tick that holds 2^53 is the first with an ID a JavaScript number cannot hold.
  const int shift = timestamp_field().shift;
  const std::uint64_t js_tick = shift >= 53 ? 0 : (1ULL << 53) >> shift;
  if (max_id_at(c.last_unix_ms).value() >= (1ULL << 53)) {
    c.js_unsafe_from_unix_ms = unix_ms_of_tick(static_cast<std::int64_t>(js_tick));
  }
  return c;
}

}  // namespace idforge
