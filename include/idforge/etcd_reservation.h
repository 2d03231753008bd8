// SPDX-License-Identifier: Apache-2.0
// EtcdReservation: a node's reservation kept in etcd, so that processes on many
// machines share one set of nodes (docs/cluster.md). Built when idforge is
// configured with IDFORGE_WITH_ETCD (Default: ON); link idforge::etcd.
//
// The store. Under a key prefix (Default "/idforge"), one ID space (etcd_space.h):
//
//   <prefix>/space                    the space's identity, made once by `idforge nodes init`
//   <prefix>/<space>/holder/<N>       who holds node N; bound to the holder's lease
//   <prefix>/<space>/mark/<N>         the largest stamp node N's holders may have
//                                     issued; bound to no lease, so it outlives them
//
// where <space> is a NodeSpace: the Snowflake geometry ("snowflake-node10-seq12")
// or "flake128".
//
// Guarantees (they rest on etcd's strictly serializable transactions, never on
// any clock or on the lease's timing):
//   - One holder per node. Acquiring is one transaction that puts the holder key,
//     bound to the caller's lease, only if no holder key exists and the space's
//     record is the one the caller opened, and reads the mark in the same step; a
//     successor starts after that mark, whatever its clock says. A missing mark is
//     a store that forgot (every node of a space has one), never "start at the clock".
//   - No stamp past the durable mark. An extension is one transaction that raises
//     the mark only if the holder key still carries this holder's lease and the
//     space's record is unchanged; when not, the holder gets `lease_lost` and its
//     generator stops for good.
//   - Every answer's revision goes to the space (EtcdSpace::witness): a store that
//     went back in time is refused, and so is a mark below what this host itself
//     reserved on the node.
//   - The holder fences itself (EtcdLease): it stops issuing before its lease can
//     expire on the etcd leader, so a successor never issues while it still does.
//
// A node whose mark is damaged (not a stamp) is refused with `io`, and acquire_any
// skips it with a note, as FileReservation does.
//
// Thread safety: an EtcdClient and an EtcdLease may be used from any thread. An
// EtcdReservation has none of its own; its Generator serializes its calls.
//
// Example:
//
//   idforge::EtcdOptions options;
//   options.endpoints = {"http://10.0.0.1:2379", "http://10.0.0.2:2379"};
//   auto client = idforge::EtcdClient::connect(options);
//   auto space = idforge::EtcdSpace::open(*client, {.prefix = "/idforge", .layout = layout}, clock);
//   auto lease = idforge::EtcdLease::grant(*client, /*ttl_s=*/10, clock);
//   auto node = idforge::EtcdReservation::acquire_any(*lease, *space, layout, (*space)->first(), (*space)->last(),
//                                                     holder_json);
//   auto generator = idforge::Generator::create(generator_options, clock, **node);
#ifndef IDFORGE_ETCD_RESERVATION_H_
#define IDFORGE_ETCD_RESERVATION_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "idforge/clock.h"
#include "idforge/node_space.h"
#include "idforge/reservation.h"
#include "idforge/result.h"

namespace idforge {

// How to reach an etcd cluster.
struct EtcdOptions {
  // Client URLs of the members, "http://HOST:PORT" or "https://HOST:PORT" (all
  // alike). Calls go to one member and fail over to the next when it does not
  // answer. Required.
  std::vector<std::string> endpoints;
  // TLS, for https endpoints: the PEM text (not paths) of the CA that signed the
  // members' certificates (empty: the system's roots) and, for client-certificate
  // authentication, this client's certificate and key (both or neither).
  std::string ca_cert_pem;
  std::string cert_pem;
  std::string key_pem;
  // etcd's username/password authentication; empty user: none. The password is
  // sent once per connection and never logged.
  std::string user;
  std::string password;
  // How long one call to one member may take before the next member is tried.
  // Default: 2000. Valid: 100 to 60,000.
  std::int64_t call_timeout_ms = 2000;
};

// What etcd said, for metrics and logs: each event once, from the thread that saw it.
struct EtcdObserver {
  // A keepalive was answered `round_trip_ns` after it was sent.
  std::function<void(std::int64_t round_trip_ns)> keepalive;
  // A call failed; `kind` is one of "unavailable", "timeout", "auth", "not_found",
  // "rejected", "foreign_cluster" (a member of another cluster answered), "other".
  std::function<void(std::string_view kind, const Error& error)> error;
  // A lease was lost, and why.
  std::function<void(std::int64_t lease, const Error& why)> lease_lost;
};

// A connection to an etcd cluster: one channel per endpoint, authenticated.
class EtcdClient {
 public:
  // Checks the options and, with a user, authenticates. Fails with
  // invalid_argument for bad options or rejected credentials, unavailable when no
  // endpoint answers. `observer` hears every later failure.
  static Result<std::shared_ptr<EtcdClient>> connect(const EtcdOptions& options, EtcdObserver observer = {});
  ~EtcdClient();

  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // The endpoints as given, for messages.
  const std::vector<std::string>& endpoints() const;
  // The ID of the etcd cluster this client talks to: the first one a member
  // answered with (0 before any did). Members of any other cluster are never used.
  std::uint64_t cluster_id() const;
  // True once every member whose cluster is known answers as another cluster: the
  // cluster at these endpoints was replaced (or restored from a snapshot with a
  // new token). A new client learns the new one; an ID space decides whether to use it.
  bool cluster_replaced() const;

