// decode: it succeeds exactly when one reading exists, and that reading is what
// decode_as gives for its format.
#include "fuzz.h"
#include "idforge/decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace idforge;
  const std::string_view text = fuzz::as_text(data, size);
  const Layout layout = Layout::twitter();
  Result<DecodedId> decoded = decode(text, layout);
  const std::vector<DecodedId> candidates = decode_candidates(text, layout);
  fuzz::check(decoded.has_value() == (candidates.size() == 1), "decode succeeds iff one candidate", text);
  if (!decoded) return 0;
  Result<DecodedId> pinned = decode_as(text, decoded->format, layout, decoded->encoding);
  fuzz::check(pinned.has_value() && pinned->value == decoded->value && pinned->unix_ms == decoded->unix_ms,
              "decode_as agrees with decode", text);
  return 0;
}
