// SPDX-License-Identifier: Apache-2.0
#include "idforge/renewer.h"

namespace idforge {

Renewer::Renewer(Generator& generator, std::chrono::milliseconds period, OnChange on_change)
    : Renewer([&generator] { return generator.renew(); }, period, std::move(on_change)) {}

Renewer::Renewer(std::function<Result<void>()> renew, std::chrono::milliseconds period, OnChange on_change)
    : renew_(std::move(renew)), period_(period), on_change_(std::move(on_change)), thread_([this] { run(); }) {}

Renewer::~Renewer() { stop(); }

void Renewer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<Error> Renewer::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

void Renewer::run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, period_, [this] { return stopping_; })) {
    lock.unlock();
    Result<void> renewed = renew_();
    std::optional<Error> now = renewed ? std::nullopt : std::optional<Error>(renewed.error());
    const bool changed = now.has_value() != last_error_.has_value() ||
                         (now && (now->code() != last_error_->code() || now->message() != last_error_->message()));
    if (changed && on_change_) on_change_(now);
    lock.lock();
    last_error_ = std::move(now);
  }
}

}  // namespace idforge
