// SPDX-License-Identifier: Apache-2.0
// IdService: the node a running `idforge serve` holds, and every generator it
// issues from.
//
// It takes a Snowflake node and a flake-128 worker from a NodeSource — the data
// directory (the node given, or the lowest free one of a range, so several
// services on one host get different nodes with no configuration) or etcd
// (cluster mode) — and keeps both reservations ahead of need from background
// Renewers. ULID, UUIDv4/v7, ObjectId and KSUID need no node.
//
// Generations. What one hold issues from — the hold, its two generators and their
// renewers — is a generation. A hold from etcd lapses when its lease is lost; its
// generators then refuse (lease_lost, so /v1/next and /readyz answer 503), and a
// supervisor thread closes the generation and takes a new hold through the
// source (a new lease and the acquire transaction, possibly another node),
// retrying until it succeeds. The new generation is published with one atomic
// pointer store; a request that loaded the old one gets lease_lost. Generations
// stay allocated until the service is destroyed, so no request ever sees one
// freed; there is one per lost lease.
//
// write() is the hot path: one atomic step claims a whole Snowflake batch
// (Generator::next_batch), and the IDs are written as text straight into the
// response buffer; nothing is allocated per ID. A batch is all or nothing: on a
// refusal the text written so far is taken back (IDs already claimed from a wide
// generator are skipped, never reissued).
//
// stop() stops the supervisor and closes the current generation, which records
// the final reservations and releases the node and worker (in that order: stop
// issuing, write the final reservation, release), then ends the hold (an etcd
// lease is revoked).
//
// Thread safety: write(), info values, stats() and readiness() may be called from
// any number of threads; stop() once, after the last write().
#ifndef IDFORGE_SERVER_ID_SERVICE_H_
#define IDFORGE_SERVER_ID_SERVICE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>
#include <memory>
#include <optional>
#include <span>

#include "idforge/clock.h"
#include "idforge/encoding.h"
#include "idforge/flake128.h"
#include "idforge/formats.h"
#include "idforge/generator.h"
#include "idforge/ksuid.h"
#include "idforge/object_id.h"
#include "idforge/renewer.h"
#include "idforge/ulid.h"
#include "idforge/uuid.h"
#include "server/buffer.h"
#include "server/node_source.h"

namespace idforge::detail {

struct IdServiceOptions {
  // The Snowflake layout, and the generator's time policy.
  GeneratorOptions generator;
  // The most IDs one write() may hand out. REQUIRES: at most max_batch(generator).
  std::uint64_t max_count = 10'000;
  // When the source has no free node (or does not answer) at start: wait for one,
  // logging that it waits, instead of failing. Default: false.
  bool wait_for_node = false;
  // While waiting, asked every second whether to go on; false ends the wait and
  // start() fails with the last refusal. Default: always.
  std::function<bool()> keep_waiting;
};

// How IDs are laid out in the response body.
enum class IdShape {
  json_one,   // {"id":"…"}
  json_list,  // {"ids":["…",…]}
  lines,      // one ID per line
};

class IdService {
 public:
  // The largest batch the time policy allows in one call (ids_per_tick × (lead ticks + 1)).
  static std::uint64_t max_batch(const GeneratorOptions& options);

  // Takes the node and the flake-128 worker from `source`. Fails with unavailable
  // (all nodes held, the store unreachable), io (data directory) or
  // invalid_argument (options). REQUIRES: `clock` outlives the service.
  static Result<std::unique_ptr<IdService>> start(const IdServiceOptions& options, std::unique_ptr<NodeSource> source,
                                                  Clock& clock);

  // Stops the supervisor and the renewers and closes the generators if stop() was
  // not called.
  ~IdService();

  IdService(const IdService&) = delete;
  IdService& operator=(const IdService&) = delete;

  // Appends `count` new IDs of `format` to `out` in `shape`; Snowflake IDs in
  // `encoding`. `scratch` holds at least max_count values. On error `out` is as it
  // was. REQUIRES: 1 <= count <= max_count.
  Result<void> write(Format format, Encoding encoding, std::uint64_t count, IdShape shape, Buffer& out,
                     std::span<std::uint64_t> scratch);

