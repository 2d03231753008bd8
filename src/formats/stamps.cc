// SPDX-License-Identifier: Apache-2.0
#include "formats/stamps.h"

#include <atomic>
#include <cstring>

namespace idforge::detail {
namespace {

// Lends a reservation's durable time to a Generator whose layout has no node field:
// the node belongs to the wide format (flake-128's worker), not to the layout.
class TimeOnly final : public Reservation {
 public:
  explicit TimeOnly(Reservation& inner) : inner_(inner) {}
  std::uint64_t node() const override { return 0; }
  std::optional<std::int64_t> inherited_stamp() const override { return inner_.inherited_stamp(); }
  Result<void> extend(std::int64_t until_stamp) override { return inner_.extend(until_stamp); }
  Result<void> release(std::optional<std::int64_t> final_stamp) override { return inner_.release(final_stamp); }
  const Fence* fence() const override { return inner_.fence(); }

 private:
  Reservation& inner_;
};

std::atomic<std::uint64_t> g_next_serial{1};

struct SecretCache {
  std::uint64_t serial = 0;
  std::int64_t tick = 0;
  std::array<std::uint8_t, 16> secret{};
};
thread_local SecretCache t_cache;

}  // namespace

Result<std::unique_ptr<Stamps>> Stamps::create(std::string_view spec, const TimePolicy& policy, Clock& clock,
                                               Reservation* reservation) {
  Result<Layout> layout = Layout::parse(spec);
  if (!layout) return layout.error();
  std::unique_ptr<Stamps> stamps(new Stamps());
  if (reservation) {
    stamps->reservation_ = std::make_unique<TimeOnly>(*reservation);
  } else {
    stamps->reservation_ = std::make_unique<MemoryReservation>(0);
  }
  GeneratorOptions options{.layout = *layout,
                           .max_lead_ms = policy.max_lead_ms,
                           .max_wait_ms = policy.max_wait_ms,
                           .extend_on_demand = policy.extend_on_demand};
  Result<std::unique_ptr<Generator>> generator = Generator::create(options, clock, *stamps->reservation_);
  if (!generator) return generator.error();
  stamps->generator_ = std::move(*generator);
  stamps->seq_bits_ = layout->sequence_field().bits;
  stamps->seq_mask_ = layout->sequence_field().max_value();
  stamps->tick_ms_ = layout->tick_ms();
  stamps->epoch_ms_ = layout->epoch_unix_ms();
  return stamps;
}

TickSecrets::TickSecrets(Random& random) : serial_(g_next_serial.fetch_add(1, std::memory_order_relaxed)) {
  std::array<std::uint8_t, 32> key;
  random.fill(key);
  std::memcpy(key_.data(), key.data(), key.size());
}

std::array<std::uint8_t, 16> TickSecrets::at(std::int64_t tick) const {
  SecretCache& cache = t_cache;
  if (cache.serial != serial_ || cache.tick != tick) {
    std::array<std::uint8_t, 64> block;
    chacha12_block(key_, static_cast<std::uint64_t>(tick), block);
    std::memcpy(cache.secret.data(), block.data(), cache.secret.size());
    cache.serial = serial_;
    cache.tick = tick;
  }
  return cache.secret;
}

}  // namespace idforge::detail
