// SPDX-License-Identifier: Apache-2.0
// EtcdSpace: an ID space in etcd with an identity — created once, on purpose,
// and refused by every instance that finds it missing, foreign or gone back in
// time (docs/cluster.md, "The ID space"). Built with IDFORGE_WITH_ETCD; link
// idforge::etcd.
//
// Why. Cluster mode's uniqueness rests on one thing: every later holder of a
// node reads the mark that every earlier holder made durable. That holds only
// while the store it reads is *the* store and has not gone back in time. etcd
// itself raises no alarm when it is restored from a snapshot, wiped and made
// again on the same URLs, or when an instance is pointed at another cluster or
// at a prefix spelled another way; each of those, unchecked, hands out IDs a
// second time. So the space records who it is, and every instance checks.
//
// The record. `<prefix>/space` holds one EtcdSpaceRecord: a random space ID, the
// Snowflake geometry, the node range the space owns, its datacenter, the etcd
// cluster ID it lives on, when it was made, and its incarnation (raised by each
// recovery). Creating a space writes a mark for every node of its range (and for
// flake-128 workers 0-1023) before the record, so that in a space a missing mark
// is a store that forgot — never "a node never used".
//
// What an instance refuses (open(), and every later answer through witness()):
//   - no record under the prefix: "create it with `idforge nodes init`", or, when
//     this process or this host used a space there before, "it is gone: recover";
//   - a record whose cluster ID is not the cluster's that answers (etcd restored
//     from a snapshot with a new token, or another cluster);
//   - a geometry, node range or datacenter other than the instance's;
//   - a store revision below one this process, or this host, has seen for the
//     same incarnation of the space (etcd restored from an older snapshot);
//   - a node whose mark is missing, or below what this host itself reserved on it;
//   - a record that changed identity while this process used it.
// A refusal is sticky for that incarnation: only `idforge nodes recover` (a new
// incarnation) lets instances take nodes again.
//
// The host's own record. With a data directory (EtcdSpaceCheck::host_dir) an
// instance keeps, beside the file store of the same geometry: the largest store
// revision it saw per space, a note of any refusal, the largest stamp it reserved
// per node (in the geometry's floor, so `FileReservation` sees it too), and a
// marker that this host's nodes of the geometry and its flake-128 workers come
// from etcd, which makes the file store refuse them (see file_reservation.h).
// Failing to write it loses evidence, never uniqueness: it is counted and the
// instance goes on.
//
// Thread safety: an EtcdSpace may be used from any thread.
//
// Example:
//
//   auto client = idforge::EtcdClient::connect(options);
//   idforge::EtcdSpaceCheck check{.prefix = "/idforge", .layout = layout, .host_dir = "/var/lib/idforge"};
//   auto space = idforge::EtcdSpace::open(*client, check, clock).space;
//   auto lease = idforge::EtcdLease::grant(*client, 10, clock);
//   auto node = idforge::EtcdReservation::acquire_any(*lease, *space, layout, (*space)->first(), (*space)->last(), holder);
#ifndef IDFORGE_ETCD_SPACE_H_
#define IDFORGE_ETCD_SPACE_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "idforge/clock.h"
#include "idforge/etcd_reservation.h"
#include "idforge/layout.h"
#include "idforge/node_space.h"
#include "idforge/result.h"

namespace idforge {

// flake-128 workers a space keeps marks for, and instances take: 0 to this − 1.
inline constexpr std::uint64_t kEtcdFlake128Workers = 1024;

// What `<prefix>/space` records (text form: EtcdSpaceRecord::text()).
struct EtcdSpaceRecord {
  std::string id;            // 32 lower-case hex digits, random at creation.
  std::string geometry;      // The Snowflake layouts' space: "snowflake-node10-seq12".
  std::string layout;        // The layout spec it was made with (any layout of the geometry may use it).
  std::uint64_t first_node = 0;
  std::uint64_t last_node = 0;  // The Snowflake nodes the space owns, inclusive.
  std::string datacenter;    // Empty: none named.
  std::uint64_t cluster_id = 0;  // The etcd cluster it lives on.
  std::int64_t created_unix_ms = 0;
  std::int64_t incarnation = 0;  // 0 at creation; each recovery raises it (to its Unix ms: new to every host).
  std::int64_t recovered_unix_ms = 0;  // The last recovery; 0: never.
  bool recovering = false;   // A recovery is under way: nothing may be taken until it ends.

