// SPDX-License-Identifier: Apache-2.0
// Query: the parameters of a request target, read strictly.
//
// "count=10&format=ulid" is split at '&' and '=', names and values are
// percent-decoded ('+' stays '+'), and the result is refused (invalid_argument,
// with a message for the client) when a parameter is unknown, given twice, has no
// name, or holds a broken escape. A typo never passes silently as a default.
//
// Thread safety: a value.
#ifndef IDFORGE_SERVER_QUERY_H_
#define IDFORGE_SERVER_QUERY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "idforge/result.h"

namespace idforge::detail {

class Query {
 public:
  // The most parameters a route takes.
  static constexpr std::size_t kMaxParameters = 4;

  // Parses `query` (the part after '?', without it) against the names `known`.
  // REQUIRES: known.size() <= kMaxParameters.
  static Result<Query> parse(std::string_view query, std::span<const std::string_view> known);

  // The decoded value of `name`, or nullopt when it was not given.
  std::optional<std::string_view> get(std::string_view name) const;

 private:
  std::array<std::string_view, kMaxParameters> names_{};
  std::array<std::optional<std::string>, kMaxParameters> values_{};
};

// Decodes %XX escapes; fails on a '%' not followed by two hex digits.
Result<std::string> percent_decode(std::string_view text);

// Reads a count: plain decimal digits only (no sign, space, exponent or hex
// prefix), from 1 to `max`. The message says which rule was broken.
Result<std::uint64_t> parse_count(std::string_view text, std::uint64_t max);

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_QUERY_H_
