// SPDX-License-Identifier: Apache-2.0
// parse_id in every encoding (the first byte picks it): what parses prints back as
// the same text (hex and base32 in their canonical case).
#include "fuzz.h"
#include "idforge/encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace idforge;
  if (size == 0) return 0;
  const auto encodings = all_encodings();
  const Encoding encoding = encodings[data[0] % encodings.size()];
  const std::string_view text = fuzz::as_text(data + 1, size - 1);
  Result<std::uint64_t> id = parse_id(text, encoding);
  if (!id) return 0;
  const std::string printed = encode(*id, encoding);
  const bool either_case = encoding == Encoding::hex || encoding == Encoding::base32;
  fuzz::check(either_case ? fuzz::lower(printed) == fuzz::lower(text) : printed == text, "encode(parse(text))", text);
  fuzz::check(parse_id(printed, encoding).value() == *id, "parse(encode(id))", text);
  return 0;
}