  // The record as etcd keeps it: "idforge-space 1" and one "key value" line each.
  std::string text() const;
  // Reads a record strictly (every line present, nothing else); io when damaged.
  static Result<EtcdSpaceRecord> parse(std::string_view text);
};

// How to make a space (`idforge nodes init`, `serve --create-space`) or to make it
// again after etcd lost it (`idforge nodes recover`).
struct EtcdSpaceSpec {
  // The key prefix (check_etcd_prefix). Default: "/idforge".
  std::string prefix = "/idforge";
  // The layout whose geometry the space serves. Default: twitter.
  Layout layout = Layout::twitter();
  // The nodes the space owns. Default: every node of the layout. At most 65,536.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> nodes;
  // The datacenter's name, [a-z0-9._-]{1,64}. Default: none.
  std::string datacenter;
};

// What an instance expects of the space it opens.
struct EtcdSpaceCheck {
  std::string prefix = "/idforge";
  // The instance's layout: its geometry must be the space's.
  Layout layout = Layout::twitter();
  // The nodes the instance may take; they must lie in the space's range.
  // Default (nullopt): the space's range.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> nodes;
  // The instance's datacenter; when given it must be the space's. Default: any.
  std::string datacenter;
  // The data directory that keeps this host's own record; empty: none.
  std::filesystem::path host_dir;
  // Creates the space (as EtcdSpace::create) when the prefix has none and neither
  // this process nor this host used one there. Default: false.
  bool create_if_missing = false;
};

class EtcdSpace {
 public:
  // Why an instance refuses a space, for metrics ("none" while it does not).
  enum class Refusal { none, missing, gone, damaged, cluster, revision, changed, mark_missing, mark_below_host };
  // Every reason but none.
  static constexpr std::array<Refusal, 8> kRefusals = {Refusal::missing,  Refusal::gone,    Refusal::damaged,
                                                       Refusal::cluster,  Refusal::revision, Refusal::changed,
                                                       Refusal::mark_missing, Refusal::mark_below_host};
  static std::string_view to_string(Refusal reason);

  // Makes the space: a mark for every node of the range at this clock's stamp
  // (marks already there are kept), then the record. Fails with invalid_argument
  // when a space is there, for a bad prefix, range or datacenter, and as etcd does.
  static Result<EtcdSpaceRecord> create(EtcdClient& client, const EtcdSpaceSpec& spec, Clock& clock);

  // What a recovery did.
  struct Recovery {
    EtcdSpaceRecord record;
    std::int64_t raised_to_unix_ms = 0;  // Every mark is at least this instant's stamp now.
    std::uint64_t marks = 0;             // Marks written.
  };
  // Makes the space usable again after etcd went back in time or lost it: the
  // record is marked recovering (instances stop taking nodes), every mark of the
  // range is raised to at least max(issued_until, the clock + margin_ms) — past
  // anything an instance may have issued — and the record is written again with
  // this cluster's ID and the next incarnation. When the record is gone, `spec`
  // makes it anew, with `space_id` when given (the ID the hosts remember).
  // REQUIRES: margin_ms >= 0.
  static Result<Recovery> recover(EtcdClient& client, const EtcdSpaceSpec& spec,
                                  std::optional<std::int64_t> issued_until_unix_ms, std::int64_t margin_ms,
                                  const std::optional<std::string>& space_id, Clock& clock);

  // What open() found: the space, or why not — and when the store is refused,
  // the reason (Refusal::none for every other failure).
  struct Opened {
    Result<std::shared_ptr<EtcdSpace>> space;
    Refusal refused = Refusal::none;
  };
  // Reads the record under check.prefix and checks it (the list above). With
  // `previous`, the space this process held before (a lost lease), what it saw
  // carries over, and a refusal found here is recorded in it too, so it stays.
  // Fails with io when the store is refused, invalid_argument when the instance is
  // not for this space, unavailable when etcd does not answer or a recovery is
  // under way.
  static Opened open(std::shared_ptr<EtcdClient> client, const EtcdSpaceCheck& check, Clock& clock,
                     EtcdSpace* previous = nullptr);

  ~EtcdSpace();
  EtcdSpace(const EtcdSpace&) = delete;
  EtcdSpace& operator=(const EtcdSpace&) = delete;

