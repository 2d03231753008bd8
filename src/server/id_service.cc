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

}  // namespace

std::uint64_t IdService::max_batch(const GeneratorOptions& options) {
  const std::int64_t lead_ticks = options.max_lead_ms / options.layout.tick_ms();
  return options.layout.capacity().ids_per_tick * static_cast<std::uint64_t>(lead_ticks + 1);
}

Result<std::unique_ptr<IdService>> IdService::start(const IdServiceOptions& options, Clock& clock) {
  std::unique_ptr<IdService> s(new IdService());
  s->max_count_ = options.max_count;
  s->max_lead_ms_ = options.generator.max_lead_ms;
  s->max_wait_ms_ = options.generator.max_wait_ms;
  auto reservation = options.node
                         ? FileReservation::acquire(options.data_dir, options.generator.layout, *options.node)
                         : FileReservation::acquire_any(options.data_dir, options.generator.layout,
                                                        options.first_node, options.last_node);
  if (!reservation) return reservation.error();
  s->reservation_ = std::move(*reservation);
  auto generator = Generator::create(options.generator, clock, *s->reservation_);
  if (!generator) return generator.error();
  s->generator_ = std::move(*generator);

  auto worker = FileReservation::acquire_any(options.data_dir, NodeSpace::flake128(), 0, kAutoWorkers - 1);
  if (!worker) return worker.error();
  s->flake128_reservation_ = std::move(*worker);
  const TimePolicy policy{.max_lead_ms = options.generator.max_lead_ms, .max_wait_ms = options.generator.max_wait_ms};
  auto flake128 = Flake128Generator::create(policy, clock, *s->flake128_reservation_);
  if (!flake128) return flake128.error();
  s->flake128_ = std::move(*flake128);

  Random& random = SystemRandom::instance();
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

  s->renewer_ = std::make_unique<Renewer>(*s->generator_, renew_period(options.generator),
                                          log_renewals("snowflake node", s->generator_->node()));
  Flake128Generator& flakes = *s->flake128_;
  s->flake128_renewer_ = std::make_unique<Renewer>([&flakes] { return flakes.renew(); }, renew_period(options.generator),
                                                   log_renewals("flake-128 worker", flakes.worker()));
  return s;
}

IdService::~IdService() { (void)stop(); }

std::vector<std::string> IdService::notes() const {
  std::vector<std::string> out = reservation_->notes();
  for (const std::string& note : flake128_reservation_->notes()) out.push_back("flake-128 workers: " + note);
  return out;
}

Result<void> IdService::write(Format format, Encoding encoding, std::uint64_t count, IdShape shape, Buffer& out,
                              std::span<std::uint64_t> scratch) {
  switch (format) {
    case Format::snowflake: {
      std::span<std::uint64_t> ids = scratch.first(static_cast<std::size_t>(count));
      if (Result<void> made = generator_->next_batch(ids); !made) return made;
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
      return write_wide(*flake128_, format, count, shape, out);
  }
  return Error(Errc::invalid_argument, "unknown format");
}

std::int64_t IdService::seconds_until_clock_catches_up() {
  // Capped at an hour: an operator may step the clock forward sooner than it
  // would catch up on its own, and clients should look again by then.
  constexpr std::int64_t kMaxSeconds = 3600;
  const std::int64_t behind_ms = generator_->stats().next_stamp_lead_ms - max_lead_ms_;
  return std::clamp<std::int64_t>((behind_ms + 999) / 1000, 1, kMaxSeconds);
}

IdService::Readiness IdService::readiness() {
  if (stopped_.load(std::memory_order_relaxed)) return {false, "stopped", "the service is stopping", 1};
  for (Renewer* renewer : {renewer_.get(), flake128_renewer_.get()}) {
    if (std::optional<Error> error = renewer->last_error()) {
      const bool lost = error->code() == Errc::lease_lost;
      return {false, lost ? "lease_lost" : "renewal_failing", error->message(), 1};
    }
  }
  const GeneratorStats stats = generator_->stats();
  const std::int64_t behind_ms = stats.next_stamp_lead_ms - max_lead_ms_;
  if (behind_ms > max_wait_ms_ + layout().tick_ms()) {
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
  renewer_.reset();
  flake128_renewer_.reset();
  Result<void> snowflake = generator_ ? generator_->close() : Result<void>();
  Result<void> flake128 = flake128_ ? flake128_->close() : Result<void>();
  return !snowflake ? snowflake : flake128;
}

}  // namespace idforge::detail
