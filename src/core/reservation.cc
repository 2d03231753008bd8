// SPDX-License-Identifier: Apache-2.0
#include "idforge/reservation.h"

namespace idforge {

Result<void> MemoryReservation::extend(std::int64_t until_stamp) {
  if (released_) return Error(Errc::lease_lost, "the reservation was released");
  reserved_ = until_stamp;
  ++extensions_;
  return {};
}

Result<void> MemoryReservation::release(std::optional<std::int64_t> final_stamp) {
  if (released_) return Error(Errc::lease_lost, "the reservation was released");
  if (final_stamp) reserved_ = final_stamp;
  released_ = true;
  return {};
}

}  // namespace idforge
