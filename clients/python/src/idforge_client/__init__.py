# SPDX-License-Identifier: Apache-2.0
"""Snowflake IDs from an idforge service (`idforge serve`), handed out from a
local buffer that a background thread keeps filled.

next() answers from the buffer without a network call. The refill thread asks
for a batch (GET /v1/next?count=N, Accept: text/plain, on a kept-alive
connection) whenever the buffer falls below its low-water mark. With `adaptive`
(the default) the buffer holds about `ahead_ms` of the demand it sees, between
`min_batch` and `capacity`.

Guarantees: every ID comes from the service, once; next() returns strictly
increasing IDs (after a failover to an endpoint whose IDs are lower, those at or
below the last one are dropped and counted); IDs of different clients are ordered
by when they were fetched, not by when they were used.

Failover: endpoints are tried in order; the client stays on one that answers and
moves to the next on a failure. When every endpoint has failed in a row, next()
raises IdforgeError (code "unavailable") at once, naming each endpoint's last
error, and the client tries again after 100 ms, doubling to a second.

Thread safety: next() and next_many() from any number of threads.
"""

import http.client
import threading
import time
import urllib.parse

__all__ = ["Client", "IdforgeError"]

_FIRST_PAUSE_S = 0.1
_LAST_PAUSE_S = 1.0
_DEMAND_PERIOD_S = 0.1