  class Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit EtcdClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// An etcd lease kept alive from a background thread, and the fence its holders stop at.
//
// Keepalives go out every TTL/3. Each is timed from its send time on the boot
// clock: when it is answered with a positive TTL, the fence moves to
//   send time + TTL × (1 − kDriftBound) − kFenceMargin,
// which is before the etcd leader can expire the lease (it expires it at least
// TTL after it processed the renewal, on its own monotonic clock, and elections
// only extend leases). The lease is *lost* — the fence drops for good — when a
// keepalive is answered with TTL <= 0 (expired or revoked), or when the fence
// passes without an answer (a pause, a partition, an etcd outage). A lost lease is
// never resumed: a holder takes a node again through a new lease.
class EtcdLease {
 public:
  // How far the etcd leader's clock may run slower than ours, as a fraction of the TTL.
  static constexpr double kDriftBound = 0.01;
  // Time kept back for the generator to notice the fence (at most 1 ms) and for
  // scheduling. Default fence: TTL × 0.99 − 100 ms after the send time.
  static constexpr std::chrono::milliseconds kFenceMargin{100};

  // Lease states, as /v1/info and the metrics show them.
  enum class State { held, lost, revoked };

  // Grants a lease of `ttl_s` seconds and starts keeping it alive. REQUIRES:
  // `clock` outlives the lease. Fails with invalid_argument for a TTL outside
  // 5 to 300, unavailable when etcd does not answer.
  static Result<std::shared_ptr<EtcdLease>> grant(std::shared_ptr<EtcdClient> client, std::int64_t ttl_s,
                                                  Clock& clock, EtcdObserver observer = {});
  // Stops the keepalives (without revoking: the lease then expires after its TTL).
  ~EtcdLease();

  EtcdLease(const EtcdLease&) = delete;
  EtcdLease& operator=(const EtcdLease&) = delete;

  std::int64_t id() const { return id_; }
  // A lease ID as etcdctl prints it: lower-case hex ("694d7e1b2c3a4f05").
  static std::string hex(std::int64_t id);
  // The TTL etcd granted, in seconds.
  std::int64_t ttl_s() const { return ttl_s_; }
  const Fence& fence() const { return fence_; }
  State state() const;
  // Why the lease was lost, once it was.
  std::optional<Error> lost_error() const;
  // How long until the fence, in ms (negative once passed).
  std::int64_t ms_until_fence();

  // Stops the keepalives and revokes the lease, which deletes every key bound to
  // it (its holder keys). A lease whose fence had passed counts as lost first.
  // Idempotent; a lease already gone is not an error.
  Result<void> revoke();

  // True once the fence has passed (the lease lost, or not confirmed in time).
  bool lapsed();

  EtcdClient& client() { return *client_; }
  // A deadline for a call made on this lease's behalf: the client's default, or
  // the fence if sooner (a call answered after it would be of no use).
  std::chrono::steady_clock::time_point call_deadline();

 private:
  EtcdLease(std::shared_ptr<EtcdClient> client, Clock& clock, EtcdObserver observer);
  void keep_alive();
  void lose(Error why);
  Error unanswered_error() const;

