// SPDX-License-Identifier: Apache-2.0
#include "server/id_service.h"

#include <algorithm>
#include <chrono>

#include "idforge/random.h"
#include "idforge/decoder.h"
#include "server/log.h"

namespace idforge::detail {
namespace {

// Writes `count` IDs of `format` in `shape`; `each(p)` writes one ID's text at p
// and returns its end, or an error. On error `out` is truncated back to where it was.
template <class Each>
Result<void> write_ids(Format format, std::uint64_t count, IdShape shape, Buffer& out, Each&& each) {
  const std::size_t start = out.size();
  // Each ID's text, its quotes and its separator; then the braces.
  const std::size_t room_per_id = max_text_length(format) + 3;
  char* p = out.reserve(static_cast<std::size_t>(count) * room_per_id + 16);
  const bool json = shape != IdShape::lines;
  auto put = [&p](std::string_view s) {
    for (char c : s) *p++ = c;
  };
  if (shape == IdShape::json_one) put("{\"id\":");
  if (shape == IdShape::json_list) put("{\"ids\":[");
  for (std::uint64_t i = 0; i < count; ++i) {
    if (json) *p++ = '"';
    Result<char*> end = each(p);
    if (!end) {
      out.truncate(start);
      return end.error();
    }
    p = *end;
    if (json) {
      *p++ = '"';
      *p++ = ',';
    } else {
      *p++ = '\n';
    }
  }
  if (json) {
    --p;  // The last ','.
    put(shape == IdShape::json_list ? "]}\n" : "}\n");
  }
  out.commit(p);
  return {};
}

template <class WideGenerator>
Result<void> write_wide(WideGenerator& generator, Format format, std::uint64_t count, IdShape shape, Buffer& out) {
  return write_ids(format, count, shape, out, [&generator](char* p) -> Result<char*> {
    auto id = generator.next();
    if (!id) return id.error();
    return format_to(*id, p);
  });
}

// Logs when renewals of a reservation start failing, fail differently, and recover.
Renewer::OnChange log_renewals(std::string what, std::uint64_t node) {
  return [what = std::move(what), node](const std::optional<Error>& error) {
    if (error) {
      log(LogLevel::error, "reservation renewal failing",
          {{"reservation", what}, {"node", node}, {"code", to_string(error->code())}, {"error", error->message()}});
    } else {
      log(LogLevel::info, "reservation renewal recovered", {{"reservation", what}, {"node", node}});
    }
  };
}

std::chrono::milliseconds renew_period(const GeneratorOptions& options) {
  return std::chrono::milliseconds(std::max<std::int64_t>(1, options.reserve_ahead_ms / 4));
}

// How often the supervisor looks at the current hold, and the longest pause
// between tries to take a new one.
constexpr std::chrono::milliseconds kSupervisePeriod{100};
constexpr std::chrono::milliseconds kMaxRetakePause{2000};

}  // namespace

struct IdService::Generation {
  std::unique_ptr<NodeHold> hold;
  std::unique_ptr<Generator> generator;
  std::unique_ptr<Flake128Generator> flake128;
  std::unique_ptr<Renewer> renewer;
  std::unique_ptr<Renewer> flake128_renewer;
  bool closed = false;
};

std::uint64_t IdService::max_batch(const GeneratorOptions& options) {
  const std::int64_t lead_ticks = options.max_lead_ms / options.layout.tick_ms();
  return options.layout.capacity().ids_per_tick * static_cast<std::uint64_t>(lead_ticks + 1);
}

IdService::IdService(const IdServiceOptions& options, std::unique_ptr<NodeSource> source, Clock& clock)
    : layout_(options.generator.layout),
      options_(options),
      max_count_(options.max_count),
      source_(std::move(source)),
      clock_(clock) {}

Result<std::unique_ptr<IdService::Generation>> IdService::begin(std::unique_ptr<NodeHold> hold) {
  auto g = std::make_unique<Generation>();
  g->hold = std::move(hold);
  auto generator = Generator::create(options_.generator, clock_, g->hold->node());
  if (!generator) return generator.error();
  g->generator = std::move(*generator);
  const TimePolicy policy{.max_lead_ms = options_.generator.max_lead_ms,
                          .max_wait_ms = options_.generator.max_wait_ms,
                          .extend_on_demand = options_.generator.extend_on_demand};
  auto flake128 = Flake128Generator::create(policy, clock_, g->hold->worker());
  if (!flake128) return flake128.error();
  g->flake128 = std::move(*flake128);
  g->renewer = std::make_unique<Renewer>(*g->generator, renew_period(options_.generator),
                                         log_renewals("snowflake node", g->generator->node()));
  Flake128Generator& flakes = *g->flake128;
  g->flake128_renewer = std::make_unique<Renewer>([&flakes] { return flakes.renew(); },
                                                  renew_period(options_.generator),
                                                  log_renewals("flake-128 worker", flakes.worker()));
  return g;
}

Result<std::unique_ptr<IdService>> IdService::start(const IdServiceOptions& options, std::unique_ptr<NodeSource> source,
                                                    Clock& clock) {
  std::unique_ptr<IdService> s(new IdService(options, std::move(source), clock));
  Result<std::unique_ptr<NodeHold>> hold = s->source_->take();
  bool said_waiting = false;
  while (!hold && options.wait_for_node && hold.error().code() == Errc::unavailable &&
         (!options.keep_waiting || options.keep_waiting())) {
    if (!said_waiting) {
      log(LogLevel::warn, "waiting for a free node", {{"source", s->source_->name()}, {"error", hold.error().message()}});
      said_waiting = true;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    hold = s->source_->take();
  }
  if (!hold) return hold.error();
  if (said_waiting) log(LogLevel::info, "free node found", {{"source", s->source_->name()}});
  Result<std::unique_ptr<Generation>> first = s->begin(std::move(*hold));
  if (!first) return first.error();
  s->current_.store(first->get(), std::memory_order_release);
  s->generations_.push_back(std::move(*first));

  Random& random = SystemRandom::instance();
  const TimePolicy policy{.max_lead_ms = options.generator.max_lead_ms, .max_wait_ms = options.generator.max_wait_ms};
  auto ulid = UlidGenerator::create(policy, clock, random);
  if (!ulid) return ulid.error();
  s->ulid_ = std::move(*ulid);
  auto uuidv7 = UuidV7Generator::create(policy, clock, random);
  if (!uuidv7) return uuidv7.error();
  s->uuidv7_ = std::move(*uuidv7);
  auto objectid = ObjectIdGenerator::create(policy, clock, random);
  if (!objectid) return objectid.error();
  s->objectid_ = std::move(*objectid);
  auto ksuid = KsuidGenerator::create(policy, clock, random);
  if (!ksuid) return ksuid.error();
  s->ksuid_ = std::move(*ksuid);

  if (s->source_->retakes()) s->supervisor_ = std::thread([raw = s.get()] { raw->supervise(); });
  return s;
}

IdService::~IdService() { (void)stop(); }

std::uint64_t IdService::node() const { return current().generator->node(); }
std::uint64_t IdService::flake128_worker() const { return current().flake128->worker(); }
std::string IdService::mark() const { return current().hold->mark(); }
std::optional<std::int64_t> IdService::inherited_stamp() const { return current().hold->node().inherited_stamp(); }
std::vector<std::string> IdService::notes() const { return current().hold->notes(); }
nlohmann::ordered_json IdService::coordination() const { return current().hold->info(); }
void IdService::render_source_metrics(Buffer& out) const { source_->render_metrics(out, *current().hold); }
GeneratorStats IdService::stats() { return current().generator->stats(); }

Result<void> IdService::close(Generation& g) {
  if (g.closed) return {};
  g.closed = true;
  g.renewer->stop();
  g.flake128_renewer->stop();
  Result<void> snowflake = g.generator->close();
  Result<void> flake128 = g.flake128->close();
  Result<void> ended = g.hold->end();
  if (!snowflake) return snowflake;
  if (!flake128) return flake128;
  return ended;
}

void IdService::supervise() {
  std::unique_lock lock(supervisor_mutex_);
  std::chrono::milliseconds pause = kSupervisePeriod;
  std::string last_refusal;  // Logged when it changes, not at every try.
  while (!supervisor_wake_.wait_for(lock, pause, [this] { return stopped_.load(); })) {
    pause = kSupervisePeriod;
    Generation& g = current();
    if (!g.hold->lapsed()) continue;
    lock.unlock();
    if (!g.closed) {
      retaking_.store(true);
      const std::optional<Error> why = g.hold->lapse_error();
      log(LogLevel::error, "node lost; taking a node again",
          {{"node", g.generator->node()}, {"error", why ? why->message() : std::string("the lease lapsed")}});
      (void)close(g);  // Not the owner any more: nothing is written, the lease is gone.
    }
    Result<std::unique_ptr<NodeHold>> hold = source_->take();
    Result<std::unique_ptr<Generation>> next =
        hold ? begin(std::move(*hold)) : Result<std::unique_ptr<Generation>>(hold.error());
    lock.lock();
    if (!next) {
      if (next.error().message() != last_refusal) {
        last_refusal = next.error().message();
        log(LogLevel::warn, "cannot take a node yet; trying again every 2 s", {{"error", last_refusal}});
      }
      pause = kMaxRetakePause;
      continue;
    }
    if (stopped_.load()) {
      lock.unlock();
      (void)close(**next);
      generations_.push_back(std::move(*next));
      return;
    }
    last_refusal.clear();
    source_->count_retake();
    log(LogLevel::info, "node taken again",
        {{"node", (*next)->generator->node()}, {"flake128_worker", (*next)->flake128->worker()},
         {"mark", (*next)->hold->mark()}, {"inherited_stamp", (*next)->hold->node().inherited_stamp()
                                                                  ? nlohmann::json(*(*next)->hold->node().inherited_stamp())
                                                                  : nlohmann::json()}});
    current_.store(next->get(), std::memory_order_release);
    generations_.push_back(std::move(*next));
    retaking_.store(false);
  }
}

Result<void> IdService::write(Format format, Encoding encoding, std::uint64_t count, IdShape shape, Buffer& out,
                              std::span<std::uint64_t> scratch) {
  switch (format) {
    case Format::snowflake: {
      std::span<std::uint64_t> ids = scratch.first(static_cast<std::size_t>(count));
      if (Result<void> made = current().generator->next_batch(ids); !made) return explained(made.error());
      const std::uint64_t* next = ids.data();
      return write_ids(format, count, shape, out, [&next, encoding](char* p) -> Result<char*> {
        return encode_to(*next++, encoding, p);
      });
    }
    case Format::ulid:
      return write_wide(*ulid_, format, count, shape, out);
    case Format::uuidv4:
      return write_ids(format, count, shape, out, [](char* p) -> Result<char*> {
        return format_to(Uuid::v4(SystemRandom::instance()), p);
      });
    case Format::uuidv7:
      return write_wide(*uuidv7_, format, count, shape, out);
    case Format::objectid:
      return write_wide(*objectid_, format, count, shape, out);
    case Format::ksuid:
      return write_wide(*ksuid_, format, count, shape, out);
    case Format::flake128:
      if (Result<void> made = write_wide(*current().flake128, format, count, shape, out); !made) {
        return explained(made.error());
      }
      return {};
  }
  return Error(Errc::invalid_argument, "unknown format");
}

Result<void> IdService::next_snowflakes(std::span<std::uint64_t> ids) {
  if (Result<void> made = current().generator->next_batch(ids); !made) return explained(made.error());
  return {};
}

Error IdService::explained(Error error) const {
  if (error.code() != Errc::lease_lost) return error;
  // A generator stopped because its store was refused says why the store was.
  if (std::optional<Error> refused = source_->refusal()) return Error(Errc::lease_lost, refused->message());
  return error;
}

std::int64_t IdService::seconds_until_clock_catches_up() {
  // Capped at an hour: an operator may step the clock forward sooner than it
  // would catch up on its own, and clients should look again by then.
  constexpr std::int64_t kMaxSeconds = 3600;
  const std::int64_t behind_ms = stats().next_stamp_lead_ms - options_.generator.max_lead_ms;
  return std::clamp<std::int64_t>((behind_ms + 999) / 1000, 1, kMaxSeconds);
}

IdService::Readiness IdService::readiness() {
  if (stopped_.load(std::memory_order_relaxed)) return {false, "stopped", "the service is stopping", 1};
  if (std::optional<Error> refused = source_->refusal()) {
    return {false, "store_refused", refused->message() + "; not issuing until then", 5};
  }
  Generation& g = current();
  if (g.hold->lapsed() || retaking_.load(std::memory_order_relaxed)) {
    const std::optional<Error> why = g.hold->lapse_error();
    return {false, "lease_lost",
            (why ? why->message() : std::string("the node's lease lapsed")) + "; taking a node again through " +
                source_->name(),
            1};
  }
  for (Renewer* renewer : {g.renewer.get(), g.flake128_renewer.get()}) {
    if (std::optional<Error> error = renewer->last_error()) {
      const bool lost = error->code() == Errc::lease_lost;
      return {false, lost ? "lease_lost" : "renewal_failing", error->message(), 1};
    }
  }
  const GeneratorStats s = g.generator->stats();
  const std::int64_t behind_ms = s.next_stamp_lead_ms - options_.generator.max_lead_ms;
  if (behind_ms > options_.generator.max_wait_ms + layout().tick_ms()) {
    const std::int64_t wait_s = seconds_until_clock_catches_up();
    return {false, "clock_regressed",
            "the clock is " + std::to_string(behind_ms) + " ms behind the stamps this node has issued or inherited, "
            "beyond --max-lead-ms and --max-wait-ms; ready again in about " + std::to_string(wait_s) +
            " s by itself (or raise --max-lead-ms)",
            wait_s};
  }
  return {};
}

Result<void> IdService::stop() {
  if (stopped_.exchange(true)) return {};
  {
    std::lock_guard lock(supervisor_mutex_);
  }
  supervisor_wake_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  Generation* g = current_.load(std::memory_order_acquire);
  return g != nullptr ? close(*g) : Result<void>();
}

}  // namespace idforge::detail
