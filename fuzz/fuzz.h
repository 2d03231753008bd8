// SPDX-License-Identifier: Apache-2.0
// What every fuzz target shares: the libFuzzer entry point's signature and a check
// that stops the run with a message when a round trip breaks.
#ifndef IDFORGE_FUZZ_FUZZ_H_
#define IDFORGE_FUZZ_FUZZ_H_

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace idforge::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Stops the process (a finding) when `ok` is false.
inline void check(bool ok, std::string_view what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "round trip broken: %.*s (input of %zu bytes: '%.*s')\n", static_cast<int>(what.size()),
               what.data(), input.size(), static_cast<int>(input.size()), input.data());
  std::abort();
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace idforge::fuzz

#endif  // IDFORGE_FUZZ_FUZZ_H_
