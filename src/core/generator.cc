// SPDX-License-Identifier: Apache-2.0
#include "idforge/generator.h"

#include "core/fork.h"
#include "core/text.h"
#include "idforge/time_text.h"

namespace idforge {
namespace {

using detail::cat;
using detail::floor_div;

constexpr std::int64_t kNsPerMs = 1'000'000;
// The tick cache is re-validated at least this often, so a clock step shows quickly.
constexpr std::int64_t kMaxCacheSpanNs = 1'000'000;
// Margin before a tick boundary inside which the cache is not trusted.
constexpr std::int64_t kCacheMarginNs = 2'000;
// A reading this far behind the furthest one counts as a rollback.
constexpr std::int64_t kRollbackThresholdNs = 1'000'000;

// The nanoseconds past the start of the millisecond `ns` falls in: 0 .. 999,999.
std::int64_t ns_into_ms(std::int64_t ns) {
  const std::int64_t r = ns % kNsPerMs;
  return r < 0 ? r + kNsPerMs : r;
}

// The holder number of the next generator made in this process (audit.h).
std::uint64_t next_holder() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

std::uint64_t Generator::current_fork_generation() { return detail::fork_generation(); }

Generator::Generator(const GeneratorOptions& options, Clock& clock, Reservation& reservation)
    : layout_(options.layout),
      clock_(clock),
      reservation_(reservation),
      node_(reservation.node()),
      seq_bits_(layout_.sequence_field().bits),
      seq_mask_(layout_.sequence_field().max_value()),
      ts_shift_(layout_.timestamp_field().shift),
      seq_shift_(layout_.sequence_field().shift),
      node_bits_in_id_(layout_.node_bits_in_id(node_)),
      lead_ticks_(options.max_lead_ms / layout_.tick_ms()),
      max_wait_ns_(options.max_wait_ms * kNsPerMs),
      reserve_ahead_ticks_(std::max<std::int64_t>(1, (options.reserve_ahead_ms + layout_.tick_ms() - 1) / layout_.tick_ms())),
      extend_on_demand_(options.extend_on_demand),
      fork_generation_(current_fork_generation()),
      fence_(reservation.fence()),
      audit_(options.audit),
      holder_(next_holder()),
      inherited_stamp_(reservation.inherited_stamp()) {
  // A successor starts after the largest stamp its predecessors may have issued.
  if (inherited_stamp_) {
    const std::int64_t start_tick = std::clamp<std::int64_t>(*inherited_stamp_, -1, layout_.max_tick()) + 1;
    initial_state_ = static_cast<std::uint64_t>(start_tick) << seq_bits_;
    // A clock further behind the inherited stamp than any reservation runs ahead of
    // a clock is behind its predecessor's clock: count that as a rollback.
    const std::int64_t ahead_ms = std::max(options.reserve_ahead_ms, options.max_lead_ms + options.reserve_ahead_ms / 8);
    const std::int64_t stamp_ms = layout_.unix_ms_of_tick(std::min(*inherited_stamp_, layout_.max_tick()));
    furthest_wall_ns_.store(std::min(stamp_ms - ahead_ms, INT64_MAX / kNsPerMs) * kNsPerMs, std::memory_order_relaxed);
  }
  state_.store(initial_state_, std::memory_order_relaxed);
}

Result<std::unique_ptr<Generator>> Generator::create(const GeneratorOptions& options, Clock& clock,
                                                     Reservation& reservation) {
  auto out_of_range = [](std::string_view name, std::int64_t value, std::int64_t lo, std::int64_t hi) {
    return Error(Errc::invalid_argument, cat(name, " = ", value, " is out of range; use ", lo, " to ", hi));
  };
  if (options.max_lead_ms < 0 || options.max_lead_ms > 86'400'000) {
    return out_of_range("max_lead_ms", options.max_lead_ms, 0, 86'400'000);
  }
  if (options.max_wait_ms < 0 || options.max_wait_ms > 3'600'000) {
    return out_of_range("max_wait_ms", options.max_wait_ms, 0, 3'600'000);
  }
  if (options.reserve_ahead_ms < 1 || options.reserve_ahead_ms > 86'400'000) {
    return out_of_range("reserve_ahead_ms", options.reserve_ahead_ms, 1, 86'400'000);
  }
  const int node_bits = options.layout.node_bits();
  if (node_bits < 64 && reservation.node() >> node_bits) {
    return Error(Errc::invalid_argument, cat("node ", reservation.node(), " is outside layout ",
                                             options.layout.name(), "'s ", (1ULL << node_bits), " nodes"));
  }
  return std::unique_ptr<Generator>(new Generator(options, clock, reservation));
}

Generator::~Generator() { (void)close(); }

Result<void> Generator::next_batch(std::span<std::uint64_t> out) {
  if (out.empty()) return {};
  Result<std::uint64_t> first = take(out.size());
  if (!first) return first.error();
  // Fill one tick's run at a time: within a run only the sequence bits change.
  std::uint64_t state = *first;
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t seq = state & seq_mask_;
    const std::size_t run = static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - i, seq_mask_ + 1 - seq));
    const std::uint64_t base = ((state >> seq_bits_) << ts_shift_) | node_bits_in_id_;
    for (std::size_t k = 0; k < run; ++k) out[i + k] = base | ((seq + k) << seq_shift_);
    i += run;
    state += run;
  }
  return {};
}

