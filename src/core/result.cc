// SPDX-License-Identifier: Apache-2.0
#include "idforge/result.h"

#include <cstdio>
#include <cstdlib>

namespace idforge {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::clock_regressed: return "clock_regressed";
    case Errc::overloaded: return "overloaded";
    case Errc::time_exhausted: return "time_exhausted";
    case Errc::lease_lost: return "lease_lost";
    case Errc::unavailable: return "unavailable";
    case Errc::io: return "io";
  }
  return "unknown";
}

namespace detail {
void die(std::string_view what) {
  std::fprintf(stderr, "idforge: broken invariant: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}
}  // namespace detail

}  // namespace idforge
