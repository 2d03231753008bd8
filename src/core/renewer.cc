#include "idforge/renewer.h"

namespace idforge {

Renewer::Renewer(Generator& generator, std::chrono::milliseconds period)
    : Renewer([&generator] { return generator.renew(); }, period) {}

Renewer::Renewer(std::function<Result<void>()> renew, std::chrono::milliseconds period)
    : renew_(std::move(renew)), period_(period), thread_([this] { run(); }) {}

Renewer::~Renewer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
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
    lock.lock();
    last_error_ = renewed ? std::nullopt : std::optional<Error>(renewed.error());
  }
}

}  // namespace idforge
