// SPDX-License-Identifier: Apache-2.0
// A reservation whose ownership lapses at a fence, as an etcd lease's does, for
// tests on a manual clock.
#ifndef IDFORGE_TESTS_SUPPORT_FENCED_RESERVATION_H_
#define IDFORGE_TESTS_SUPPORT_FENCED_RESERVATION_H_

#include "idforge/reservation.h"

namespace idforge::testing {

class FencedReservation final : public Reservation {
 public:
  std::uint64_t node() const override { return 5; }
  std::optional<std::int64_t> inherited_stamp() const override { return std::nullopt; }
  Result<void> extend(std::int64_t) override {
    ++extensions;
    return {};
  }
  Result<void> release(std::optional<std::int64_t>) override { return {}; }
  const Fence* fence() const override { return &fence_; }

  Fence fence_;
  int extensions = 0;
};

}  // namespace idforge::testing

#endif  // IDFORGE_TESTS_SUPPORT_FENCED_RESERVATION_H_
