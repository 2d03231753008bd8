// SPDX-License-Identifier: Apache-2.0
#include "idforge/flake128.h"

#include "core/text.h"
#include "formats/bytes.h"
#include "formats/stamps.h"

namespace idforge {
namespace {

constexpr std::string_view kStampSpec = "time:47-seq:16/tick=1ms/epoch=0";

}  // namespace

std::uint64_t Flake128::unix_ms() const { return detail::load_be(bytes.data(), 8); }
std::uint64_t Flake128::worker() const { return detail::load_be(bytes.data() + 8, 6); }
std::uint64_t Flake128::sequence() const { return detail::load_be(bytes.data() + 14, 2); }

Flake128 Flake128::compose(std::int64_t unix_ms, std::uint64_t worker, std::uint64_t sequence) {
  Flake128 id;
  detail::store_be(static_cast<std::uint64_t>(unix_ms), id.bytes.data(), 8);
  detail::store_be(worker, id.bytes.data() + 8, 6);
  detail::store_be(sequence, id.bytes.data() + 14, 2);
  return id;
}

char* format_to(const Flake128& id, char* out) { return detail::hex_to(id.bytes, out); }

std::string to_string(const Flake128& id) { return detail::text_of(id, kFlake128TextLength); }

Result<Flake128> parse_flake128(std::string_view text) {
  Flake128 id;
  if (Result<void> parsed = detail::parse_hex_id(text, id.bytes, "a flake-128 ID"); !parsed) return parsed.error();
  return id;
}

Flake128Generator::Flake128Generator(std::unique_ptr<detail::Stamps> stamps, std::uint64_t worker)
    : stamps_(std::move(stamps)), worker_(worker) {}

Flake128Generator::~Flake128Generator() = default;

Result<std::unique_ptr<Flake128Generator>> Flake128Generator::create(const TimePolicy& policy, Clock& clock,
                                                                     Reservation& reservation) {
  if (reservation.node() >= kFlake128Workers) {
    return Error(Errc::invalid_argument,
                 detail::cat("worker ", reservation.node(), " does not fit flake-128's 48-bit worker field"));
  }
  Result<std::unique_ptr<detail::Stamps>> stamps = detail::Stamps::create(kStampSpec, policy, clock, &reservation);
  if (!stamps) return stamps.error();
  return std::unique_ptr<Flake128Generator>(new Flake128Generator(std::move(*stamps), reservation.node()));
}

Result<Flake128> Flake128Generator::next() {
  Result<detail::Stamp> stamp = stamps_->next();
  if (!stamp) return stamp.error();
  return Flake128::compose(stamp->tick_unix_ms, worker_, stamp->sequence);
}

Result<void> Flake128Generator::close() { return stamps_->generator().close(); }
Result<void> Flake128Generator::renew() { return stamps_->generator().renew(); }

}  // namespace idforge
