// SPDX-License-Identifier: Apache-2.0
// parse_uuid: what parses prints back as the same text in lowercase; asking for the
// version it has succeeds exactly when the variant is RFC 9562's.
#include "fuzz.h"
#include "idforge/uuid.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace idforge;
  const std::string_view text = fuzz::as_text(data, size);
  Result<Uuid> uuid = parse_uuid(text);
  if (!uuid) return 0;
  const std::string printed = to_string(*uuid);
  fuzz::check(printed == fuzz::lower(text), "to_string(parse(text))", text);
  fuzz::check(parse_uuid(printed).value() == *uuid, "parse(to_string(uuid))", text);
  fuzz::check(parse_uuid(text, uuid->version()).has_value() == uuid->rfc_variant(), "version check", text);
  return 0;
}
