// SPDX-License-Identifier: Apache-2.0
// Waiting for a condition that real processes bring about, with a bound that is
// a guard against a hang, never a timing assertion.
#ifndef IDFORGE_TESTS_SUPPORT_EVENTUALLY_H_
#define IDFORGE_TESTS_SUPPORT_EVENTUALLY_H_

#include <chrono>
#include <thread>

namespace idforge::testing {

// True as soon as `done()` is; false if it is not within `guard_s` seconds.
template <class Done>
bool eventually(Done&& done, int guard_s = 60) {
  for (int i = 0; i < guard_s * 10; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace idforge::testing

#endif  // IDFORGE_TESTS_SUPPORT_EVENTUALLY_H_