void Generator::account(std::uint64_t cur, std::uint64_t first, std::uint64_t end) {
  // Only one claim ever finds state_ at the initial state: the first.
  if (cur == initial_state_ && first != cur) first_claimed_.store(first, std::memory_order_relaxed);
  if (first != cur) skipped_.fetch_add(first - cur, std::memory_order_relaxed);
  const std::uint64_t crossed = (end >> seq_bits_) - (first >> seq_bits_);
  if (crossed != 0) overflows_.fetch_add(crossed, std::memory_order_relaxed);
}

Generator::Reading Generator::read_clock() {
  const std::uint64_t cycles = clock_.cycles();
  const std::int64_t wall_ns = clock_.wall_ns();
  if (fence_ != nullptr && !fenced_.load(std::memory_order_relaxed) && fence_->passed(clock_.boot_ns())) {
    fenced_.store(true, std::memory_order_seq_cst);
    limit_tick_.store(-1, std::memory_order_seq_cst);
  }

  note_step(wall_ns);

  // Rollback detection: count each episode of reading behind the furthest reading.
  std::int64_t furthest = furthest_wall_ns_.load(std::memory_order_relaxed);
  if (wall_ns > furthest) {
    while (wall_ns > furthest && !furthest_wall_ns_.compare_exchange_weak(furthest, wall_ns)) {
    }
    regressed_.store(false, std::memory_order_relaxed);
  } else if (static_cast<std::uint64_t>(furthest) - static_cast<std::uint64_t>(wall_ns) >
                 static_cast<std::uint64_t>(kRollbackThresholdNs) &&
             !regressed_.exchange(true, std::memory_order_relaxed)) {
    rollbacks_.fetch_add(1, std::memory_order_relaxed);
  }

  const std::int64_t wall_ms = floor_div(wall_ns, kNsPerMs);
  // Past the layout's end every tick reads as max_tick + 1: that refuses with
  // time_exhausted, and (max_tick + 1) << sequence_bits still fits in 64 bits.
  // Any int64 reading works: the distance to the next boundary is computed in
  // milliseconds first (at most a tick), so nothing overflows at the ends of time.
  const std::int64_t tick = std::min(layout_.tick_at_unix_ms(wall_ms), layout_.max_tick() + 1);
  const std::int64_t to_boundary_ms = std::clamp<std::int64_t>(layout_.unix_ms_of_tick(tick + 1) - wall_ms, 0, layout_.tick_ms());
  const std::int64_t to_boundary_ns = to_boundary_ms * kNsPerMs - ns_into_ms(wall_ns);
  const std::int64_t span_ns = std::min(to_boundary_ns, kMaxCacheSpanNs) - kCacheMarginNs;
  const std::uint64_t deadline = cycles + clock_.cycles_within_ns(span_ns);
  if (!cache_refreshing_.exchange(true, std::memory_order_acquire)) {
    cached_tick_.store(tick, std::memory_order_relaxed);
    cache_deadline_.store(deadline, std::memory_order_release);
    cache_refreshing_.store(false, std::memory_order_release);
  }
  return {tick, wall_ns};
}

