// SPDX-License-Identifier: Apache-2.0
// IdService: the node a running `idforge serve` holds, and every generator it
// issues from.
//
// It takes a Snowflake node in the data directory through FileReservation (the
// node given, or the lowest free one of a range, so several services on one host
// get different nodes with no configuration), a flake-128 worker the same way,
// and keeps both reservations ahead of need from background Renewers. ULID,
// UUIDv4/v7, ObjectId and KSUID need no node.
//
// write() is the hot path: one atomic step claims a whole Snowflake batch
// (Generator::next_batch), and the IDs are written as text straight into the
// response buffer; nothing is allocated per ID. A batch is all or nothing: on a
// refusal the text written so far is taken back (IDs already claimed from a wide
// generator are skipped, never reissued).
//
// stop() closes the generators, which records the final reservations and releases
// the node and worker (in that order: stop issuing, write the final reservation,
// release).
//
// Thread safety: write(), info values, stats() and readiness() may be called from
// any number of threads; stop() once, after the last write().
#ifndef IDFORGE_SERVER_ID_SERVICE_H_
#define IDFORGE_SERVER_ID_SERVICE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>

#include "idforge/clock.h"
#include "idforge/encoding.h"
#include "idforge/file_reservation.h"
#include "idforge/flake128.h"
#include "idforge/formats.h"
#include "idforge/generator.h"
#include "idforge/ksuid.h"
#include "idforge/object_id.h"
#include "idforge/renewer.h"
#include "idforge/ulid.h"
#include "idforge/uuid.h"
#include "server/buffer.h"

namespace idforge::detail {

struct IdServiceOptions {
  // Where node locks and high-water marks live. Created if missing.
  std::filesystem::path data_dir;
  // The Snowflake layout, and the generator's time policy.
  GeneratorOptions generator;
  // The node to hold; nullopt takes the lowest free node in [first_node, last_node].
  std::optional<std::uint64_t> node;
  std::uint64_t first_node = 0;
  std::uint64_t last_node = 0;
  // The most IDs one write() may hand out. REQUIRES: at most max_batch(generator).
  std::uint64_t max_count = 10'000;
};

// How IDs are laid out in the response body.
enum class IdShape {
  json_one,   // {"id":"…"}
  json_list,  // {"ids":["…",…]}
  lines,      // one ID per line
};

class IdService {
 public:
  // flake-128 workers picked automatically come from 0 .. kAutoWorkers - 1.
  static constexpr std::uint64_t kAutoWorkers = 1024;

  // The largest batch the time policy allows in one call (ids_per_tick × (lead ticks + 1)).
  static std::uint64_t max_batch(const GeneratorOptions& options);

  // Takes the node and the flake-128 worker and makes the first reservations
  // durable. Fails with unavailable (all nodes held), io (data directory) or
  // invalid_argument (options). REQUIRES: `clock` outlives the service.
  static Result<std::unique_ptr<IdService>> start(const IdServiceOptions& options, Clock& clock);

  // Stops the renewers and closes the generators if stop() was not called.
  ~IdService();

  IdService(const IdService&) = delete;
  IdService& operator=(const IdService&) = delete;

  // Appends `count` new IDs of `format` to `out` in `shape`; Snowflake IDs in
  // `encoding`. `scratch` holds at least max_count values. On error `out` is as it
  // was. REQUIRES: 1 <= count <= max_count.
  Result<void> write(Format format, Encoding encoding, std::uint64_t count, IdShape shape, Buffer& out,
                     std::span<std::uint64_t> scratch);

  const Layout& layout() const { return generator_->layout(); }
  std::uint64_t node() const { return generator_->node(); }
  std::uint64_t flake128_worker() const { return flake128_reservation_->node(); }
  std::uint64_t max_count() const { return max_count_; }
  const std::filesystem::path& mark_path() const { return reservation_->mark_path(); }
  // The largest stamp the node's predecessors may have issued (nullopt: never held).
  std::optional<std::int64_t> inherited_stamp() const { return reservation_->inherited_stamp(); }
  // What taking the node and the flake-128 worker found worth telling an operator.
  std::vector<std::string> notes() const;
  GeneratorStats stats() { return generator_->stats(); }
  // Whole seconds until the wall clock is back within max_lead_ms of the next
  // Snowflake stamp, from 1 to 3600: the Retry-After for clock_regressed.
  std::int64_t seconds_until_clock_catches_up();

  // Whether a request can be served now, and if not, why and for how long.
  struct Readiness {
    bool ready = true;
    std::string code;     // Not ready: stopped, lease_lost, renewal_failing or clock_regressed.
    std::string message;  // What is wrong and what ends it.
    std::int64_t retry_after_s = 1;
  };
  // Not ready once stopped, while a renewal fails (the node lost, a full disk), and
  // while the next Snowflake stamp is further ahead of the clock than
  // --max-lead-ms plus --max-wait-ms can cover (a restart with the clock behind the
  // mark, a clock that ran ahead and came back); demand above the layout's cap,
  // which leads by at most a tick past the lead, is not un-readiness.
  Readiness readiness();

  // Closes both generators: final reservations written, node and worker released.
  // Returns the first failure. Idempotent.
  Result<void> stop();

 private:
  IdService() = default;

  std::uint64_t max_count_ = 0;
  std::int64_t max_lead_ms_ = 0;
  std::int64_t max_wait_ms_ = 0;
  std::unique_ptr<FileReservation> reservation_;
  std::unique_ptr<Generator> generator_;
  std::unique_ptr<FileReservation> flake128_reservation_;
  std::unique_ptr<Flake128Generator> flake128_;
  std::unique_ptr<UlidGenerator> ulid_;
  std::unique_ptr<UuidV7Generator> uuidv7_;
  std::unique_ptr<ObjectIdGenerator> objectid_;
  std::unique_ptr<KsuidGenerator> ksuid_;
  std::unique_ptr<Renewer> renewer_;
  std::unique_ptr<Renewer> flake128_renewer_;
  std::atomic<bool> stopped_{false};
};

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_ID_SERVICE_H_
