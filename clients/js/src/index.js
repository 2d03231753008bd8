// SPDX-License-Identifier: Apache-2.0
// idforge-client: Snowflake IDs from an idforge service (`idforge serve`),
// handed out from a local buffer that refills in the background.
//
// IDs are decimal strings by default, BigInt with `bigint: true`, never Number:
// a Number holds integers exactly only up to 2^53, and Snowflake IDs are larger.
//
// next() answers from the buffer without a network call; the buffer is refilled
// with GET /v1/next?count=N (Accept: text/plain) on a kept-alive connection when
// it falls below its low-water mark. With `adaptive` (the default) it holds about
// `aheadMs` of the demand it sees, between `minBatch` and `capacity`.
//
// Guarantees: every ID comes from the service, once; next() returns strictly
// increasing IDs (after a failover to an endpoint whose IDs are lower, those at
// or below the last one are dropped and counted); IDs of different clients are
// ordered by when they were fetched, not by when they were used.
//
// Failover: endpoints are tried in order; the client stays on one that answers
// and moves to the next on a failure. When every endpoint has failed in a row,
// next() fails at once with an IdforgeError (code "unavailable") naming each
// endpoint's last error, and the client tries again after 100 ms, doubling to a
// second.

const FIRST_PAUSE_MS = 100;
const LAST_PAUSE_MS = 1000;
const DEMAND_PERIOD_MS = 100;

/** An error of the client: `code` is "invalid_argument" or "unavailable". */
export class IdforgeError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'IdforgeError';
    this.code = code;
  }
}

const DEFAULTS = {
  capacity: 100_000,
  lowWater: 0,
  adaptive: true,
  aheadMs: 1000,
  minBatch: 100,
  maxBatch: 10_000,
  waitMs: 1000,
  timeoutMs: 1000,
  bigint: false,
};

function checkEndpoint(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new IdforgeError('invalid_argument', `endpoint '${text}' is not a URL; give http://HOST:PORT`);
  }
  if (url.protocol !== 'http:' || url.port === '' || url.pathname !== '/' || url.search !== '' || url.username !== '') {
    throw new IdforgeError('invalid_argument', `endpoint '${text}' must be http://HOST:PORT (the service's HTTP API)`);
  }
  return url.origin;
}

function wholeNumber(options, name, min, max) {
  const value = options[name];
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new IdforgeError('invalid_argument', `${name} must be a whole number from ${min} to ${max}; it is ${value}`);
  }
}

export class Client {
  /**
   * Starts refilling at once; an unreachable service is not an error here (next() reports it).
   * Throws IdforgeError("invalid_argument") for a bad option or endpoint.
   */
  constructor(options) {
    const o = { ...DEFAULTS, ...options };
    if (!Array.isArray(o.endpoints) || o.endpoints.length === 0) {
      throw new IdforgeError('invalid_argument', 'give at least one endpoint: endpoints: ["http://HOST:PORT"]');
    }
    wholeNumber(o, 'capacity', 1, 10_000_000);
    wholeNumber(o, 'lowWater', 0, o.capacity);
    wholeNumber(o, 'aheadMs', 1, 3_600_000);
    wholeNumber(o, 'minBatch', 1, 10_000_000);
    wholeNumber(o, 'maxBatch', 1, 1_000_000);
    wholeNumber(o, 'waitMs', 0, 3_600_000);
    wholeNumber(o, 'timeoutMs', 1, 3_600_000);
    this._options = o;
    this._endpoints = o.endpoints.map(checkEndpoint);
    this._buffer = [];  // BigInt values, oldest first, read from _head.
    this._head = 0;
    this._last = -1n;
    this._endpoint = 0;
    this._lastErrors = this._endpoints.map(() => '');
    this._allFailing = false;
    this._waiters = [];  // { n, resolve, reject, timer }
    this._rate = 0;
    this._taken = 0;
    this._since = performance.now();
    this._closed = false;
    this._filling = false;
    this._refilling = false;
    this._stats = { handedOut: 0, fetched: 0, dropped: 0, calls: 0, failures: 0, waits: 0 };
    this._timer = setInterval(() => this._refill(), DEMAND_PERIOD_MS);
    this._timer.unref?.();
    this._refill();
  }

  /** The next ID: a string, or a BigInt with `bigint: true`. */
  async next() {
    if (this._count() > 0) return this._hand(this._take(1)[0]);
    const [id] = await this._wait(1);
    return this._hand(id);
  }

  /** `n` IDs at once, all or nothing. */
  async nextMany(n) {
    if (!Number.isInteger(n) || n < 1 || n > this._options.capacity) {
      throw new IdforgeError('invalid_argument', `nextMany takes 1 to ${this._options.capacity} (the capacity); it was given ${n}`);
    }
    const ids = this._count() >= n ? this._take(n) : await this._wait(n);
    return ids.map((id) => this._hand(id));
  }

  /** What the client has done (IDs handed out, fetched, dropped; calls, failures, waits). */
  stats() {
    return { ...this._stats, buffered: this._count(), endpoint: this._endpoint };
  }

