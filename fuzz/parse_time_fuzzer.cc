// parse_utc_ms: an instant that parses prints as text that parses to the same instant.
#include "fuzz.h"
#include "idforge/time_text.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace idforge;
  const std::string_view text = fuzz::as_text(data, size);
  Result<std::int64_t> ms = parse_utc_ms(text);
  if (!ms) return 0;
  if (*ms < kMinPrintableUnixMs || *ms > kMaxPrintableUnixMs) return 0;
  fuzz::check(parse_utc_ms(format_utc_ms(*ms)).value() == *ms, "parse(format(parse(text)))", text);
  return 0;
}
