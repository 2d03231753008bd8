// SPDX-License-Identifier: Apache-2.0
// Renewer: keeps a generator's reservation ahead of its stamps from a background
// thread, so that next() never waits for an fsync or a coordinator round trip.
//
// It calls Generator::renew() (or any renew function, such as
// Flake128Generator::renew) every `period` (Default: a quarter of the
// generator's reserve_ahead_ms, passed by the caller) until destroyed. A failed
// renewal is kept in last_error() and retried on the next period; next() itself
// extends the reservation if it ever catches up, so a slow renewer costs latency,
// never uniqueness. An optional `on_change` hears when renewals start failing
// (with the error), fail differently, and succeed again (with nullopt), once
// each, from the renewer's thread — so a service can log a full disk when it
// begins and when it ends rather than every period.
//
// Thread safety: last_error() may be called from any thread.
//
// Example:
//
//   idforge::Renewer renewer(*generator, std::chrono::milliseconds(250));
//   // … issue IDs; the renewer stops when it goes out of scope.
#ifndef IDFORGE_RENEWER_H_
#define IDFORGE_RENEWER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "idforge/generator.h"

namespace idforge {

class Renewer {
 public:
  using OnChange = std::function<void(const std::optional<Error>&)>;

  // REQUIRES: `generator` outlives the Renewer; period > 0.
  Renewer(Generator& generator, std::chrono::milliseconds period, OnChange on_change = {});
  // Calls `renew` instead. REQUIRES: what it renews outlives the Renewer; period > 0.
  Renewer(std::function<Result<void>()> renew, std::chrono::milliseconds period, OnChange on_change = {});
  ~Renewer();

  Renewer(const Renewer&) = delete;
  Renewer& operator=(const Renewer&) = delete;

  // The most recent renewal failure, or nullopt if the last renewal succeeded.
  std::optional<Error> last_error() const;

  // Stops renewing and joins the thread (the destructor does the same).
  // Idempotent; last_error() keeps its value.
  void stop();

 private:
  void run();

  std::function<Result<void>()> renew_;
  const std::chrono::milliseconds period_;
  const OnChange on_change_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;          // Guarded by mutex_.
  std::optional<Error> last_error_;  // Guarded by mutex_.
  std::thread thread_;
};

}  // namespace idforge

#endif  // IDFORGE_RENEWER_H_