  struct Keeper;
  std::shared_ptr<EtcdClient> client_;
  Clock& clock_;
  EtcdObserver observer_;
  std::int64_t id_ = 0;
  std::int64_t ttl_s_ = 0;
  Fence fence_;
  std::unique_ptr<Keeper> keeper_;
};

class EtcdSpace;

class EtcdReservation final : public Reservation {
 public:
  // Takes `node` of `which` (the space's Snowflake geometry, or flake-128's
  // workers) in `space` with `lease`; `holder` is recorded as the holder key's
  // value (a JSON object naming the host, PID and address, for `idforge nodes`).
  // Fails with invalid_argument for a node outside the space, unavailable when the
  // node is held (naming the holder) or etcd does not answer, io for a damaged
  // mark or a store the space refuses, and lease_lost when the lease is lost or the
  // space's record changed.
  static Result<std::unique_ptr<EtcdReservation>> acquire(std::shared_ptr<EtcdLease> lease,
                                                          std::shared_ptr<EtcdSpace> space, const NodeSpace& which,
                                                          std::uint64_t node, const std::string& holder);

  // Takes the lowest free node in [first, last], skipping nodes with a damaged
  // mark (with a note). Fails with unavailable naming the range when every node
  // is held. REQUIRES: first <= last.
  static Result<std::unique_ptr<EtcdReservation>> acquire_any(std::shared_ptr<EtcdLease> lease,
                                                              std::shared_ptr<EtcdSpace> space, const NodeSpace& which,
                                                              std::uint64_t first, std::uint64_t last,
                                                              const std::string& holder);

  // Leaves the holder key to expire with the lease if release() was not called.
  ~EtcdReservation() override;

  std::uint64_t node() const override { return node_; }
  std::optional<std::int64_t> inherited_stamp() const override { return inherited_; }
  Result<void> extend(std::int64_t until_stamp) override;
  // Writes the final mark and deletes the holder key in one owner-checked
  // transaction, so the next holder can take the node at once. The lease itself
  // is revoked by its owner (EtcdLease::revoke).
  Result<void> release(std::optional<std::int64_t> final_stamp) override;
  const Fence* fence() const override { return &lease_->fence(); }

  // What acquiring found worth telling an operator (nodes skipped).
  const std::vector<std::string>& notes() const { return notes_; }
  // The node's mark key.
  const std::string& mark_key() const { return mark_key_; }
  EtcdLease& lease() { return *lease_; }
  EtcdSpace& space() { return *space_; }

 private:
  EtcdReservation();
  Error lost_error(const std::string& holder_now, const std::optional<std::string>& space_now);

  std::shared_ptr<EtcdLease> lease_;
  std::shared_ptr<EtcdSpace> space_;
  NodeSpace which_;
  std::uint64_t node_ = 0;
  std::optional<std::int64_t> inherited_;
  std::int64_t reserved_ = 0;  // The mark this holder last made durable.
  std::vector<std::string> notes_;
  std::string holder_key_;
  std::string mark_key_;
  bool released_ = false;
  bool lost_ = false;
};

// One node of a space as etcd records it, for `idforge nodes`.
struct EtcdNodeRecord {
  std::string space;
  std::uint64_t node = 0;
  std::optional<std::string> holder;  // The holder key's value; nullopt: free.
  std::int64_t lease = 0;             // The holder's lease; 0 when free.
  std::optional<std::int64_t> mark;   // nullopt: none, or damaged (see mark_text).
  std::string mark_text;              // The mark key's value as stored.
};

// Sends the gRPC library's own error reports (a failed TLS handshake, a reset
// connection) to `sink`, one message per call, instead of standard error; its
// lesser reports are dropped. A process-wide setting: call it once, before the
// first EtcdClient, from a program that owns its standard error (the service
// writes every line there as JSON). REQUIRES: `sink` is thread-safe.
void route_grpc_log(std::function<void(std::string_view message)> sink);

// Checks that a key prefix is in its one spelling: '/', then segments of a-z,
// 0-9, '.', '_' and '-' with one '/' between them and none at the end, at most 256
// bytes ("/idforge", "/idforge/eu-west-1"). Anything else is invalid_argument,
// naming the canonical form when there is one: two spellings would be two spaces.
Result<void> check_etcd_prefix(const std::string& prefix);

}  // namespace idforge

#endif  // IDFORGE_ETCD_RESERVATION_H_