void Generator::note_step(std::int64_t wall_ns) {
  // Two threads reading at once may see one step as a step and its reverse; a
  // step is a rare event, and the count is for operators, not for uniqueness.
  const std::int64_t offset = wall_ns - clock_.boot_ns();
  const std::int64_t before = wall_offset_ns_.exchange(offset, std::memory_order_relaxed);
  if (before == INT64_MIN) return;
  const std::int64_t step_ms = (offset - before) / kNsPerMs;
  if (step_ms == 0) return;
  const std::uint64_t size_ms = static_cast<std::uint64_t>(step_ms < 0 ? -step_ms : step_ms);
  std::size_t size_class = 0;
  while (size_class < kStepBoundsMs.size() && static_cast<std::int64_t>(size_ms) > kStepBoundsMs[size_class]) ++size_class;
  (step_ms < 0 ? steps_back_ : steps_forward_)[size_class].fetch_add(1, std::memory_order_relaxed);
  (step_ms < 0 ? steps_back_ms_ : steps_forward_ms_).fetch_add(size_ms, std::memory_order_relaxed);
}

Error Generator::refuse(Errc code, std::string message) {
  refusals_.fetch_add(1, std::memory_order_relaxed);
  return Error(code, std::move(message));
}

Result<std::uint64_t> Generator::take_slow(std::uint64_t n) {
  const std::uint64_t per_call = (seq_mask_ + 1) * static_cast<std::uint64_t>(lead_ticks_ + 1);
  if (n > per_call) {
    return refuse(Errc::invalid_argument, cat("a batch of ", n, " IDs exceeds the ", per_call,
                                              " that max_lead_ms allows in one call; ask for fewer"));
  }
  const std::int64_t give_up_boot_ns = clock_.boot_ns() + max_wait_ns_;
  bool waited = false;
  for (;;) {
    if (fork_generation_ != current_fork_generation()) {
      return refuse(Errc::lease_lost, "this process forked after the generator was created; create a new "
                                      "generator with its own reservation in the child");
    }
    const Reading now = read_clock();
    std::uint64_t cur = state_.load(std::memory_order_relaxed);
    if (cur >= kClosed) return refuse(Errc::lease_lost, "the generator is closed and its node released");
    if (lost_.load(std::memory_order_acquire) || fence_passed()) {
      std::lock_guard lock(renew_mutex_);
      if (!lost_.load(std::memory_order_relaxed)) lose(fence_error());
      return refuse(lost_error_->code(), lost_error_->message());
    }
    const std::uint64_t floor = now.tick > 0 ? static_cast<std::uint64_t>(now.tick) << seq_bits_ : 0;
    const std::uint64_t first = std::max(cur, floor);
    const std::uint64_t end = first + n;
    const std::int64_t last_tick = static_cast<std::int64_t>((end - 1) >> seq_bits_);

    if (last_tick > layout_.max_tick()) {
      return refuse(Errc::time_exhausted,
                    cat("layout ", layout_.name(), " has no ticks left: its time ran out at ",
                        format_utc_ms(layout_.capacity().last_unix_ms), "; move to a layout with a later end"));
    }
    if (last_tick > now.tick + lead_ticks_) {
      // Milliseconds first: a clock at the far end of time must not overflow here.
      const std::int64_t now_ms = floor_div(now.wall_ns, kNsPerMs);
      const std::int64_t wait_ms = layout_.unix_ms_of_tick(last_tick - lead_ticks_) - now_ms;
      const std::int64_t wait_ns = wait_ms > max_wait_ns_ / kNsPerMs
                                       ? max_wait_ns_ + 1
                                       : wait_ms * kNsPerMs - ns_into_ms(now.wall_ns);
      if (clock_.boot_ns() + wait_ns > give_up_boot_ns) {
        const std::int64_t lead_ms = (last_tick - now.tick) * layout_.tick_ms();
        const bool behind = regressed_.load(std::memory_order_relaxed) ||
                            static_cast<std::int64_t>(first >> seq_bits_) <= inherited_stamp_.value_or(-1) + 1;
        const std::string why = cat("the next stamp would run ", lead_ms, " ms ahead of the wall clock (",
                                    format_utc_ms(floor_div(now.wall_ns, kNsPerMs)), "); max_lead_ms allows ",
                                    lead_ticks_ * layout_.tick_ms(), " and waiting would exceed max_wait_ms (",
                                    max_wait_ns_ / kNsPerMs, ")");
        if (now.tick < 0) {
          return refuse(Errc::clock_regressed,
                        cat("the clock reads ", format_utc_ms(floor_div(now.wall_ns, kNsPerMs)), ", before layout ",
                            layout_.name(), "'s epoch ", format_utc_ms(layout_.epoch_unix_ms()),
                            ": it can stamp no ID until then; choose an epoch in the past (or fix the clock)"));
        }
        if (behind) {
          return refuse(Errc::clock_regressed,
                        cat("the clock is behind stamps already issued or reserved for this node: ", why,
                            "; wait for the clock to pass them, or raise max_lead_ms"));
        }
        return refuse(Errc::overloaded, cat("demand exceeds the layout's capacity: ", why, "; retry later"));
      }
      if (!waited) {
        waited = true;
        waits_.fetch_add(1, std::memory_order_relaxed);
      }
      clock_.sleep_for_ns(wait_ns);
      continue;
    }
    if (last_tick > limit_tick_.load(std::memory_order_acquire)) {
      if (extend_on_demand_ || cur == initial_state_) {
        std::lock_guard lock(renew_mutex_);
        if (closed_) continue;
        if (Result<void> extended = extend_locked(last_tick); !extended) {
          return refuse(extended.error().code(), extended.error().message());
        }
        continue;
      }
      // Wait for the renewer, never for the store itself.
      const std::int64_t left_ns = give_up_boot_ns - clock_.boot_ns();
      if (left_ns <= 0) {
        return refuse(Errc::unavailable,
                      cat("node ", node_, "'s reservation has not been extended in time (its store is slow or "
                          "unreachable; the renewal is retried in the background); retry later"));
      }
      if (!waited) {
        waited = true;
        waits_.fetch_add(1, std::memory_order_relaxed);
      }
      clock_.sleep_for_ns(std::min<std::int64_t>(left_ns, kNsPerMs / 4));
      continue;
    }
    if (state_.compare_exchange_strong(cur, end, std::memory_order_relaxed, std::memory_order_relaxed)) {
      account(cur, first, end);
      return first;
    }
  }
}

