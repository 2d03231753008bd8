// SPDX-License-Identifier: Apache-2.0
// decode: it succeeds exactly when one reading exists, and that reading is what
// decode_as gives for its format. Every reading — detected, or asked for with
// decode_as in any format and encoding — renders as a table row and as a JSON
// object within the writers' bound, and the JSON parses back to the same ID and
// instant: nothing taken from input stops the process.
#include <nlohmann/json.hpp>

#include "formats/decoded_text.h"
#include "fuzz.h"
#include "idforge/decoder.h"

namespace {

using namespace idforge;

void render(const DecodedId& d, const Layout& layout, std::string_view text) {
  const detail::DecodedFields fields = detail::decoded_fields(d, layout);
  char buf[2 * detail::kMaxDecodedTextLength];
  const std::int64_t now_ms = 1'800'000'000'000;
  char* end = detail::write_table_row(d, fields, now_ms, detail::write_table_header(d, fields, buf));
  fuzz::check(static_cast<std::size_t>(end - buf) <= sizeof buf, "table within its bound", text);
  end = detail::write_json(d, fields, layout, text, now_ms, buf);
  fuzz::check(static_cast<std::size_t>(end - buf) <= detail::kMaxDecodedTextLength, "JSON within its bound", text);
  const nlohmann::json j = nlohmann::json::parse(buf, end, nullptr, /*allow_exceptions=*/false);
  fuzz::check(!j.is_discarded(), "JSON parses", text);
  char id[kMaxIdTextLength];
  fuzz::check(j.at("id") == std::string(id, format_to(d, id)), "JSON id", text);
  fuzz::check(j.contains("unix_ms") == d.unix_ms.has_value(), "JSON unix_ms present", text);
  if (d.unix_ms) fuzz::check(j.at("unix_ms").get<std::int64_t>() == *d.unix_ms, "JSON unix_ms", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  const Layout layouts[] = {Layout::twitter(), Layout::sonyflake()};
  for (const Layout& layout : layouts) {
    Result<DecodedId> decoded = decode(text, layout);
    const std::vector<DecodedId> candidates = decode_candidates(text, layout);
    fuzz::check(decoded.has_value() == (candidates.size() == 1), "decode succeeds iff one candidate", text);
    if (decoded) {
      Result<DecodedId> pinned = decode_as(text, decoded->format, layout, decoded->encoding);
      fuzz::check(pinned.has_value() && pinned->value == decoded->value && pinned->unix_ms == decoded->unix_ms,
                  "decode_as agrees with decode", text);
    }
    for (Format f : all_formats()) {
      for (Encoding e : all_encodings()) {
        if (f != Format::snowflake && e != Encoding::decimal) continue;
        if (Result<DecodedId> d = decode_as(text, f, layout, e)) render(*d, layout, text);
      }
    }
  }
  return 0;
}
