// SPDX-License-Identifier: Apache-2.0
// Private: a decoded ID as `idforge decode` prints it (a table row, or one JSON
// object) and as `GET /v1/decode/{id}` answers it — one description, so the table,
// the CLI's JSON and the service's JSON agree.
//
// The writers put text at a caller's pointer and never allocate, so decode streams
// millions of IDs a second. Every string they write is ASCII from a closed set
// (digits, hex, the alphabets of the encodings, layout and field names of
// [a-z0-9_], ISO-8601 instants), so the JSON needs no escaping. They accept every
// DecodedId the decoder can return: no instant, field value or format stops them.
//
// Thread safety: pure functions.
#ifndef IDFORGE_SRC_FORMATS_DECODED_TEXT_H_
#define IDFORGE_SRC_FORMATS_DECODED_TEXT_H_

#include <array>
#include <cstdint>
#include <string_view>

#include "idforge/decoder.h"
#include "idforge/layout.h"

namespace idforge::detail {

// One field of a decoded ID after its ID and time: a number, or text (hex bytes).
struct DecodedField {
  std::string_view name;
  bool is_text = false;
  std::uint64_t number = 0;
  std::array<char, 32> text{};
  std::size_t text_length = 0;
  std::size_t width = 0;  // The width a table column needs for it.

  std::string_view text_value() const { return {text.data(), text_length}; }
};

// The fields `d` shows, in order: a Snowflake ID's node fields and sequence, a
// ULID's random part, a UUID's version, and so on.
struct DecodedFields {
  std::array<DecodedField, kMaxFields> items{};
  std::size_t count = 0;

  const DecodedField* begin() const { return items.data(); }
  const DecodedField* end() const { return items.data() + count; }
};
DecodedFields decoded_fields(const DecodedId& d, const Layout& layout);

// The most a table header, a table row or a JSON object can take.
inline constexpr std::size_t kMaxDecodedTextLength = 512;

// Writes the table header for rows of `format` ("ID  TIME  WORKER … NOTE\n").
char* write_table_header(const DecodedId& d, const DecodedFields& fields, char* out);

// Writes one table row: ID, time ("-" when the format has none), the fields, and
// "stamped in the future" when the ID's instant is after `now_unix_ms`.
char* write_table_row(const DecodedId& d, const DecodedFields& fields, std::int64_t now_unix_ms, char* out);

// Writes the JSON object of `idforge decode --json` and the service, and a newline:
// id (a string), format, the input in its encoding and the layout (Snowflake),
// time and unix_ms (when the format has an instant), each field by name, future.
// `input` is the text that was decoded.
char* write_json(const DecodedId& d, const DecodedFields& fields, const Layout& layout, std::string_view input,
                 std::int64_t now_unix_ms, char* out);

}  // namespace idforge::detail

#endif  // IDFORGE_SRC_FORMATS_DECODED_TEXT_H_
