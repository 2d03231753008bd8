// SPDX-License-Identifier: Apache-2.0
// parse_ulid: what parses prints back as the same text in its canonical case, and parses again to the
// same value.
#include "fuzz.h"
#include "idforge/ulid.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace idforge;
  const std::string_view text = fuzz::as_text(data, size);
  Result<Ulid> id = parse_ulid(text);
  if (!id) return 0;
  const std::string printed = to_string(*id);
  fuzz::check(printed == fuzz::upper(text), "to_string(parse(text))", text);
  fuzz::check(parse_ulid(printed).value() == *id, "parse(to_string(id))", text);
  return 0;
}
