// SPDX-License-Identifier: Apache-2.0
#include "idforge/node_space.h"

#include "idforge/time_text.h"

namespace idforge {

NodeSpace::NodeSpace(const Layout& of)
    : name("snowflake-" + of.geometry()), node_bits(of.node_bits()), layout(of.spec()) {}

NodeSpace NodeSpace::flake128() { return NodeSpace("flake128", 48, "flake128"); }

Result<void> check_recovery_time(const Layout& layout, std::optional<std::int64_t> issued_until_unix_ms) {
  const std::int64_t end_ms = layout.unix_ms_of_tick(layout.max_tick());
  if (!issued_until_unix_ms || *issued_until_unix_ms <= end_ms) return {};
  return Error(Errc::invalid_argument, "--issued-until " + format_utc_ms(*issued_until_unix_ms) + " is past the end of "
                                       "layout " + std::string(layout.name()) + "'s time (" + format_utc_ms(end_ms) +
                                       "): raising the marks there would leave every node nothing to issue in, for "
                                       "good. Give the time of the newest ID the nodes may have issued");
}

}  // namespace idforge
