// SPDX-License-Identifier: Apache-2.0
// The Renewer keeps calling its renew function and says once when renewals start
// failing, once when the failure changes, and once when they succeed again.
#include "idforge/renewer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <vector>

namespace idforge {
namespace {

TEST(Renewer, ReportsEachChangeOfOutcomeOnce) {
  // Calls 1-2 succeed, 3-5 fail with a full disk, 6-7 with a lost lock, then all succeed.
  std::mutex mutex;
  std::condition_variable changed;
  int calls = 0;
  std::vector<std::string> events;
  auto renew = [&]() -> Result<void> {
    std::lock_guard lock(mutex);
    ++calls;
    changed.notify_all();
    if (calls >= 3 && calls <= 5) return Error(Errc::io, "cannot write: No space left on device");
    if (calls >= 6 && calls <= 7) return Error(Errc::lease_lost, "the lock file was removed");
    return {};
  };
  auto on_change = [&](const std::optional<Error>& error) {
    std::lock_guard lock(mutex);
    events.push_back(error ? std::string(to_string(error->code())) : std::string("recovered"));
  };
  {
    Renewer renewer(renew, std::chrono::milliseconds(1), on_change);
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(30), [&] { return calls >= 12; }));  // A guard.
  }
  EXPECT_EQ(events, (std::vector<std::string>{"io", "lease_lost", "recovered"}));
}

TEST(Renewer, LastErrorIsTheMostRecentOutcome) {
  std::mutex mutex;
  std::condition_variable changed;
  int calls = 0;
  auto renew = [&]() -> Result<void> {
    std::lock_guard lock(mutex);
    ++calls;
    changed.notify_all();
    return Error(Errc::io, "cannot write");
  };
  Renewer renewer(renew, std::chrono::milliseconds(1));
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(30), [&] { return calls >= 2; }));
  }
  ASSERT_TRUE(renewer.last_error());
  EXPECT_EQ(renewer.last_error()->code(), Errc::io);
}

}  // namespace
}  // namespace idforge
