#include "idforge/decoder.h"

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

}  // namespace

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
      return DecodedId{format, Encoding::decimal, *f, f->unix_ms()};
    }
  }
  return Error(Errc::invalid_argument, "unknown format");
}

std::vector<DecodedId> decode_candidates(std::string_view text, const Layout& layout) {
  std::vector<DecodedId> out;
  for (Encoding e : all_encodings()) {
    if (e == Encoding::base58) continue;  // Any short word is base58: only when asked for.
    if (Result<DecodedId> d = snowflake(text, layout, e)) out.push_back(*d);
  }
  for (Format f : all_formats()) {
    if (f == Format::snowflake) continue;
    if (Result<DecodedId> d = decode_as(text, f, layout)) out.push_back(*d);
  }
  return out;
}

Result<DecodedId> decode(std::string_view text, const Layout& layout) {
  std::vector<DecodedId> found = decode_candidates(text, layout);
  if (found.size() == 1) return found.front();
  if (found.size() > 1) {
    std::string names;
    for (const DecodedId& d : found) names.append(names.empty() ? "" : ", ").append(d.describe());
    return Error(Errc::invalid_argument, detail::cat("'", text, "' is ambiguous: it reads as ", names,
                                                     "; choose one with --format (and --encoding)"));
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
