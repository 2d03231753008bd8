// SPDX-License-Identifier: Apache-2.0
// parse_ksuid: what parses prints back as the same text exactly, and parses again to the
// same value.
#include "fuzz.h"
#include "idforge/ksuid.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace idforge;
  const std::string_view text = fuzz::as_text(data, size);
  Result<Ksuid> id = parse_ksuid(text);
  if (!id) return 0;
  const std::string printed = to_string(*id);
  fuzz::check(printed == text, "to_string(parse(text))", text);
  fuzz::check(parse_ksuid(printed).value() == *id, "parse(to_string(id))", text);
  return 0;
}
