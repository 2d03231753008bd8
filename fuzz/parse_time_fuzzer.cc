// SPDX-License-Identifier: Apache-2.0
// parse_utc_ms: an instant that parses prints as the same text when the text was in
// the full form, and as text that parses to the same instant always.
#include "fuzz.h"
#include "idforge/time_text.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace idforge;
  const std::string_view text = fuzz::as_text(data, size);
  Result<std::int64_t> ms = parse_utc_ms(text);
  if (!ms) return 0;
  const std::string printed = format_utc_ms(*ms);
  fuzz::check(printed.size() <= kMaxUtcTextLength, "printed length", text);
  fuzz::check(parse_utc_ms(printed).value() == *ms, "parse(format(parse(text)))", text);
  if (text.ends_with("Z") && text[text.size() - 5] == '.') fuzz::check(printed == text, "format(parse(text))", text);
  return 0;
}
