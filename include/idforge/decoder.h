// SPDX-License-Identifier: Apache-2.0
// Decoder: one entry point that reads an ID of any format idforge knows.
//
// decode() tries every reading of a string — each wide format's canonical text, and
// a Snowflake ID of the given layout in decimal or in a fixed-width encoding (hex,
// base62, base32) — and succeeds only when exactly one fits. When several fit (16
// digits are decimal and hex at once; 13 digits decimal and base32) it fails and
// names them, so the caller picks one with decode_as(); it never guesses. base58 is
// read only through decode_as(), because nearly any short word is valid base58.
// Typical IDs are unambiguous: a 19-digit Snowflake, a 26-character ULID, a
// 36-character UUID.
//
// UUIDs of versions other than 4 and 7 are refused: idforge neither makes nor
// interprets them.
//
// Thread safety: pure functions.
//
// Example:
//
//   idforge::Result<idforge::DecodedId> id =
//       idforge::decode("01ARZ3NDEKTSV4RRFFQ69G5FAV", idforge::Layout::twitter());
//   // id->format == Format::ulid, id->unix_ms == 1469918176385
#ifndef IDFORGE_DECODER_H_
#define IDFORGE_DECODER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "idforge/encoding.h"
#include "idforge/flake128.h"
#include "idforge/formats.h"
#include "idforge/ksuid.h"
#include "idforge/layout.h"
#include "idforge/object_id.h"
#include "idforge/result.h"
#include "idforge/ulid.h"
#include "idforge/uuid.h"

namespace idforge {

struct DecodedId {
  Format format = Format::snowflake;
  // The text form a Snowflake ID was read in (decimal for the other formats).
  Encoding encoding = Encoding::decimal;
  // The value; its alternative matches `format` (a UUID for uuidv4 and uuidv7).
  std::variant<std::uint64_t, Ulid, Uuid, ObjectId, Ksuid, Flake128> value;
  // The instant the ID carries, in Unix ms (seconds × 1000 for ObjectId and KSUID;
  // the tick's first millisecond for Snowflake); nullopt for UUIDv4.
  std::optional<std::int64_t> unix_ms;

  // "ulid", or "snowflake (hex)" for a Snowflake ID not in decimal.
  std::string describe() const;
};

// The longest text an ID of `format` has (a Snowflake ID in any encoding), and the
// longest of all formats (a UUID).
std::size_t max_text_length(Format format);
inline constexpr std::size_t kMaxIdTextLength = kUuidTextLength;

// Writes the ID's canonical text (decimal for Snowflake, the format's own
// otherwise) at `out`; returns the end. REQUIRES: kMaxIdTextLength characters of room.
char* format_to(const DecodedId& id, char* out);

// Every reading of `text` (see the file comment), in Format order.
std::vector<DecodedId> decode_candidates(std::string_view text, const Layout& layout);

// Reads `text` as exactly one format, failing with invalid_argument when it is
// none or more than one, with the reasons or the candidates.
Result<DecodedId> decode(std::string_view text, const Layout& layout);

// Reads `text` as `format` only (a Snowflake ID of `layout` in `encoding`); for
// uuidv4 and uuidv7 the version and variant must match.
Result<DecodedId> decode_as(std::string_view text, Format format, const Layout& layout,
                            Encoding encoding = Encoding::decimal);

}  // namespace idforge

#endif  // IDFORGE_DECODER_H_
