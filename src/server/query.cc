// SPDX-License-Identifier: Apache-2.0
#include "server/query.h"

#include <cassert>

namespace idforge::detail {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string known_list(std::span<const std::string_view> known) {
  std::string out;
  for (std::string_view k : known) (out += out.empty() ? "" : ", ") += k;
  return out.empty() ? "none" : out;
}

}  // namespace

Result<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    const int h = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    const int l = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (h < 0 || l < 0) {
      return Error(Errc::invalid_argument, "a '%' in the request target must be followed by two hex digits");
    }
    out += static_cast<char>(h * 16 + l);
    i += 2;
  }
  return out;
}

Result<Query> Query::parse(std::string_view query, std::span<const std::string_view> known) {
  assert(known.size() <= kMaxParameters);
  Query q;
  for (std::size_t i = 0; i < known.size(); ++i) q.names_[i] = known[i];
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2" and a trailing '&' are harmless.
    const std::size_t eq = pair.find('=');
    Result<std::string> name = percent_decode(pair.substr(0, eq));
    if (!name) return name.error();
    Result<std::string> value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (!value) return value.error();
    std::size_t slot = known.size();
    for (std::size_t i = 0; i < known.size(); ++i) {
      if (known[i] == *name) slot = i;
    }
    if (slot == known.size()) {
      return Error(Errc::invalid_argument,
                   "unknown parameter '" + *name + "'; this route takes: " + known_list(known));
    }
    if (q.values_[slot]) return Error(Errc::invalid_argument, "parameter '" + *name + "' is given twice");
    q.values_[slot] = std::move(*value);
  }
  return q;
}

std::optional<std::string_view> Query::get(std::string_view name) const {
  for (std::size_t i = 0; i < kMaxParameters; ++i) {
    if (names_[i] == name && values_[i]) return std::string_view(*values_[i]);
  }
  return std::nullopt;
}

Result<std::uint64_t> parse_count(std::string_view text, std::uint64_t max) {
  const std::string rule = "count must be a whole number from 1 to " + std::to_string(max) + " in plain digits";
  if (text.empty()) return Error(Errc::invalid_argument, rule + "; it is empty");
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return Error(Errc::invalid_argument, rule + "; '" + std::string(text) + "' has a '" + std::string(1, c) + "'");
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (digit > max || value > (max - digit) / 10) {
      return Error(Errc::invalid_argument, rule + "; '" + std::string(text) + "' is above the maximum");
    }
    value = value * 10 + digit;
  }
  if (value == 0) return Error(Errc::invalid_argument, rule + "; it is 0");
  return value;
}

}  // namespace idforge::detail
