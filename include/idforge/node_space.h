// SPDX-License-Identifier: Apache-2.0
// NodeSpace: the ID space a reservation's node numbers belong to.
//
// Two layouts whose node and sequence bits sit in the same places make the same
// IDs from the same (stamp, node, sequence), so they are one space and must share
// one store of locks and marks — a data directory's folder (FileReservation) or
// an etcd key range (EtcdReservation). A Snowflake layout's space is named by its
// geometry (Layout::geometry): `twitter`, its spec written with other field
// names, an epoch a millisecond later, or its ten node bits split 2 + 8 are all
// "snowflake-node10-seq12". flake-128's 48-bit workers are a space of their own.
//
// Example:
//
//   idforge::NodeSpace space = idforge::Layout::twitter();  // "snowflake-node10-seq12"
#ifndef IDFORGE_NODE_SPACE_H_
#define IDFORGE_NODE_SPACE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "idforge/layout.h"

namespace idforge {

struct NodeSpace {
  // A layout's space: "snowflake-" and its geometry. Implicit, so a Layout can be
  // passed wherever a space is asked for.
  NodeSpace(const Layout& layout);  // NOLINT(google-explicit-constructor)
  NodeSpace(std::string space_name, int bits, std::string layout_spec)
      : name(std::move(space_name)), node_bits(bits), layout(std::move(layout_spec)) {}
  // flake-128's 48-bit workers (flake128.h).
  static NodeSpace flake128();

  // True for the space of a Snowflake layout (not flake-128's workers).
  bool is_snowflake() const { return name.rfind("snowflake-", 0) == 0; }

  std::string name;    // The space, its folder and its etcd key: "snowflake-node10-seq12", "flake128".
  int node_bits = 0;   // Nodes are 0 .. 2^node_bits - 1.
  std::string layout;  // The holder's layout spec, recorded for people.
};

// Refuses (invalid_argument) raising a space's records to `issued_until_unix_ms`
// when that is past `layout`'s last tick: every node would be left with no time
// to issue in, for good (a mistyped year, say). nullopt passes.
Result<void> check_recovery_time(const Layout& layout, std::optional<std::int64_t> issued_until_unix_ms);

}  // namespace idforge

#endif  // IDFORGE_NODE_SPACE_H_
