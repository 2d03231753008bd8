// SPDX-License-Identifier: Apache-2.0
// ClockHealth: what the service knows about its clock — the kernel's view of its
// discipline (is NTP or chrony keeping it synchronised, and how far off may it
// be), read at start and every few seconds, and in cluster mode its offset from
// the other instances' clocks.
//
// Uniqueness never depends on any of this (the reservation does that); ordering
// across machines and the honesty of the IDs' instants do. So it is shown — in
// /v1/info under "clock", in /metrics as idforge_clock_* — and logged when it
// changes, and `--require-synced-clock` and `--max-peer-skew-ms` can refuse to
// start on it.
//
// Thread safety: info() and render_metrics() from any thread; set_peers() from
// one thread at a time.
#ifndef IDFORGE_SERVER_CLOCK_HEALTH_H_
#define IDFORGE_SERVER_CLOCK_HEALTH_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "idforge/result.h"
#include "server/reporter.h"

namespace idforge::detail {

// The kernel's clock discipline, as adjtimex(2) reports it.
struct ClockDiscipline {
  // False when the kernel says the clock is not synchronised (STA_UNSYNC, or
  // the TIME_ERROR state): nothing disciplines it, or not yet.
  bool synchronized = false;
  // The kernel's bound on the clock's error and its estimate of it, in µs.
  std::int64_t max_error_us = 0;
  std::int64_t estimated_error_us = 0;
  // adjtimex's clock state: ok, insert (a leap second comes), delete, oop (one is
  // being inserted), wait (after one), error (unsynchronised).
  std::string state;
};

// Reads the kernel's discipline (ntp_adjtime with no change: no privilege needed).
Result<ClockDiscipline> read_kernel_discipline();

// This instance's clock against its peers' (cluster mode), NTP-style: for each
// reachable peer, its /v1/info clock reading minus the midpoint of our send and
// receive times.
struct PeerClocks {
  int asked = 0;     // Peers holding nodes (other than this instance).
  int answered = 0;  // Those that answered in time.
  // Our offset from the mean of theirs (positive: we are ahead), and the largest
  // round trip among the answers (each offset is good to ± half of it).
  std::int64_t offset_us = 0;
  std::int64_t max_round_trip_us = 0;
};

class ClockHealth final : public Reporter {
 public:
  using Read = std::function<Result<ClockDiscipline>()>;

  // Reads the discipline now and then every `period` from a thread of its own,
  // logging when synchronised-or-not changes later (and read errors, once); the
  // state at start is the caller's to report.
  ClockHealth(Read read, std::chrono::milliseconds period);
  ~ClockHealth() override;
  ClockHealth(const ClockHealth&) = delete;
  ClockHealth& operator=(const ClockHealth&) = delete;

  // The latest reading (or the error of the latest attempt).
  Result<ClockDiscipline> discipline() const;
  // Records the latest measurement against the peers.
  void set_peers(const PeerClocks& peers);

  std::string info_key() const override { return "clock"; }
  nlohmann::ordered_json info() const override;
  void render_metrics(Buffer& out) const override;

 private:
  void run();
  void poll();

  const Read read_;
  const std::chrono::milliseconds period_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  Result<ClockDiscipline> latest_;  // Guarded by mutex_.
  std::optional<PeerClocks> peers_;  // Guarded by mutex_.
  bool stopping_ = false;            // Guarded by mutex_.
  std::thread poller_;
};

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_CLOCK_HEALTH_H_
