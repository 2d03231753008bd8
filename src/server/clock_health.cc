// SPDX-License-Identifier: Apache-2.0
#include "server/clock_health.h"

#include <sys/timex.h>

#include <cerrno>
#include <cstring>

#include "server/log.h"
#include "server/metrics.h"

namespace idforge::detail {
namespace {

std::string state_name(int state) {
  switch (state) {
    case TIME_OK: return "ok";
    case TIME_INS: return "insert";
    case TIME_DEL: return "delete";
    case TIME_OOP: return "oop";
    case TIME_WAIT: return "wait";
    default: return "error";
  }
}

nlohmann::ordered_json discipline_json(const ClockDiscipline& d) {
  return {{"synchronized", d.synchronized},
          {"max_error_us", d.max_error_us},
          {"estimated_error_us", d.estimated_error_us},
          {"state", d.state}};
}

}  // namespace

Result<ClockDiscipline> read_kernel_discipline() {
  timex tx{};
  tx.modes = 0;  // Read only.
  const int state = ::ntp_adjtime(&tx);
  if (state < 0) return Error(Errc::io, std::string("cannot read the kernel's clock state (adjtimex): ") + std::strerror(errno));
  ClockDiscipline d;
  d.synchronized = state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
  d.max_error_us = tx.maxerror;
  d.estimated_error_us = tx.esterror;
  d.state = state_name(state);
  return d;
}

ClockHealth::ClockHealth(Read read, std::chrono::milliseconds period)
    : read_(std::move(read)), period_(period), latest_(read_()) {
  poller_ = std::thread([this] { run(); });
}

ClockHealth::~ClockHealth() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
  }
  poller_.join();
}

void ClockHealth::run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, period_, [&] { return stopping_; })) {
    lock.unlock();
    poll();
    lock.lock();
  }
}

void ClockHealth::poll() {
  Result<ClockDiscipline> now = read_();
  std::lock_guard lock(mutex_);
  const bool was_ok = latest_.has_value();
  const bool was_synced = was_ok && latest_->synchronized;
  if (now && (!was_ok || now->synchronized != was_synced)) {
    log(now->synchronized ? LogLevel::info : LogLevel::warn,
        now->synchronized ? "clock synchronized" : "clock not synchronized", discipline_json(*now));
  } else if (!now && was_ok) {
    log(LogLevel::warn, "clock", {{"error", now.error().message()}});
  }
  latest_ = std::move(now);
}

Result<ClockDiscipline> ClockHealth::discipline() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

void ClockHealth::set_peers(const PeerClocks& peers) {
  std::lock_guard lock(mutex_);
  peers_ = peers;
}

nlohmann::ordered_json ClockHealth::info() const {
  std::lock_guard lock(mutex_);
  nlohmann::ordered_json out = latest_ ? discipline_json(*latest_)
                                       : nlohmann::ordered_json{{"error", latest_.error().message()}};
  if (peers_) {
    out["peers"] = {{"asked", peers_->asked},
                    {"answered", peers_->answered},
                    {"offset_us", peers_->offset_us},
                    {"max_round_trip_us", peers_->max_round_trip_us}};
  }
  return out;
}

void ClockHealth::render_metrics(Buffer& out) const {
  std::lock_guard lock(mutex_);
  append_family(out, "idforge_clock_synchronized",
                "1 while the kernel reports the clock synchronised (adjtimex), else 0.",
                latest_ && latest_->synchronized ? 1 : 0);
  append_family(out, "idforge_clock_max_error_seconds", "The kernel's bound on the clock's error (adjtimex maxerror).",
                latest_ ? static_cast<double>(latest_->max_error_us) / 1e6 : 0);
  append_family(out, "idforge_clock_estimated_error_seconds", "The kernel's estimate of the clock's error (esterror).",
                latest_ ? static_cast<double>(latest_->estimated_error_us) / 1e6 : 0);
  if (peers_) {
    append_family(out, "idforge_clock_peer_offset_seconds",
                  "This clock minus the mean of the other instances' (cluster mode, measured each minute).",
                  static_cast<double>(peers_->offset_us) / 1e6);
    append_family(out, "idforge_clock_peers_answered", "Instances whose clocks the last measurement read.",
                  peers_->answered);
  }
}

}  // namespace idforge::detail