  /** Stops refilling; waiting calls fail; the IDs still buffered are dropped. */
  close() {
    this._closed = true;
    clearInterval(this._timer);
    for (const w of this._waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new IdforgeError('unavailable', 'the client was closed'));
    }
  }

  _count() {
    return this._buffer.length - this._head;
  }

  _hand(id) {
    return this._options.bigint ? id : id.toString();
  }

  _take(n) {
    const ids = this._buffer.slice(this._head, this._head + n);
    this._head += n;
    if (this._head > 4096 && this._head * 2 > this._buffer.length) {
      this._buffer = this._buffer.slice(this._head);
      this._head = 0;
    }
    this._taken += n;
    this._stats.handedOut += n;
    if (this._count() < this._lowWater()) this._refill();
    return ids;
  }

  _wait(n) {
    this._stats.waits += 1;
    if (this._allFailing) return Promise.reject(this._unavailable(true));
    return new Promise((resolve, reject) => {
      const waiter = { n, resolve, reject };
      waiter.timer = setTimeout(() => {
        this._waiters.splice(this._waiters.indexOf(waiter), 1);
        reject(this._unavailable(false));
      }, this._options.waitMs);
      this._waiters.push(waiter);
      this._refill();
    });
  }

  // Hands buffered IDs to the callers waiting, in order; fails them all when every endpoint fails.
  _serveWaiters() {
    while (this._waiters.length > 0 && this._count() >= this._waiters[0].n) {
      const w = this._waiters.shift();
      clearTimeout(w.timer);
      w.resolve(this._take(w.n));
    }
    if (this._allFailing) {
      for (const w of this._waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(this._unavailable(true));
      }
    }
  }

  _aim() {
    const o = this._options;
    if (!o.adaptive) return o.capacity;
    const wanted = Math.floor((this._rate * o.aheadMs) / 1000);
    return Math.min(o.capacity, Math.max(Math.min(o.minBatch, o.capacity), wanted));
  }

  _lowWater() {
    const aim = this._aim();
    return this._options.lowWater > 0 ? Math.min(this._options.lowWater, aim) : Math.max(1, Math.floor(aim / 2));
  }

  _lookAtDemand() {
    const now = performance.now();
    if (now - this._since < DEMAND_PERIOD_MS) return;
    const recent = (this._taken * 1000) / (now - this._since);
    this._rate = Math.max(recent, this._rate === 0 ? recent : (this._rate + recent) / 2);
    this._taken = 0;
    this._since = now;
  }

  // One refill loop at a time: while the buffer is below its goal, fetch a batch.
  async _refill() {
    if (this._refilling || this._closed) return;
    this._refilling = true;
    let pause = FIRST_PAUSE_MS;
    let failuresInRow = 0;
    try {
      while (!this._closed) {
        this._lookAtDemand();
        const waitingFor = this._waiters.reduce((most, w) => Math.max(most, w.n), 0);
        const goal = Math.max(this._aim(), waitingFor);
        if (this._count() < this._lowWater() || this._waiters.length > 0) this._filling = true;
        if (this._count() >= goal) this._filling = false;
        if (!this._filling) return;
        const want = Math.min(goal - this._count(), this._options.maxBatch, this._options.capacity - this._count());
        const at = this._endpoint;
        try {
          const ids = await this._fetch(this._endpoints[at], want);
          this._stats.calls += 1;
          this._stats.fetched += ids.length;
          this._append(ids);
          failuresInRow = 0;
          pause = FIRST_PAUSE_MS;
          this._allFailing = false;
          this._serveWaiters();
        } catch (error) {
          this._stats.failures += 1;
          this._lastErrors[at] = error.message;
          this._endpoint = (at + 1) % this._endpoints.length;
          failuresInRow += 1;
          if (failuresInRow < this._endpoints.length) continue;
          failuresInRow = 0;
          this._allFailing = true;
          this._serveWaiters();
          await new Promise((resolve) => setTimeout(resolve, pause).unref?.());
          pause = Math.min(pause * 2, LAST_PAUSE_MS);
        }
      }
    } finally {
      this._refilling = false;
    }
  }

  _append(ids) {
    for (const id of ids) {
      if (id <= this._last) {
        this._stats.dropped += 1;
        continue;
      }
      this._buffer.push(id);
      this._last = id;
    }
  }

  async _fetch(origin, count) {
    let response;
    try {
      response = await fetch(`${origin}/v1/next?count=${count}`, {
        headers: { accept: 'text/plain' },
        signal: AbortSignal.timeout(this._options.timeoutMs),
      });
    } catch (error) {
      const why = error.name === 'TimeoutError' ? `no answer within ${this._options.timeoutMs} ms` : (error.cause?.message ?? error.message);
      throw new Error(`${origin}: ${why}`);
    }
    const body = await response.text();
    if (response.status !== 200) throw new Error(`${origin} answered ${response.status}: ${body.slice(0, 300)}`);
    const lines = body.split('\n');
    lines.pop();  // After the last newline.
    if (lines.length !== count) throw new Error(`${origin} answered ${lines.length} IDs for ${count}`);
    return lines.map((line) => {
      if (!/^[0-9]{1,20}$/.test(line)) throw new Error(`${origin} answered a line that is not a Snowflake ID: '${line.slice(0, 40)}'`);
      return BigInt(line);
    });
  }

  _unavailable(everyEndpointFails) {
    const why = this._lastErrors.filter((e) => e !== '').join('; ');
    if (everyEndpointFails) {
      return new IdforgeError('unavailable', `no ID: the buffer is empty and every endpoint fails (${why})`);
    }
    return new IdforgeError('unavailable', `no ID: the buffer stayed empty for ${this._options.waitMs} ms` + (why ? ` (last errors: ${why})` : ''));
  }
}
