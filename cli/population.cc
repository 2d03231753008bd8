// SPDX-License-Identifier: Apache-2.0
#include "population.h"

#include <algorithm>
#include <cstring>

#include "formats/bytes.h"

namespace idforge::cli {
namespace {

// Node tables up to this many bits are indexed directly (16 MiB of slots at most).
constexpr int kMaxDirectNodeBits = 22;

// The bytes of a wide ID's value, in its own order.
std::span<const std::uint8_t> value_bytes(const DecodedId& id) {
  return std::visit(
      [](const auto& v) -> std::span<const std::uint8_t> {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::uint64_t>) {
          return {};
        } else {
          return {v.bytes.data(), v.bytes.size()};
        }
      },
      id.value);
}

WideKey key_of(const DecodedId& id) {
  WideKey key;
  const std::span<const std::uint8_t> bytes = value_bytes(id);
  std::copy(bytes.begin(), bytes.end(), key.bytes.begin());
  key.bytes.back() = static_cast<std::uint8_t>(id.format);
  return key;
}

// The DecodedId a key was made from (its instant left out).
DecodedId decoded_of(const WideKey& key) {
  DecodedId id;
  id.format = static_cast<Format>(key.bytes.back());
  auto fill = [&](auto value) {
    std::copy_n(key.bytes.begin(), value.bytes.size(), value.bytes.begin());
    id.value = value;
  };
  switch (id.format) {
    case Format::snowflake: break;
    case Format::ulid: fill(Ulid{}); break;
    case Format::uuidv4:
    case Format::uuidv7: fill(Uuid{}); break;
    case Format::objectid: fill(ObjectId{}); break;
    case Format::ksuid: fill(Ksuid{}); break;
    case Format::flake128: fill(Flake128{}); break;
  }
  return id;
}

bool has_order(Format format) { return format != Format::uuidv4 && format != Format::ksuid; }

// At most 64 bytes of `word`, each byte outside printable ASCII as \xNN.
std::string printable(std::string_view word) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : word.substr(0, 64)) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f && b != '\\') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  if (word.size() > 64) out += "...";
  return out;
}

}  // namespace

Population::Population(PopulationOptions options)
    : options_(std::move(options)),
      detect_(!options_.format && !options_.encoding),
      fast_path_(detect_ || (options_.format == Format::snowflake &&
                             options_.encoding.value_or(Encoding::decimal) == Encoding::decimal)),
      ts_shift_(options_.layout.timestamp_field().shift),
      max_tick_(options_.layout.max_tick()),
      snowflakes_(options_.memory_bytes, options_.tmp_dir),
      wide_(options_.memory_bytes, options_.tmp_dir) {
  const Layout& layout = options_.layout;
  node_fields_ = layout.node_field_count();
  for (int i = 0; i < node_fields_; ++i) {
    node_bits_[i] = layout.node_field(i).bits;
    node_shift_[i] = layout.node_field(i).shift;
    node_mask_[i] = layout.node_field(i).max_value();
  }
  direct_ = layout.node_bits() <= kMaxDirectNodeBits;
  if (direct_) node_slot_.assign(std::size_t{1} << layout.node_bits(), 0);
}

void Population::set_now(std::int64_t unix_ms) {
  now_unix_ms_ = unix_ms;
  now_tick_ = options_.layout.tick_at_unix_ms(unix_ms);
}

Result<DecodedId> Population::decode_word(std::string_view word) const {
  const auto all_of = [word](std::string_view set) {
    return !word.empty() && word.find_first_not_of(set) == std::string_view::npos;
  };
  const bool hex32 = word.size() == kFlake128TextLength && all_of("0123456789abcdefABCDEF");
  if (options_.format || options_.encoding) {
    const Format format = options_.format.value_or(Format::snowflake);
    if (hex32 && (format == Format::uuidv4 || format == Format::uuidv7)) {
      // Named a UUID, the 32 hex digits are one written without its dashes.
      std::string dashed(word);
      for (std::size_t at : {std::size_t{20}, std::size_t{16}, std::size_t{12}, std::size_t{8}}) dashed.insert(at, 1, '-');
      return decode_as(dashed, format, options_.layout, Encoding::decimal);
    }
    return decode_as(word, format, options_.layout, options_.encoding.value_or(Encoding::decimal));
  }
  if (options_.digits_are_snowflakes && all_of("0123456789")) {
    return decode_as(word, Format::snowflake, options_.layout, Encoding::decimal);
  }
  if (hex32) {
    return Error(Errc::invalid_argument, "ambiguous: a flake-128 ID, or a UUID written without dashes; name it "
                                         "with --format flake128 (or uuidv7, uuidv4)");
  }
  return decode(word, options_.layout);
}