  // Fills `ids` with new Snowflake IDs in one step (Generator::next_batch), for
  // callers that write them in their own form. REQUIRES: 1 <= ids.size() <= max_count.
  Result<void> next_snowflakes(std::span<std::uint64_t> ids);

  const Layout& layout() const { return layout_; }
  // The node and worker of the current generation (they change when a lost lease
  // is replaced).
  std::uint64_t node() const;
  std::uint64_t flake128_worker() const;
  std::uint64_t max_count() const { return max_count_; }
  // Where the node's mark is kept (a file's path, an etcd key).
  std::string mark() const;
  // The largest stamp the node's predecessors may have issued (nullopt: never held).
  std::optional<std::int64_t> inherited_stamp() const;
  // What taking the node and the flake-128 worker found worth telling an operator.
  std::vector<std::string> notes() const;
  // /v1/info's "coordination" object: the source and what it holds.
  nlohmann::ordered_json coordination() const;
  // Appends the source's metric families.
  void render_source_metrics(Buffer& out) const;
  GeneratorStats stats();
  // Whole seconds until the wall clock is back within max_lead_ms of the next
  // Snowflake stamp, from 1 to 3600: the Retry-After for clock_regressed.
  std::int64_t seconds_until_clock_catches_up();

  // Whether a request can be served now, and if not, why and for how long.
  struct Readiness {
    bool ready = true;
    std::string code;     // Not ready: stopped, store_refused, lease_lost, renewal_failing or clock_regressed.
    std::string message;  // What is wrong and what ends it.
    std::int64_t retry_after_s = 1;
  };
  // Not ready once stopped, while the source refuses its store (etcd's ID space
  // missing, foreign or gone back in time), while the hold has lapsed (a lost lease, until a new
  // one is taken), while a renewal fails (the node lost, a full disk, etcd
  // unreachable), and while the next Snowflake stamp is further ahead of the clock
  // than --max-lead-ms plus --max-wait-ms can cover (a restart with the clock
  // behind the mark, a clock that ran ahead and came back); demand above the
  // layout's cap, which leads by at most a tick past the lead, is not un-readiness.
  Readiness readiness();

  // Closes both generators: final reservations written, node and worker released,
  // the hold ended. Returns the first failure. Idempotent.
  Result<void> stop();

 private:
  struct Generation;

  IdService(const IdServiceOptions& options, std::unique_ptr<NodeSource> source, Clock& clock);
  Result<std::unique_ptr<Generation>> begin(std::unique_ptr<NodeHold> hold);
  const Generation& current() const { return *current_.load(std::memory_order_acquire); }
  Generation& current() { return *current_.load(std::memory_order_acquire); }
  // Closes `generation`'s generators and ends its hold; returns the first failure.
  static Result<void> close(Generation& generation);
  // The supervisor: replaces a lapsed generation with a new hold.
  void supervise();
  // `error`, or for a generator stopped by a store the source refuses, why it refuses it.
  Error explained(Error error) const;

  const Layout layout_;
  const IdServiceOptions options_;
  const std::uint64_t max_count_;
  std::unique_ptr<NodeSource> source_;
  Clock& clock_;
  std::unique_ptr<UlidGenerator> ulid_;
  std::unique_ptr<UuidV7Generator> uuidv7_;
  std::unique_ptr<ObjectIdGenerator> objectid_;
  std::unique_ptr<KsuidGenerator> ksuid_;

  std::atomic<Generation*> current_{nullptr};
  std::vector<std::unique_ptr<Generation>> generations_;  // Written by start() and the supervisor only.
  std::atomic<bool> stopped_{false};
  std::atomic<bool> retaking_{false};
  std::mutex supervisor_mutex_;
  std::condition_variable supervisor_wake_;
  std::thread supervisor_;
};

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_ID_SERVICE_H_
