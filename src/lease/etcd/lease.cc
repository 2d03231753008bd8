// SPDX-License-Identifier: Apache-2.0
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "core/text.h"
#include "lease/etcd/client.h"

namespace idforge {
namespace {

using detail::cat;

constexpr std::int64_t kNsPerMs = 1'000'000;
constexpr std::int64_t kMinTtlS = 5;
constexpr std::int64_t kMaxTtlS = 300;
// After a keepalive that got no answer, the next try comes this soon.
constexpr std::chrono::milliseconds kRetryPause{250};

// Where the fence stands for a keepalive sent at `send_boot_ns` and answered with `ttl_s`.
std::int64_t fence_for(std::int64_t send_boot_ns, std::int64_t ttl_s) {
  const auto valid_ns = static_cast<std::int64_t>(static_cast<double>(ttl_s) * 1e9 * (1.0 - EtcdLease::kDriftBound));
  return send_boot_ns + valid_ns - std::chrono::nanoseconds(EtcdLease::kFenceMargin).count();
}

}  // namespace

std::string EtcdLease::hex(std::int64_t id) { return detail::hex_u64(static_cast<std::uint64_t>(id)); }

struct EtcdLease::Keeper {
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;          // Guarded by mutex.
  State state = State::held;      // Guarded by mutex.
  std::optional<Error> lost;      // Guarded by mutex.
  std::thread thread;
};

EtcdLease::EtcdLease(std::shared_ptr<EtcdClient> client, Clock& clock, EtcdObserver observer)
    : client_(std::move(client)), clock_(clock), observer_(std::move(observer)), keeper_(std::make_unique<Keeper>()) {}

Result<std::shared_ptr<EtcdLease>> EtcdLease::grant(std::shared_ptr<EtcdClient> client, std::int64_t ttl_s,
                                                     Clock& clock, EtcdObserver observer) {
  if (ttl_s < kMinTtlS || ttl_s > kMaxTtlS) {
    return Error(Errc::invalid_argument,
                 cat("lease TTL ", ttl_s, " s is outside ", kMinTtlS, " to ", kMaxTtlS,
                     " s: shorter is within etcd's leader-election time, longer is past its lease checkpointing"));
  }
  std::shared_ptr<EtcdLease> lease(new EtcdLease(std::move(client), clock, std::move(observer)));
  EtcdClient::Impl& etcd = lease->client_->impl();
  const std::int64_t send = clock.boot_ns();
  Result<etcdserverpb::LeaseGrantResponse> granted = etcd.grant(ttl_s, etcd.default_deadline());
  if (!granted) return granted.error();
  lease->id_ = granted->id();
  lease->ttl_s_ = granted->ttl();
  lease->fence_.move_to(fence_for(send, lease->ttl_s_));
  lease->keeper_->thread = std::thread([raw = lease.get()] { raw->keep_alive(); });
  return lease;
}

EtcdLease::~EtcdLease() {
  {
    std::lock_guard lock(keeper_->mutex);
    keeper_->stopping = true;
  }
  keeper_->wake.notify_all();
  if (keeper_->thread.joinable()) keeper_->thread.join();
}

EtcdLease::State EtcdLease::state() const {
  std::lock_guard lock(keeper_->mutex);
  return keeper_->state;
}

std::optional<Error> EtcdLease::lost_error() const {
  std::lock_guard lock(keeper_->mutex);
  return keeper_->lost;
}

std::int64_t EtcdLease::ms_until_fence() {
  if (fence_.dropped()) return -1;
  return (fence_.deadline_boot_ns() - clock_.boot_ns()) / kNsPerMs;
}

bool EtcdLease::lapsed() { return fence_.passed(clock_.boot_ns()); }

EtcdClient::Impl::Deadline EtcdLease::call_deadline() {
  const std::int64_t left_ns = std::max<std::int64_t>(0, fence_.deadline_boot_ns() - clock_.boot_ns());
  return std::min(client_->impl().default_deadline(), std::chrono::steady_clock::now() + std::chrono::nanoseconds(left_ns));
}

Error EtcdLease::unanswered_error() const {
  return Error(Errc::lease_lost, cat("etcd lease ", hex(id_), ": no keepalive was answered before its deadline (etcd "
                                     "unreachable, or this process was paused), so the lease may have expired"));
}

void EtcdLease::lose(Error why) {
  {
    std::lock_guard lock(keeper_->mutex);
    if (keeper_->state != State::held) return;
    keeper_->state = State::lost;
    keeper_->lost = why;
  }
  fence_.drop();
  if (observer_.lease_lost) observer_.lease_lost(id_, why);
}

void EtcdLease::keep_alive() {
  EtcdClient::Impl& etcd = client_->impl();
  const std::chrono::milliseconds period(ttl_s_ * 1000 / 3);
  std::chrono::milliseconds wait = period;
  std::unique_lock lock(keeper_->mutex);
  for (;;) {
    if (keeper_->wake.wait_for(lock, wait, [this] { return keeper_->stopping; })) return;
    if (keeper_->state != State::held) return;
    lock.unlock();
    const std::int64_t send = clock_.boot_ns();
    if (fence_.passed(send)) {
      lose(unanswered_error());
      return;
    }
    Result<etcdserverpb::LeaseKeepAliveResponse> answer = etcd.keepalive(id_, call_deadline());
    if (answer && answer->ttl() <= 0) {
      lose(Error(Errc::lease_lost, cat("etcd lease ", hex(id_), " expired or was revoked (a keepalive was answered with "
                                       "TTL ", answer->ttl(), ")")));
      return;
    }
    if (!answer && answer.error().code() == Errc::lease_lost) {
      lose(Error(Errc::lease_lost, cat("etcd lease ", hex(id_), " is not found: ", answer.error().message())));
      return;
    }
    if (answer) {
      fence_.move_to(fence_for(send, std::min(answer->ttl(), ttl_s_)));
      if (observer_.keepalive) observer_.keepalive(clock_.boot_ns() - send);
      wait = period;
    } else {
      wait = kRetryPause;
    }
    lock.lock();
  }
}

Result<void> EtcdLease::revoke() {
  // A lease given up after its fence passed was lost first, whichever thread sees it.
  if (state() == State::held && lapsed()) {
    lose(unanswered_error());
  }
  {
    std::lock_guard lock(keeper_->mutex);
    if (keeper_->state == State::revoked) return {};
    keeper_->stopping = true;
  }
  keeper_->wake.notify_all();
  if (keeper_->thread.joinable()) keeper_->thread.join();
  fence_.drop();
  Result<void> revoked = client_->impl().revoke(id_, client_->impl().default_deadline());
  std::lock_guard lock(keeper_->mutex);
  keeper_->state = State::revoked;
  return revoked;
}

}  // namespace idforge
