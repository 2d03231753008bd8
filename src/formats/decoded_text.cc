// SPDX-License-Identifier: Apache-2.0
#include "formats/decoded_text.h"

#include <algorithm>
#include <charconv>
#include <span>

#include "idforge/time_text.h"

namespace idforge::detail {
namespace {

std::size_t digits(std::uint64_t max) {
  std::size_t n = 1;
  for (; max >= 10; max /= 10) ++n;
  return n;
}

DecodedField number(std::string_view name, std::uint64_t value, std::size_t width) {
  DecodedField f;
  f.name = name;
  f.number = value;
  f.width = std::max(name.size(), width);
  return f;
}

DecodedField hex(std::string_view name, std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  DecodedField f;
  f.name = name;
  f.is_text = true;
  for (std::uint8_t b : bytes) {
    f.text[f.text_length++] = kDigits[b >> 4];
    f.text[f.text_length++] = kDigits[b & 15];
  }
  f.width = std::max(name.size(), f.text_length);
  return f;
}

char* put(char* out, std::string_view s) { return std::copy(s.begin(), s.end(), out); }

char* put_number(char* out, std::uint64_t v) { return std::to_chars(out, out + 20, v).ptr; }

char* put_upper(char* out, std::string_view s) {
  for (char c : s) *out++ = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  return out;
}

// Pads the column that started at `start` to `width`, then the gap to the next.
char* pad(char* start, char* end, std::size_t width) {
  const std::size_t used = static_cast<std::size_t>(end - start);
  if (used < width) end = std::fill_n(end, width - used, ' ');
  return std::fill_n(end, 2, ' ');
}

char* end_line(char* start, char* end) {
  while (end > start && end[-1] == ' ') --end;
  *end++ = '\n';
  return end;
}

char* put_field_value(char* out, const DecodedField& f) {
  return f.is_text ? put(out, f.text_value()) : put_number(out, f.number);
}

}  // namespace

DecodedFields decoded_fields(const DecodedId& d, const Layout& layout) {
  DecodedFields out;
  auto add = [&out](DecodedField f) { out.items[out.count++] = f; };
  switch (d.format) {
    case Format::snowflake: {
      const Parts parts = layout.decompose(std::get<std::uint64_t>(d.value));
      int node = 0;
      for (const Field& f : layout.fields()) {
        if (f.kind == FieldKind::timestamp) continue;
        const std::uint64_t v =
            f.kind == FieldKind::sequence ? parts.sequence : parts.node[static_cast<std::size_t>(node++)];
        add(number(f.name(), v, digits(f.max_value())));
      }
      break;
    }
    case Format::ulid:
      add(hex("random", std::span(std::get<Ulid>(d.value).bytes).subspan(6)));
      break;
    case Format::uuidv4:
    case Format::uuidv7:
      add(number("version", static_cast<std::uint64_t>(std::get<Uuid>(d.value).version()), 1));
      break;
    case Format::objectid: {
      const auto& b = std::get<ObjectId>(d.value).bytes;
      add(hex("process", std::span(b).subspan(4, 5)));
      add(number("counter", std::uint64_t{b[9]} << 16 | std::uint64_t{b[10]} << 8 | b[11], 8));
      break;
    }
    case Format::ksuid:
      add(hex("payload", std::span(std::get<Ksuid>(d.value).bytes).subspan(4)));
      break;
    case Format::flake128: {
      const Flake128& f = std::get<Flake128>(d.value);
      add(number("worker", f.worker(), digits(kFlake128Workers - 1)));
      add(number("sequence", f.sequence(), 5));
      break;
    }
  }
  return out;
}

char* write_table_header(const DecodedId& d, const DecodedFields& fields, char* out) {
  char* const line = out;
  char* col = out;
  out = d.format == Format::snowflake ? put(out, "ID") : put_upper(out, to_string(d.format));
  out = pad(col, out, max_text_length(d.format));
  col = out;
  out = pad(col, put(out, "TIME"), kUtcTextLength);
  for (const DecodedField& f : fields) {
    col = out;
    out = pad(col, put_upper(out, f.name), f.width);
  }
  return end_line(line, put(out, "NOTE"));
}

char* write_table_row(const DecodedId& d, const DecodedFields& fields, std::int64_t now_unix_ms, char* out) {
  char* const line = out;
  char* col = out;
  out = pad(col, format_to(d, out), max_text_length(d.format));
  col = out;
  out = pad(col, d.unix_ms ? format_utc_ms_to(*d.unix_ms, out) : put(out, "-"), kUtcTextLength);
  for (const DecodedField& f : fields) {
    col = out;
    out = pad(col, put_field_value(out, f), f.width);
  }
  if (d.unix_ms && *d.unix_ms > now_unix_ms) out = put(out, "stamped in the future");
  return end_line(line, out);
}

char* write_json(const DecodedId& d, const DecodedFields& fields, const Layout& layout, std::string_view input,
                 std::int64_t now_unix_ms, char* out) {
  out = put(out, "{\"id\":\"");
  out = format_to(d, out);
  out = put(put(put(out, "\",\"format\":\""), to_string(d.format)), "\"");
  if (d.format == Format::snowflake) {
    if (d.encoding != Encoding::decimal) {
      out = put(put(put(put(put(out, ",\""), to_string(d.encoding)), "\":\""), input), "\"");
    }
    out = put(put(put(out, ",\"layout\":\""), layout.name()), "\"");
  }
  if (d.unix_ms) {
    out = put(out, ",\"time\":\"");
    out = format_utc_ms_to(*d.unix_ms, out);
    out = put(out, "\",\"unix_ms\":");
    out = std::to_chars(out, out + 20, *d.unix_ms).ptr;
  }
  for (const DecodedField& f : fields) {
    out = put(put(put(out, ",\""), f.name), "\":");
    out = f.is_text ? put(put(put(out, "\""), f.text_value()), "\"") : put_number(out, f.number);
  }
  if (d.unix_ms) out = put(out, *d.unix_ms > now_unix_ms ? ",\"future\":true" : ",\"future\":false");
  return put(out, "}\n");
}

}  // namespace idforge::detail
