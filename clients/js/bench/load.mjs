// SPDX-License-Identifier: Apache-2.0
// What idforge-client delivers from one service (bench/client_load.sh runs it):
//   node bench/load.mjs URL SECONDS
// Prints one JSON line per mode, as bench/client_load.cc does: from-buffer (the
// cost of next() on a filled buffer), buffered (IDs/s refilled over the
// network), per-id (a call to the service per ID).
import { Client } from '../src/index.js';

const [url, secondsText = '5'] = process.argv.slice(2);
const seconds = Number(secondsText);

async function run(mode, options) {
  const client = new Client({ endpoints: [url], waitMs: 10_000, ...options });
  await client.next();
  let n = 0;
  let last = 0n;
  let failed = 0;
  const check = (id) => {
    const v = BigInt(id);
    if (v <= last) failed++;
    last = v;
  };
  let start;
  if (mode === 'from-buffer') {
    while (client.stats().buffered < options.capacity - 1) await new Promise((r) => setTimeout(r, 10));
    const count = client.stats().buffered;
    start = performance.now();
    for (; n < count; n++) check(await client.next());
  } else {
    start = performance.now();
    const end = start + seconds * 1000;
    while (performance.now() < end) {
      for (let i = 0; i < 256; i++, n++) check(await client.next());
    }
  }
  const elapsed = (performance.now() - start) / 1000;
  const stats = client.stats();
  client.close();
  console.log(JSON.stringify({ client: 'js', node: process.version, endpoint: url, mode, ids: n,
    ids_per_s: Math.round(n / elapsed), calls: stats.calls, waits: stats.waits, failed,
    ns_per_next: Number(((elapsed * 1e9) / n).toFixed(1)) }));
}

await run('from-buffer', { capacity: 2_000_000, adaptive: false });
await run('buffered', {});
await run('per-id', { capacity: 1, adaptive: false, maxBatch: 1 });
