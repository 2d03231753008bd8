// The fields of a decoded ID as `idforge decode` and `GET /v1/decode/{id}` show
// them: one description, so the table, the CLI's JSON and the service's JSON agree.
#ifndef IDFORGE_SERVER_DECODED_FIELDS_H_
#define IDFORGE_SERVER_DECODED_FIELDS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "idforge/decoder.h"
#include "idforge/layout.h"

namespace idforge::detail {

// One field of a decoded ID after its ID and time.
struct DecodedField {
  std::string name;
  nlohmann::ordered_json value;  // A number or a string.
  std::size_t width;             // The width a table column needs for it.
};

// The fields `d` shows, in order: a Snowflake ID's node fields and sequence, a
// ULID's random part, and so on.
std::vector<DecodedField> decoded_fields(const DecodedId& d, const Layout& layout);

// The longest text an ID of `format` has (a Snowflake ID in any encoding).
std::size_t max_text_length(Format format);

// The ID in its canonical text: decimal for Snowflake, the format's own otherwise.
std::string canonical_text(const DecodedId& d);

// The JSON object of `idforge decode --json`: id (a string), format, the input in
// its encoding and the layout (Snowflake), time, unix_ms, each field, future.
// `input` is the text that was decoded; `now_unix_ms` decides `future`.
nlohmann::ordered_json decoded_json(const DecodedId& d, const Layout& layout, std::string_view input,
                                    std::int64_t now_unix_ms);

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_DECODED_FIELDS_H_
