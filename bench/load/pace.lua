-- SPDX-License-Identifier: Apache-2.0
-- wrk script: each connection waits 1 ms between requests, so the total rate is
-- set by the connection count (bench/serve_load.sh aims at half the peak).
function delay()
  return 1
end