Result<void> Population::add_slow(std::string_view word, std::uint64_t line) {
  Result<DecodedId> id = decode_word(word);
  if (!id) {
    ++unparsed_;
    if (unparsed_examples_.size() < kMaxExamples) {
      unparsed_examples_.push_back({{input_, line}, printable(word), id.error().message()});
    }
    return {};
  }
  if (id->format == Format::snowflake) return add_snowflake(std::get<std::uint64_t>(id->value));
  return add_wide(*id);
}

Population::GroupKey Population::group_of(const DecodedId& id) {
  switch (id.format) {
    case Format::flake128: return {id.format, std::get<Flake128>(id.value).worker()};
    case Format::objectid: return {id.format, idforge::detail::load_be(std::get<ObjectId>(id.value).bytes.data() + 4, 5)};
    default: return {id.format, std::nullopt};
  }
}

Result<void> Population::add_wide(const DecodedId& id) {
  ++ids_;
  const WideKey key = key_of(id);
  Stats& s = wide_groups_[group_of(id)];
  ++s.ids;
  const std::int64_t unix_ms = id.unix_ms.value_or(0);
  if (id.unix_ms) {
    s.first = std::min(s.first, unix_ms);
    s.last = std::max(s.last, unix_ms);
    if (unix_ms > now_unix_ms_) ++s.future;
  }
  if (has_order(id.format) && s.last_input == input_ && key < s.last_wide) ++s.out_of_order;
  s.last_input = input_;
  s.last_wide = key;
  return wide_.add(key);
}

NodeReport Population::node_report(const GroupKey& key, const Stats& stats) {
  NodeReport r;
  r.format = key.first;
  r.node = key.second;
  r.ids = stats.ids;
  if (stats.first <= stats.last) {
    r.first_unix_ms = stats.first;
    r.last_unix_ms = stats.last;
  }
  if (has_order(key.first)) r.out_of_order = stats.out_of_order;
  r.future = stats.future;
  r.duplicates = stats.duplicates;
  return r;
}

Result<PopulationReport> Population::finish() {
  PopulationReport report;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> snowflake_repeats;
  Result<void> searched = snowflakes_.finish([&](std::uint64_t id, std::uint64_t occurrences) -> Result<void> {
    report.duplicates += occurrences - 1;
    ++report.distinct_repeated;
    snowflake_stats(node_of(id)).duplicates += occurrences - 1;
    snowflake_repeats.emplace_back(id, occurrences);
    return {};
  });
  if (!searched) return searched.error();
  std::vector<std::pair<WideKey, std::uint64_t>> wide_repeats;
  searched = wide_.finish([&](const WideKey& key, std::uint64_t occurrences) -> Result<void> {
    report.duplicates += occurrences - 1;
    ++report.distinct_repeated;
    wide_groups_[group_of(decoded_of(key))].duplicates += occurrences - 1;
    wide_repeats.emplace_back(key, occurrences);
    return {};
  });
  if (!searched) return searched.error();

  // The smallest repeated IDs are the examples: the same ones on every run.
  std::sort(snowflake_repeats.begin(), snowflake_repeats.end());
  std::sort(wide_repeats.begin(), wide_repeats.end());
  for (const auto& [id, occurrences] : snowflake_repeats) {
    if (report.repeats.size() == kMaxExamples) break;
    report.repeats.push_back({std::to_string(id), occurrences, {}});
  }
  for (const auto& [key, occurrences] : wide_repeats) {
    if (report.repeats.size() == kMaxExamples) break;
    char text[kMaxIdTextLength];
    report.repeats.push_back({std::string(text, format_to(decoded_of(key), text)), occurrences, {}});
  }

  report.ids = ids_;
  report.unparsed = unparsed_;
  report.unparsed_examples = unparsed_examples_;
  std::sort(node_table_.begin(), node_table_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const Layout& layout = options_.layout;
  for (const auto& [node, stats] : node_table_) {
    Stats in_ms = stats;
    in_ms.first = layout.unix_ms_of_tick(stats.first);
    in_ms.last = layout.unix_ms_of_tick(stats.last);
    report.nodes.push_back(node_report({Format::snowflake, node}, in_ms));
  }
  for (const auto& [group, stats] : wide_groups_) report.nodes.push_back(node_report(group, stats));
  for (const NodeReport& n : report.nodes) {
    report.out_of_order += n.out_of_order.value_or(0);
    report.future += n.future;
  }
  return report;
}

int Population::repeat_index(const PopulationReport& report, std::string_view word) const {
  if (report.repeats.empty()) return -1;
  std::uint64_t id;
  std::string text;
  if (fast_path_ && read_decimal(word, id)) {
    text = std::to_string(id);
  } else {
    Result<DecodedId> d = decode_word(word);
    if (!d) return -1;
    char buf[kMaxIdTextLength];
    text.assign(buf, format_to(*d, buf));
  }
  for (std::size_t i = 0; i < report.repeats.size(); ++i) {
    if (report.repeats[i].id == text) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace idforge::cli