class IdforgeError(Exception):
    """An error of the client; `code` is "invalid_argument" or "unavailable"."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _check_endpoint(text):
    url = urllib.parse.urlsplit(text)
    try:
        port = url.port
    except ValueError:
        port = None
    if url.scheme != "http" or not url.hostname or not port or url.path not in ("", "/") or url.query or url.username:
        raise IdforgeError("invalid_argument", f"endpoint '{text}' must be http://HOST:PORT (the service's HTTP API)")
    return (url.hostname, port, f"http://{url.netloc}")


def _whole(name, value, low, high):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise IdforgeError("invalid_argument", f"{name} must be a whole number from {low} to {high}; it is {value!r}")


class _Endpoint:
    """One endpoint of the service, used by the refill thread only."""

    def __init__(self, text, timeout_s):
        self.host, self.port, self.name = _check_endpoint(text)
        self.timeout_s = timeout_s
        self.connection = None

    def fetch(self, count):
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self.connection.request("GET", f"/v1/next?count={count}", headers={"Accept": "text/plain"})
            response = self.connection.getresponse()
            body = response.read().decode("ascii", "replace")
            if response.will_close:
                self.close()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            why = f"no answer within {self.timeout_s * 1000:.0f} ms" if isinstance(error, TimeoutError) else str(error)
            raise IdforgeError("unavailable", f"{self.name}: {why or type(error).__name__}") from error
        if response.status != 200:
            raise IdforgeError("unavailable", f"{self.name} answered {response.status}: {body[:300]}")
        lines = body.split("\n")[:-1]
        if len(lines) != count:
            raise IdforgeError("unavailable", f"{self.name} answered {len(lines)} IDs for {count}")
        ids = []
        for line in lines:
            if not (line.isascii() and line.isdigit()) or len(line) > 20:
                raise IdforgeError("unavailable", f"{self.name} answered a line that is not a Snowflake ID: {line[:40]!r}")
            ids.append(int(line))
        return ids

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class Client:
    """Starts the refill thread at once; an unreachable service is not an error
    here (next() reports it). Raises IdforgeError("invalid_argument") for a bad
    option or endpoint.

    endpoints  where the HTTP API answers, tried in order: "http://HOST:PORT"
    capacity   the most IDs the buffer holds. Default: 100,000
    low_water  refill below this; 0: half of what the buffer aims to hold. Default: 0
    adaptive   hold about ahead_ms of the observed demand. Default: True
    ahead_ms   with adaptive, how much demand the buffer holds. Default: 1000
    min_batch  with adaptive, the smallest batch asked for. Default: 100
    max_batch  the largest batch one call asks for (at most the service's --max-count). Default: 10,000
    wait_ms    how long next() waits for a refill when the buffer is empty. Default: 1000
    timeout_ms one call's limit. Default: 1000
    """

    def __init__(self, endpoints, *, capacity=100_000, low_water=0, adaptive=True, ahead_ms=1000, min_batch=100,
                 max_batch=10_000, wait_ms=1000, timeout_ms=1000):
        if isinstance(endpoints, str) or not endpoints:
            raise IdforgeError("invalid_argument", 'give at least one endpoint: Client(["http://HOST:PORT"])')
        _whole("capacity", capacity, 1, 10_000_000)
        _whole("low_water", low_water, 0, capacity)
        _whole("ahead_ms", ahead_ms, 1, 3_600_000)
        _whole("min_batch", min_batch, 1, 10_000_000)
        _whole("max_batch", max_batch, 1, 1_000_000)
        _whole("wait_ms", wait_ms, 0, 3_600_000)
        _whole("timeout_ms", timeout_ms, 1, 3_600_000)
        self._endpoints = [_Endpoint(e, timeout_ms / 1000) for e in endpoints]
        self._capacity, self._low_water, self._adaptive = capacity, low_water, adaptive
        self._ahead_s, self._min_batch, self._max_batch = ahead_ms / 1000, min_batch, max_batch
        self._wait_s = wait_ms / 1000
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)    # the refill thread waits on it
        self._filled = threading.Condition(self._lock)  # next() waits on it
        self._buffer = []
        self._head = 0
        self._last = -1
        self._endpoint = 0
        self._last_errors = [""] * len(self._endpoints)
        self._all_failing = False
        self._filling = False
        self._closed = False
        self._waiting = 0
        self._waiting_for = 0
        self._rate = 0.0
        self._taken = 0
        self._since = time.monotonic()
        self._stats = dict(handed_out=0, fetched=0, dropped=0, calls=0, failures=0, waits=0)
        self._thread = threading.Thread(target=self._refill, name="idforge-refill", daemon=True)
        self._thread.start()

    def next(self):
        """The next ID, an int."""
        return self._take(1)[0]

    def next_many(self, n):
        """n IDs at once, all or nothing."""
        _whole("n", n, 1, self._capacity)
        return self._take(n)

    def stats(self):
        """What the client has done: IDs handed out, fetched and dropped; calls, failures, waits."""
        with self._lock:
            return dict(self._stats, buffered=len(self._buffer) - self._head, endpoint=self._endpoint)

    def close(self):
        """Stops the refill thread; the IDs still buffered are dropped."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            self._filled.notify_all()
        self._thread.join()
        for e in self._endpoints:
            e.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _count(self):
        return len(self._buffer) - self._head

    def _aim(self):
        if not self._adaptive:
            return self._capacity
        return min(self._capacity, max(min(self._min_batch, self._capacity), int(self._rate * self._ahead_s)))

    def _low(self):
        aim = self._aim()
        return min(self._low_water, aim) if self._low_water > 0 else max(1, aim // 2)

    def _take(self, n):
        with self._lock:
            if self._count() < n:
                self._stats["waits"] += 1
                self._waiting += 1
                self._waiting_for = max(self._waiting_for, n)
                self._wake.notify()
                done = self._filled.wait_for(lambda: self._count() >= n or self._all_failing or self._closed,
                                             self._wait_s)
                self._waiting -= 1
                if self._waiting == 0:
                    self._waiting_for = 0
                if self._count() < n:
                    raise self._unavailable(done and self._all_failing)
            ids = self._buffer[self._head:self._head + n]
            self._head += n
            if self._head > 4096 and self._head * 2 > len(self._buffer):
                del self._buffer[:self._head]
                self._head = 0
            self._taken += n
            self._stats["handed_out"] += n
            if self._count() < self._low():
                self._wake.notify()
            return ids

    def _look_at_demand(self):
        now = time.monotonic()
        if now - self._since < _DEMAND_PERIOD_S:
            return
        recent = self._taken / (now - self._since)
        self._rate = max(recent, recent if self._rate == 0 else (self._rate + recent) / 2)
        self._taken = 0
        self._since = now

    def _refill(self):
        pause = _FIRST_PAUSE_S
        failures_in_row = 0
        with self._lock:
            while not self._closed:
                self._look_at_demand()
                goal = max(self._aim(), self._waiting_for)
                if self._count() < self._low() or self._waiting > 0:
                    self._filling = True
                if self._count() >= goal:
                    self._filling = False
                if not self._filling:
                    self._wake.wait(_DEMAND_PERIOD_S)
                    continue
                want = min(goal - self._count(), self._max_batch, self._capacity - self._count())
                at = self._endpoint
                self._lock.release()
                try:
                    ids, error = self._endpoints[at].fetch(want), None
                except IdforgeError as e:
                    ids, error = None, e
                finally:
                    self._lock.acquire()
                if error is None:
                    self._stats["calls"] += 1
                    self._stats["fetched"] += len(ids)
                    for i in ids:
                        if i <= self._last:
                            self._stats["dropped"] += 1
                            continue
                        self._buffer.append(i)
                        self._last = i
                    failures_in_row, pause, self._all_failing = 0, _FIRST_PAUSE_S, False
                    self._filled.notify_all()
                    continue
                self._stats["failures"] += 1
                self._last_errors[at] = str(error)
                self._endpoint = (at + 1) % len(self._endpoints)
                failures_in_row += 1
                if failures_in_row < len(self._endpoints):
                    continue
                failures_in_row, self._all_failing = 0, True
                self._filled.notify_all()
                self._wake.wait_for(lambda: self._closed, pause)
                pause = min(pause * 2, _LAST_PAUSE_S)

    def _unavailable(self, every_endpoint_fails):
        why = "; ".join(e for e in self._last_errors if e)
        if every_endpoint_fails:
            return IdforgeError("unavailable", f"no ID: the buffer is empty and every endpoint fails ({why})")
        tail = f" (last errors: {why})" if why else ""
        return IdforgeError("unavailable", f"no ID: the buffer stayed empty for {self._wait_s * 1000:.0f} ms{tail}")
