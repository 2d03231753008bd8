// SPDX-License-Identifier: Apache-2.0
// The text form of layouts: Layout::parse and Layout::spec (grammar in layout.h and
// docs/layouts.md).
#include <vector>

#include "core/text.h"
#include "idforge/layout.h"
#include "idforge/time_text.h"

namespace idforge {
namespace {

using detail::cat;

constexpr std::string_view kExample = "time:41-worker:10-seq:12/tick=1ms/epoch=2024-01-01";

Error bad_spec(std::string_view spec, std::string_view why) {
  return Error(Errc::invalid_argument, cat("layout '", spec, "': ", why));
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(sep, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

Result<std::int64_t> parse_tick(std::string_view spec, std::string_view value) {
  std::int64_t unit = 0;
  std::string_view digits;
  if (value.ends_with("ms")) {
    unit = 1;
    digits = value.substr(0, value.size() - 2);
  } else if (value.ends_with("s")) {
    unit = 1000;
    digits = value.substr(0, value.size() - 1);
  }
  auto n = detail::parse_nonnegative(digits);
  if (unit == 0 || !n || *n == 0 || *n > 86'400'000 / unit) {
    return bad_spec(spec, cat("tick '", value, "' must be a whole number of ms or s, such as 1ms, 10ms or 1s"));
  }
  return *n * unit;
}

Result<std::int64_t> parse_epoch(std::string_view spec, std::string_view value) {
  Result<std::int64_t> ms = parse_instant(value);
  if (!ms) return bad_spec(spec, cat("epoch '", value, "' must be Unix milliseconds or a UTC date such as 2024-01-01"));
  return ms;
}

}  // namespace

Result<Layout> Layout::parse(std::string_view text) {
  if (text == "twitter") return twitter();
  if (text == "discord") return discord();
  if (text == "instagram") return instagram();
  if (text == "sonyflake") return sonyflake();
  if (text == "baidu") return baidu();
  if (text == "js53") return js53();
  if (text.find(':') == std::string_view::npos) {
    std::string names;
    for (std::string_view name : preset_names()) names += cat(names.empty() ? "" : ", ", name);
    return Error(Errc::invalid_argument,
                 cat("unknown layout '", text, "': use a preset (", names, ") or a spec such as ", kExample));
  }
  std::vector<std::string_view> sections = split(text, '/');
  std::vector<FieldSpec> fields;
  for (std::string_view item : split(sections[0], '-')) {
    const std::size_t colon = item.find(':');
    auto bits = colon == std::string_view::npos ? std::nullopt : detail::parse_nonnegative(item.substr(colon + 1));
    if (!bits || *bits > 64) {
      return bad_spec(text, cat("field '", item, "' must be name:bits, as in worker:10 (example: ", kExample, ")"));
    }
    fields.push_back({item.substr(0, colon), static_cast<int>(*bits)});
  }
  std::int64_t tick_ms = 1;
  std::int64_t epoch_ms = 0;
  bool seen_tick = false;
  bool seen_epoch = false;
  for (std::size_t i = 1; i < sections.size(); ++i) {
    const std::string_view option = sections[i];
    if (option.starts_with("tick=") && !seen_tick) {
      seen_tick = true;
      Result<std::int64_t> tick = parse_tick(text, option.substr(5));
      if (!tick) return tick.error();
      tick_ms = *tick;
    } else if (option.starts_with("epoch=") && !seen_epoch) {
      seen_epoch = true;
      Result<std::int64_t> epoch = parse_epoch(text, option.substr(6));
      if (!epoch) return epoch.error();
      epoch_ms = *epoch;
    } else {
      return bad_spec(text, cat("option '", option, "' is unknown or repeated; options are tick= and epoch="));
    }
  }
  Result<Layout> layout = create(fields, tick_ms, epoch_ms);
  if (!layout) return bad_spec(text, layout.error().message());
  return layout;
}

std::string Layout::geometry() const {
  std::string out;
  FieldKind run = FieldKind::timestamp;
  int bits = 0;
  auto flush = [&] {
    if (bits > 0) out += cat(out.empty() ? "" : "-", run == FieldKind::node ? "node" : "seq", bits);
  };
  for (const Field& f : fields()) {
    if (f.kind == FieldKind::timestamp) continue;
    if (f.kind != run) {
      flush();
      run = f.kind;
      bits = 0;
    }
    bits += f.bits;
  }
  flush();
  return out;
}

std::string Layout::spec() const {
  std::string out;
  for (const Field& f : fields()) out += cat(out.empty() ? "" : "-", f.name(), ":", f.bits);
  if (tick_ms_ % 1000 == 0) {
    out += cat("/tick=", tick_ms_ / 1000, "s");
  } else {
    out += cat("/tick=", tick_ms_, "ms");
  }
  std::string epoch = format_utc_ms(epoch_unix_ms_);
  if (epoch.ends_with("T00:00:00.000Z")) epoch.resize(10);
  return out + "/epoch=" + epoch;
}

}  // namespace idforge
