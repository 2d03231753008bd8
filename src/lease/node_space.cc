// SPDX-License-Identifier: Apache-2.0
#include "idforge/node_space.h"

namespace idforge {

NodeSpace::NodeSpace(const Layout& of)
    : name("snowflake-" + of.geometry()), node_bits(of.node_bits()), layout(of.spec()) {}

NodeSpace NodeSpace::flake128() { return NodeSpace("flake128", 48, "flake128"); }

}  // namespace idforge
