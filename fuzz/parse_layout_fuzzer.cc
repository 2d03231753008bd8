// SPDX-License-Identifier: Apache-2.0
// Layout::parse: a layout that parses has a spec that parses to an equal layout.
#include "fuzz.h"
#include "idforge/layout.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace idforge;
  const std::string_view text = fuzz::as_text(data, size);
  Result<Layout> layout = Layout::parse(text);
  if (!layout) return 0;
  Result<Layout> again = Layout::parse(layout->spec());
  fuzz::check(again.has_value() && *again == *layout, "parse(spec(parse(text)))", text);
  fuzz::check(again->spec() == layout->spec(), "spec is stable", text);
  return 0;
}
