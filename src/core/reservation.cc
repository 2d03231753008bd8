#include "idforge/reservation.h"

namespace idforge {

Result<void> MemoryReservation::extend(std::int64_t until_unix_ms) {
  if (released_) return Error(Errc::lease_lost, "the reservation was released");
  reserved_ = until_unix_ms;
  return {};
}

Result<void> MemoryReservation::release(std::int64_t until_unix_ms) {
  if (released_) return Error(Errc::lease_lost, "the reservation was released");
  reserved_ = until_unix_ms;
  released_ = true;
  return {};
}

}  // namespace idforge
