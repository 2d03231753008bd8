// SPDX-License-Identifier: Apache-2.0
// A preload library for tests: answers ntp_adjtime() and adjtimex() with the
// clock state that FAKE_CLOCK_SYNCED (1 or 0) and FAKE_CLOCK_MAX_ERROR_US set,
// so a test decides whether `idforge serve` sees a synchronised clock.
#include <sys/timex.h>

#include <cstdlib>
#include <cstring>

extern "C" {

int ntp_adjtime(struct timex* tx) {
  const char* synced = std::getenv("FAKE_CLOCK_SYNCED");
  const char* max_error = std::getenv("FAKE_CLOCK_MAX_ERROR_US");
  const bool ok = synced != nullptr && std::strcmp(synced, "1") == 0;
  std::memset(tx, 0, sizeof *tx);
  tx->maxerror = max_error != nullptr ? std::atol(max_error) : 16'000'000;
  tx->esterror = tx->maxerror / 2;
  tx->status = ok ? 0 : STA_UNSYNC;
  return ok ? TIME_OK : TIME_ERROR;
}

int adjtimex(struct timex* tx) { return ntp_adjtime(tx); }

}  // extern "C"
