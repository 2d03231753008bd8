// SPDX-License-Identifier: Apache-2.0
#include "idforge/formats.h"

#include <array>
#include <string>

namespace idforge {
namespace {

constexpr std::array kFormats = {Format::snowflake, Format::ulid,  Format::uuidv4,  Format::uuidv7,
                                 Format::objectid,  Format::ksuid, Format::flake128};
constexpr std::array<std::string_view, kFormats.size()> kNames = {"snowflake", "ulid",  "uuidv4",  "uuidv7",
                                                                  "objectid",  "ksuid", "flake128"};

}  // namespace

std::string_view to_string(Format format) { return kNames[static_cast<std::size_t>(format)]; }

std::span<const Format> all_formats() { return kFormats; }

Result<Format> parse_format(std::string_view name) {
  for (Format f : kFormats) {
    if (to_string(f) == name) return f;
  }
  std::string names;
  for (std::string_view n : kNames) names.append(names.empty() ? "" : ", ").append(n);
  return Error(Errc::invalid_argument, "unknown format '" + std::string(name) + "'; use one of " + names);
}

}  // namespace idforge
