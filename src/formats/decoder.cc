// SPDX-License-Identifier: Apache-2.0
#include "idforge/decoder.h"

#include <type_traits>

#include "core/text.h"
#include "formats/bytes.h"

namespace idforge {
namespace {

Result<DecodedId> snowflake(std::string_view text, const Layout& layout, Encoding encoding) {
  Result<std::uint64_t> id = parse_id(text, encoding);
  if (!id) return id.error();
  if (!layout.is_valid_id(*id)) {
    return Error(Errc::invalid_argument, detail::cat("'", text, "' is not a ", layout.name(),
                                                     " ID: it is above the largest ID the layout can make"));
  }
  return DecodedId{Format::snowflake, encoding, *id, layout.unix_ms_of_tick(layout.decompose(*id).tick)};
}

Result<DecodedId> uuid(std::string_view text, Format format) {
  Result<Uuid> u = parse_uuid(text, format == Format::uuidv4 ? 4 : 7);
  if (!u) return u.error();
  std::optional<std::int64_t> unix_ms;
  if (format == Format::uuidv7) unix_ms = u->v7_unix_ms();
  return DecodedId{format, Encoding::decimal, *u, unix_ms};
}

// Calls `visit` with each reading of `text`, in Format order. Only readings whose
// text length fits are tried, so the common case builds no error messages.
template <class Visit>
void each_reading(std::string_view text, const Layout& layout, Visit&& visit) {
  for (Encoding e : all_encodings()) {
    if (e == Encoding::base58) continue;  // Any short word is base58: only when asked for.
    const TextWidth width = text_width(e);
    if (text.size() < width.min || text.size() > width.max) continue;
    if (Result<DecodedId> d = snowflake(text, layout, e)) visit(*d);
  }
  for (Format f : all_formats()) {
    if (f == Format::snowflake || text.size() != max_text_length(f)) continue;
    if (Result<DecodedId> d = decode_as(text, f, layout)) visit(*d);
  }
}

}  // namespace

std::size_t max_text_length(Format format) {
  switch (format) {
    case Format::snowflake: return kMaxEncodedLength;
    case Format::ulid: return kUlidTextLength;
    case Format::uuidv4:
    case Format::uuidv7: return kUuidTextLength;
    case Format::objectid: return kObjectIdTextLength;
    case Format::ksuid: return kKsuidTextLength;
    case Format::flake128: return kFlake128TextLength;
  }
  return kMaxEncodedLength;
}

char* format_to(const DecodedId& id, char* out) {
  return std::visit(
      [out](const auto& v) -> char* {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::uint64_t>) {
          return encode_to(v, Encoding::decimal, out);
        } else {
          return format_to(v, out);
        }
      },
      id.value);
}

std::string DecodedId::describe() const {
  std::string s(to_string(format));
  if (format == Format::snowflake && encoding != Encoding::decimal) s.append(" (").append(to_string(encoding)) += ')';
  return s;
}

Result<DecodedId> decode_as(std::string_view text, Format format, const Layout& layout, Encoding encoding) {
  switch (format) {
    case Format::snowflake:
      return snowflake(text, layout, encoding);
    case Format::uuidv4:
    case Format::uuidv7:
      return uuid(text, format);
    case Format::ulid: {
      Result<Ulid> u = parse_ulid(text);
      if (!u) return u.error();
      return DecodedId{format, Encoding::decimal, *u, u->unix_ms()};
    }
    case Format::objectid: {
      Result<ObjectId> o = parse_object_id(text);
      if (!o) return o.error();
      return DecodedId{format, Encoding::decimal, *o, o->unix_seconds() * 1000};
    }
    case Format::ksuid: {
      Result<Ksuid> k = parse_ksuid(text);
      if (!k) return k.error();
      return DecodedId{format, Encoding::decimal, *k, k->unix_seconds() * 1000};
    }
    case Format::flake128: {
      Result<Flake128> f = parse_flake128(text);
      if (!f) return f.error();
      if (f->unix_ms() > static_cast<std::uint64_t>(INT64_MAX)) {
        return Error(Errc::invalid_argument,
                     detail::not_a("a flake-128 ID", text,
                                   detail::cat("its time field (", f->unix_ms(),
                                               " ms) is past the year 292,278,994, which no clock reaches")));
      }
      return DecodedId{format, Encoding::decimal, *f, static_cast<std::int64_t>(f->unix_ms())};
    }
  }
  return Error(Errc::invalid_argument, "unknown format");
}

std::vector<DecodedId> decode_candidates(std::string_view text, const Layout& layout) {
  std::vector<DecodedId> out;
  each_reading(text, layout, [&out](const DecodedId& d) { out.push_back(d); });
  return out;
}

Result<DecodedId> decode(std::string_view text, const Layout& layout) {
  std::optional<DecodedId> only;
  std::size_t readings = 0;
  each_reading(text, layout, [&](const DecodedId& d) {
    if (readings++ == 0) only = d;
  });
  if (readings == 1) return *only;
  if (readings > 1) {
    const std::vector<DecodedId> found = decode_candidates(text, layout);
    std::string names;
    for (const DecodedId& d : found) names.append(names.empty() ? "" : ", ").append(d.describe());
    return Error(Errc::invalid_argument, detail::cat("'", text, "' is ambiguous: it reads as ", names,
                                                     "; name the format (and, for Snowflake, the encoding) to read it as one"));
  }
  // None fits: explain with the format whose length matches, if any.
  struct Shape {
    std::size_t length;
    Format format;
  };
  static constexpr Shape kShapes[] = {{kUuidTextLength, Format::uuidv7},  {kUlidTextLength, Format::ulid},
                                      {kKsuidTextLength, Format::ksuid},  {kObjectIdTextLength, Format::objectid},
                                      {kFlake128TextLength, Format::flake128}};
  for (const Shape& s : kShapes) {
    if (text.size() != s.length) continue;
    if (s.format == Format::uuidv7) {
      Result<Uuid> u = parse_uuid(text);
      if (!u) return u.error();
      return Error(Errc::invalid_argument,
                   detail::cat("'", text, "' is a UUID of version ", u->version(),
                               u->rfc_variant() ? "" : " with a non-RFC variant",
                               "; idforge reads versions 4 and 7 of RFC 9562's variant"));
    }
    return decode_as(text, s.format, layout).error();
  }
  if (text.size() <= kMaxEncodedLength) return snowflake(text, layout, Encoding::decimal).error();
  return Error(Errc::invalid_argument,
               detail::not_a("an ID", text,
                             detail::cat("it is ", text.size(),
                                         " characters long, and no format idforge reads has that length "
                                         "(Snowflake up to 20, ObjectId 24, ULID 26, KSUID 27, flake-128 32, "
                                         "UUID 36)")));
}

}  // namespace idforge
