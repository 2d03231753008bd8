// SPDX-License-Identifier: Apache-2.0
// Types of idforge-client (see index.js for what each does).

export interface ClientOptions {
  /** Where the service's HTTP API answers, tried in order: "http://HOST:PORT". At least one. */
  endpoints: string[];
  /** The most IDs the buffer holds. Default: 100000. */
  capacity?: number;
  /** Refill below this many; 0 means half of what the buffer aims to hold. Default: 0. */
  lowWater?: number;
  /** Hold about `aheadMs` of the observed demand instead of `capacity`. Default: true. */
  adaptive?: boolean;
  /** With `adaptive`: how much demand the buffer holds. Default: 1000. */
  aheadMs?: number;
  /** With `adaptive`: the smallest batch asked for. Default: 100. */
  minBatch?: number;
  /** The largest batch one call asks for (at most the service's --max-count). Default: 10000. */
  maxBatch?: number;
  /** How long next() waits for a refill when the buffer is empty. Default: 1000. */
  waitMs?: number;
  /** One call's limit. Default: 1000. */
  timeoutMs?: number;
  /** Hand out BigInt instead of decimal strings. Default: false. */
  bigint?: boolean;
}

export interface ClientStats {
  handedOut: number;
  fetched: number;
  dropped: number;
  calls: number;
  failures: number;
  waits: number;
  buffered: number;
  endpoint: number;
}

export class IdforgeError extends Error {
  readonly code: 'invalid_argument' | 'unavailable';
}

export class Client<Id extends string | bigint = string> {
  constructor(options: ClientOptions);
  next(): Promise<Id>;
  nextMany(n: number): Promise<Id[]>;
  stats(): ClientStats;
  close(): void;
}
