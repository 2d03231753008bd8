// SPDX-License-Identifier: Apache-2.0
// EtcdSource: cluster mode's NodeSource. Each take() grants a new etcd lease and
// takes a node and a flake-128 worker with it (EtcdReservation); the hold lapses
// when the lease is lost, and the service takes again.
#ifndef IDFORGE_SERVER_ETCD_SOURCE_H_
#define IDFORGE_SERVER_ETCD_SOURCE_H_

#include <memory>
#include <string>

#include "idforge/clock.h"
#include "idforge/etcd_reservation.h"
#include "server/node_source.h"

namespace idforge::detail {

struct EtcdSourceOptions {
  EtcdOptions etcd;
  // The key prefix every instance of the cluster shares. Default: "/idforge".
  std::string prefix = "/idforge";
  // Seconds; valid 5 to 300. Default: 10.
  std::int64_t lease_ttl_s = 10;
  Layout layout = Layout::twitter();
  NodeChoice choice;
  // The holder keys' value: a JSON object naming this instance.
  std::string holder;
};

// Connects to etcd (authenticating when a user is given). Fails as
// EtcdClient::connect does, and with invalid_argument for a bad prefix or TTL.
// REQUIRES: `clock` outlives the source.
Result<std::unique_ptr<NodeSource>> etcd_source(EtcdSourceOptions options, Clock& clock);

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_ETCD_SOURCE_H_