std::int64_t Generator::last_issued_tick() const {
  const std::uint64_t state = closed_ ? closed_state_ : state_.load(std::memory_order_relaxed);
  return state == initial_state_ ? -1 : static_cast<std::int64_t>((state - 1) >> seq_bits_);
}

Result<void> Generator::extend_locked(std::int64_t min_tick) {
  if (!lost_.load(std::memory_order_relaxed) && fence_passed()) lose(fence_error());
  if (lost_.load(std::memory_order_relaxed)) return *lost_error_;
  const std::int64_t now_tick = layout_.tick_at_unix_ms(floor_div(clock_.wall_ns(), kNsPerMs));
  // Reserve ahead of the clock; when stamps run further ahead than that, only a
  // little past the stamp that needs it, so a crash costs a successor little lead.
  std::int64_t until = std::max(now_tick + reserve_ahead_ticks_, min_tick + std::max<std::int64_t>(1, reserve_ahead_ticks_ / 8));
  until = std::min(until, layout_.max_tick());
  if (until <= reserved_tick_ && limit_tick_.load(std::memory_order_relaxed) >= min_tick) return {};
  if (Result<void> r = reservation_.extend(until); !r) {
    if (r.error().code() == Errc::lease_lost) lose(r.error());
    return r;
  }
  if (audit_ != nullptr) {
    // What may be issued from now on, recorded before anything of it is.
    const std::uint64_t from = reserved_tick_ >= 0 ? static_cast<std::uint64_t>(reserved_tick_ + 1) << seq_bits_
                                                   : initial_state_;
    const std::uint64_t to = (static_cast<std::uint64_t>(until + 1) << seq_bits_) - 1;
    audit_->reserve(layout_, ReservedRange{node_, id_of(from), id_of(to), holder_});
  }
  reserved_tick_ = until;
  limit_tick_.store(until, std::memory_order_seq_cst);
  if (fence_passed()) {
    lose(fence_error());
    return *lost_error_;
  }
  return {};
}

Error Generator::fence_error() const {
  return Error(Errc::lease_lost,
               cat("node ", node_, ": the lease on the node lapsed (its deadline passed without a confirmed renewal, "
                   "or the lease was reported lost), so another holder may take the node; stopped issuing on it"));
}

void Generator::lose(const Error& error) {
  lost_error_ = error;
  limit_tick_.store(-1, std::memory_order_seq_cst);
  lost_.store(true, std::memory_order_release);
}