  const std::string& prefix() const { return prefix_; }
  const EtcdSpaceRecord& record() const { return record_; }
  // The record's text, as transactions compare it.
  const std::string& record_text() const { return text_; }
  // The Snowflake nodes instances of this check may take.
  std::uint64_t first() const { return first_; }
  std::uint64_t last() const { return last_; }
  EtcdClient& client() { return *client_; }
  const std::shared_ptr<EtcdClient>& client_ptr() const { return client_; }

  // Checks the revision of an answer to a call made for this space: below one
  // seen before, the store went back in time and the space is refused from now on.
  Result<void> witness(std::int64_t revision);
  // Refuses the space from now on for `reason`; returns the error.
  Error refuse(Refusal reason, Error why);
  // The refusal, once there is one.
  std::optional<Error> refusal() const;
  Refusal refusal_reason() const;

  // Checks a node's mark, just read in the transaction that took it, against
  // this host's own record (refusing the space when the mark is below it).
  Result<void> check_mark(const NodeSpace& which, std::uint64_t node, std::int64_t mark);
  // Records on this host that `node` of `which` was reserved up to `stamp`.
  void reserved(const NodeSpace& which, std::uint64_t node, std::int64_t stamp);
  // Records on this host that the holder of `node`, having reserved up to
  // `reserved_stamp`, gave it up at `final_stamp`.
  void released(const NodeSpace& which, std::uint64_t node, std::int64_t reserved_stamp, std::int64_t final_stamp);
  // Writes to the host's own record that failed (lost evidence, not uniqueness).
  std::uint64_t host_record_failures() const;
  // What opening found worth telling an operator (a host record that cannot be kept).
  const std::vector<std::string>& notes() const;

 private:
  struct State;
  static Result<std::shared_ptr<EtcdSpace>> open_space(std::shared_ptr<EtcdClient> client, const EtcdSpaceCheck& check,
                                                       Clock& clock, EtcdSpace* previous, Refusal& refused);
  EtcdSpace(std::shared_ptr<EtcdClient> client, std::string prefix, EtcdSpaceRecord record, std::string text,
            Clock& clock);

  std::shared_ptr<EtcdClient> client_;
  std::string prefix_;
  EtcdSpaceRecord record_;
  std::string text_;
  std::uint64_t first_ = 0;
  std::uint64_t last_ = 0;
  Clock& clock_;
  std::unique_ptr<State> state_;
};

// Everything under a prefix, for `idforge nodes`: the space's record, and every
// node that is held or has a mark, sorted by NodeSpace and node.
struct EtcdNodes {
  std::optional<EtcdSpaceRecord> space;  // nullopt: none (or damaged: see space_error).
  std::string space_error;
  std::uint64_t cluster_id = 0;  // Of the member that answered.
  std::int64_t revision = 0;     // The store's revision when read.
  std::vector<EtcdNodeRecord> nodes;
};
Result<EtcdNodes> list_etcd_nodes(EtcdClient& client, const std::string& prefix);

// A datacenter as a registry records it: `idforge nodes init --registry` claims a
// name and a node range in a separate, global etcd, so that no two datacenters'
// spaces overlap. Instances never talk to the registry.
struct RegistryEntry {
  std::string datacenter;
  std::uint64_t first_node = 0;
  std::uint64_t last_node = 0;
  std::string space_id;
  std::string prefix;
  std::string endpoints;  // The datacenter's etcd, as given to init.
  std::int64_t created_unix_ms = 0;
};
struct Registry {
  std::string geometry;  // Every datacenter's; one geometry for the whole registry.
  std::vector<RegistryEntry> datacenters;
};
// Reads the registry under `prefix`; an empty one when nothing is registered.
Result<Registry> read_registry(EtcdClient& registry, const std::string& prefix);
// Claims `entry` for `geometry` in one compare-and-swap: refused (invalid_argument)
// when its name is taken, its range overlaps another datacenter's, or the registry
// serves another geometry.
Result<void> claim_in_registry(EtcdClient& registry, const std::string& prefix, const std::string& geometry,
                               const RegistryEntry& entry);
// Refuses (invalid_argument) what claim_in_registry would refuse, without writing.
Result<void> check_registry(const Registry& registry, const std::string& geometry, const RegistryEntry& entry);

// Checks a datacenter's name: 1 to 64 characters of a-z, 0-9, '.', '_' and '-'.
Result<void> check_etcd_datacenter(const std::string& name);

// A cluster or member ID as etcdctl's tables print it: lower-case hex.
std::string etcd_id_hex(std::uint64_t id);

}  // namespace idforge

#endif  // IDFORGE_ETCD_SPACE_H_
