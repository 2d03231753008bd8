// SPDX-License-Identifier: Apache-2.0
// Peer clocks: this instance's clock against the other instances' (cluster mode),
// measured the way NTP does it, from one request to each peer's /v1/info: with
// t0 and t3 our wall clock when the request leaves and the answer arrives, and T
// the peer's `now_unix_us` in the answer, our offset from that peer is
// (t0 + t3) / 2 − T, good to ± (t3 − t0) / 2.
//
// PeerWatch repeats the measurement every `period` from a thread of its own and
// hands each result to ClockHealth, logging a warning while the offset is past
// the limit. At start the service measures once and refuses to start past it
// (`--max-peer-skew-ms`), as Twitter's Snowflake refused to start more than 10 s
// from its peers' mean.
//
// Thread safety: measure_peers() is reentrant; PeerWatch runs on its own.
#ifndef IDFORGE_SERVER_PEER_CLOCKS_H_
#define IDFORGE_SERVER_PEER_CLOCKS_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "idforge/clock.h"
#include "idforge/result.h"
#include "server/clock_health.h"
#include "server/node_source.h"

namespace idforge::detail {

// Measures this clock against each peer (at most `timeout` each); peers that do
// not answer in time, or answer without a clock, count as asked, not answered.
PeerClocks measure_peers(const std::vector<Peer>& peers, Clock& clock, std::chrono::milliseconds timeout);

// Fails with unavailable when peers answered and this clock is more than
// `max_skew_ms` from their mean, saying by how much and what to do.
Result<void> check_peer_skew(const PeerClocks& measured, std::int64_t max_skew_ms);

class PeerWatch {
 public:
  using List = std::function<Result<std::vector<Peer>>()>;

  // REQUIRES: clock and health outlive the watch.
  PeerWatch(List list, Clock& clock, ClockHealth& health, std::int64_t max_skew_ms, std::chrono::milliseconds period);
  ~PeerWatch();
  PeerWatch(const PeerWatch&) = delete;
  PeerWatch& operator=(const PeerWatch&) = delete;

 private:
  void run();

  const List list_;
  Clock& clock_;
  ClockHealth& health_;
  const std::int64_t max_skew_ms_;
  const std::chrono::milliseconds period_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // Guarded by mutex_.
  std::thread thread_;
};

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_PEER_CLOCKS_H_