void Generator::audit_locked(std::uint64_t state) {
  if (audit_ == nullptr) return;
  std::uint64_t from = audited_state_.value_or(initial_state_);
  if (state <= from) return;
  if (!audited_state_) {
    // The first report begins where the first claim did: recorded by its
    // account() if it skipped states, else the initial state. That account() may
    // still be on its way: wait one report for it (not when closing).
    const std::uint64_t first = first_claimed_.load(std::memory_order_relaxed);
    if (first == kUnknown && !closed_ && !audit_waited_) {
      audit_waited_ = true;
      return;
    }
    if (first != kUnknown) from = first;
  }
  const std::uint64_t issued = state - initial_state_ - skipped_.load(std::memory_order_relaxed);
  ClaimedRange range;
  range.node = node_;
  range.first_id = id_of(from);
  range.last_id = id_of(state - 1);
  range.states = state - from;
  // A claim in flight has moved state_ but may not have counted its skipped
  // states yet: such a count comes out high now and is made good in the next report.
  range.issued = std::min(range.states, issued > audited_issued_ ? issued - audited_issued_ : 0);
  range.holder = holder_;
  audit_->record(layout_, range);
  audited_state_ = state;
  audited_issued_ = std::max(audited_issued_, issued);
}

Result<void> Generator::renew() {
  std::lock_guard lock(renew_mutex_);
  if (closed_) return Error(Errc::lease_lost, "the generator is closed and its node released");
  if (fork_generation_ != current_fork_generation()) {
    return Error(Errc::lease_lost, "this process forked after the generator was created");
  }
  audit_locked(state_.load(std::memory_order_relaxed));
  if (fence_ != nullptr && !lost_.load(std::memory_order_relaxed)) {
    (void)read_clock();  // Notices a passed fence even while nothing is asked for.
    if (fence_passed()) lose(fence_error());
  }
  if (lost_.load(std::memory_order_relaxed)) return *lost_error_;
  const std::int64_t last_tick = last_issued_tick();
  if (last_tick < 0) return {};  // Nothing issued yet: nothing to keep ahead of.
  const std::int64_t newest = std::max(read_clock().tick, last_tick);
  const std::int64_t headroom_ms = (reserved_tick_ - newest) * layout_.tick_ms();
  if (headroom_ms >= reserve_ahead_ticks_ * layout_.tick_ms() / 2 || newest > layout_.max_tick()) return {};
  return extend_locked(newest);
}

Result<void> Generator::close() {
  std::lock_guard lock(renew_mutex_);
  if (closed_) return {};
  closed_state_ = state_.exchange(kClosed, std::memory_order_relaxed);
  closed_ = true;
  if (fork_generation_ != current_fork_generation()) {
    return Error(Errc::lease_lost, "closed in a forked child: the reservation belongs to the parent");
  }
  audit_locked(closed_state_);
  const std::int64_t last_tick = last_issued_tick();
  std::optional<std::int64_t> final_stamp = inherited_stamp_;
  if (last_tick >= 0) final_stamp = std::max(final_stamp.value_or(-1), last_tick);
  Result<void> released = reservation_.release(final_stamp);
  if (released && audit_ != nullptr) {
    // The rest of the reservation is given back: its successor may start in it.
    audit_->release(layout_, node_, holder_,
                    closed_state_ == initial_state_ ? std::nullopt : std::optional(id_of(closed_state_ - 1)));
  }
  return released;
}

GeneratorStats Generator::stats() {
  const std::int64_t now_tick = read_clock().tick;
  std::lock_guard lock(renew_mutex_);
  const std::uint64_t state = closed_ ? closed_state_ : state_.load(std::memory_order_relaxed);
  GeneratorStats s;
  s.issued = state - initial_state_ - skipped_.load(std::memory_order_relaxed);
  s.overflows = overflows_.load(std::memory_order_relaxed);
  s.waits = waits_.load(std::memory_order_relaxed);
  s.refusals = refusals_.load(std::memory_order_relaxed);
  s.rollbacks = rollbacks_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kStepClasses; ++i) {
    s.steps_back[i] = steps_back_[i].load(std::memory_order_relaxed);
    s.steps_forward[i] = steps_forward_[i].load(std::memory_order_relaxed);
  }
  s.steps_back_ms = steps_back_ms_.load(std::memory_order_relaxed);
  s.steps_forward_ms = steps_forward_ms_.load(std::memory_order_relaxed);
  s.lead_ms = std::max<std::int64_t>(0, last_issued_tick() - now_tick) * layout_.tick_ms();
  const auto next_tick = static_cast<std::int64_t>(state >> seq_bits_);
  s.next_stamp_lead_ms = std::max<std::int64_t>(0, next_tick - now_tick) * layout_.tick_ms();
  if (reserved_tick_ >= 0) s.reserved_until_unix_ms = layout_.unix_ms_of_tick(reserved_tick_);
  return s;
}

}  // namespace idforge
