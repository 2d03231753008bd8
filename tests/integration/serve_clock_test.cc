// SPDX-License-Identifier: Apache-2.0
// The service's view of its clock: the kernel's discipline (set by a preloaded
// ntp_adjtime() so the test decides it), --require-synced-clock, and the
// wall-clock steps a running service sees (moved by libfaketime's timestamp file).
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/eventually.h"
#include "support/http.h"

#ifndef IDFORGE_FAKE_ADJTIMEX_PATH
#error "IDFORGE_FAKE_ADJTIMEX_PATH must be defined by the build"
#endif

namespace idforge::testing {
namespace {

using nlohmann::json;

std::vector<std::string> clock_state(bool synced, const std::string& max_error_us = "2500") {
  return {"env", std::string("LD_PRELOAD=") + IDFORGE_FAKE_ADJTIMEX_PATH, std::string("FAKE_CLOCK_SYNCED=") + (synced ? "1" : "0"),
          "FAKE_CLOCK_MAX_ERROR_US=" + max_error_us, "ASAN_OPTIONS=verify_asan_link_order=0"};
}

std::string prefix_text(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += w + " ";
  return out;
}

class ServeClock : public Serve {};

// Writes libfaketime's timestamp file in one step (a new file renamed over it), so
// the running process never reads it empty.
void set_offset(const fs::path& stamp, const std::string& offset) {
  const fs::path next = stamp.string() + ".next";
  std::ofstream(next) << offset << "\n";
  fs::rename(next, stamp);
}

TEST_F(ServeClock, AnUnsynchronisedClockStopsTheStartWhenASynchronisedOneIsRequired) {
  const Ran ran = run_with(prefix_text(clock_state(false)), "serve --listen 127.0.0.1:0 --data-dir " +
                                                                 (dir_ / "data").string() + " --require-synced-clock");
  expect_one_json_error_line(ran, 1, "the kernel reports the clock unsynchronised");
  EXPECT_NE(ran.err.find("--require-synced-clock"), std::string::npos);
}

TEST_F(ServeClock, ASynchronisedClockIsShownInInfoAndMetrics) {
  auto server = start({"--require-synced-clock"}, clock_state(true, "2500"));
  HttpConnection c(server->port());
  const json clock = json::parse(c.get("/v1/info").body)["clock"];
  EXPECT_EQ(clock["synchronized"], true);
  EXPECT_EQ(clock["max_error_us"], 2500);
  EXPECT_EQ(clock["state"], "ok");
  const std::string metrics = c.get("/metrics").body;
  EXPECT_NE(metrics.find("\nidforge_clock_synchronized 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("\nidforge_clock_max_error_seconds 0.0025\n"), std::string::npos);
  EXPECT_EQ(server->log().find("\"msg\":\"clock\""), std::string::npos) << "no warning for a good clock";
}

TEST_F(ServeClock, WithoutTheFlagAnUnsynchronisedClockIsAWarningNotARefusal) {
  auto server = start({}, clock_state(false));
  HttpConnection c(server->port());
  EXPECT_EQ(c.get("/v1/next").status, 200);
  EXPECT_EQ(json::parse(c.get("/v1/info").body)["clock"]["synchronized"], false);
  EXPECT_NE(c.get("/metrics").body.find("\nidforge_clock_synchronized 0\n"), std::string::npos);
  const std::vector<std::string> log = lines(server->log());
  ASSERT_GE(log.size(), 2u);
  EXPECT_EQ(json::parse(log[0])["msg"], "listening");
  EXPECT_EQ(json::parse(log[0])["clock"]["synchronized"], false);
  EXPECT_NE(server->log().find("\"msg\":\"clock\""), std::string::npos);
}

TEST_F(ServeClock, StepsOfARunningServicesClockAreCountedByDirectionAndSize) {
#if defined(__SANITIZE_THREAD__)
  // libfaketime rereads its timestamp file inside every clock call; under
  // ThreadSanitizer's interceptors the served binary then stops answering (the
  // offset mode of the other restart tests is unaffected). Release and ASan run it.
  GTEST_SKIP() << "libfaketime's timestamp-file mode hangs a ThreadSanitizer build";
#endif
  const std::string library = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
  ASSERT_TRUE(fs::exists(library)) << "install Debian's faketime package (scripts/deps.sh)";
  const fs::path stamp = dir_ / "faketime";
  set_offset(stamp, "+0s");
  auto server = start({"--max-lead-ms", "60000"},
                      {"env", "LD_PRELOAD=" + library, "FAKETIME_TIMESTAMP_FILE=" + stamp.string(), "FAKETIME_NO_CACHE=1",
                       "FAKETIME_DONT_FAKE_MONOTONIC=1", "ASAN_OPTIONS=verify_asan_link_order=0"});
  HttpConnection c(server->port());
  auto bucket = [&](const std::string& direction, const std::string& le) {
    const std::string metrics = c.get("/metrics").body;
    const std::string key = "idforge_clock_step_seconds_bucket{direction=\"" + direction + "\",le=\"" + le + "\"} ";
    const std::size_t at = metrics.find(key);
    return at == std::string::npos ? -1 : std::stoi(metrics.substr(at + key.size()));
  };
  EXPECT_EQ(c.get("/v1/next").status, 200);
  EXPECT_EQ(bucket("back", "+Inf"), 0);
  set_offset(stamp, "-2s");  // Two seconds back.
  EXPECT_TRUE(eventually([&] { return bucket("back", "4.096") == 1; }));
  EXPECT_EQ(bucket("back", "1.024"), 0);
  EXPECT_EQ(c.get("/v1/next").status, 200);  // Ridden out on the lead.
  set_offset(stamp, "+30s");  // 32 s forward.
  EXPECT_TRUE(eventually([&] { return bucket("forward", "65.536") == 1; }));
  EXPECT_EQ(bucket("forward", "16.384"), 0);
}

}  // namespace
}  // namespace idforge::testing
