// SPDX-License-Identifier: Apache-2.0
// idforge-client against real `idforge serve` instances that the tests start on
// free ports (IDFORGE_BIN, Default ../../build/release/idforge) and stop by PID.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

import { Client, IdforgeError } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.IDFORGE_BIN ?? join(here, '../../../build/release/idforge');
const dataDir = mkdtempSync(join(tmpdir(), 'idforge-js-'));
const servers = [];

after(() => {
  for (const s of servers) s.process.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

// Starts `idforge serve` with `args`; resolves once its first log line names the port.
function serve(args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    const guard = setTimeout(() => reject(new Error(`idforge serve did not start: ${log}`)), 30_000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /"msg":"listening".*?"port":(\d+)/.exec(log);
      if (m) {
        clearTimeout(guard);
        const server = { process: child, port: Number(m[1]), url: `http://127.0.0.1:${m[1]}` };
        servers.push(server);
        resolve(server);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(guard);
      reject(new Error(`idforge serve exited with ${code}: ${log}`));
    });
  });
}

function stop(server) {
  return new Promise((resolve) => {
    server.process.once('exit', (code) => resolve(code));
    server.process.kill('SIGTERM');
  });
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Twitter layout: the node is bits 12 to 21.
const nodeOf = (id) => Number((BigInt(id) >> 12n) & 1023n);

test('IDs are strictly increasing decimal strings of the service, fetched in batches', async () => {
  const server = await serve(['--node', '9']);
  const client = new Client({ endpoints: [server.url], waitMs: 30_000 });
  let last = 0n;
  for (let i = 0; i < 30_000; i++) {
    const id = await client.next();
    assert.equal(typeof id, 'string');
    assert.match(id, /^[0-9]{19}$/);
    assert.ok(BigInt(id) > last, `${id} after ${last}`);
    last = BigInt(id);
  }
  assert.equal(nodeOf(last), 9);
  const many = await client.nextMany(5000);
  assert.equal(many.length, 5000);
  assert.ok(BigInt(many[0]) > last);
  const stats = client.stats();
  assert.equal(stats.handedOut, 35_000);
  assert.ok(stats.calls < 3500, `${stats.calls} calls`);
  assert.equal(stats.failures, 0);
  client.close();
});

test('bigint: true hands out BigInt, never Number', async () => {
  const server = await serve();
  const client = new Client({ endpoints: [server.url], bigint: true, waitMs: 30_000 });
  const id = await client.next();
  assert.equal(typeof id, 'bigint');
  assert.ok(id > 2n ** 53n, 'a Snowflake ID is past what a Number holds exactly');
  client.close();
});

test('with no demand an adaptive buffer holds one small batch; otherwise it fills to capacity', async () => {
  const server = await serve();
  const eventually = async (done) => {
    for (let i = 0; i < 3000 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
    return done();
  };
  const small = new Client({ endpoints: [server.url], minBatch: 250 });
  assert.ok(await eventually(() => small.stats().buffered >= 250));
  assert.equal(small.stats().buffered, 250);
  assert.equal(small.stats().calls, 1);
  small.close();
  const full = new Client({ endpoints: [server.url], adaptive: false, capacity: 30_000 });
  assert.ok(await eventually(() => full.stats().buffered === 30_000));
  assert.equal(full.stats().calls, 3);
  full.close();
});

test('fails over when its endpoint stops, and stays increasing and unique', async () => {
  const first = await serve(['--node', '101']);
  const second = await serve(['--node', '102']);
  const client = new Client({ endpoints: [first.url, second.url], adaptive: false, capacity: 2000, waitMs: 30_000 });
  const seen = new Set();
  let last = 0n;
  const take = async (n) => {
    for (let i = 0; i < n; i++) {
      const id = await client.next();
      assert.ok(BigInt(id) > last);
      last = BigInt(id);
      assert.ok(!seen.has(id));
      seen.add(id);
    }
  };
  await take(5000);
  assert.equal(client.stats().endpoint, 0);
  assert.equal(await stop(first), 0);
  await take(20_000);
  assert.equal(client.stats().endpoint, 1);
  assert.ok(client.stats().failures >= 1);
  assert.equal(nodeOf(last), 102);
  client.close();
});

test('every endpoint down with the buffer empty is a clear error', async () => {
  const a = `http://127.0.0.1:${await freePort()}`;
  const b = `http://127.0.0.1:${await freePort()}`;
  const client = new Client({ endpoints: [a, b], waitMs: 30_000, timeoutMs: 5000 });
  await assert.rejects(client.next(), (error) => {
    assert.ok(error instanceof IdforgeError);
    assert.equal(error.code, 'unavailable');
    assert.match(error.message, /every endpoint fails/);
    assert.ok(error.message.includes(a) && error.message.includes(b), error.message);
    return true;
  });
  client.close();
});

test('bad options are refused, saying which', () => {
  const refused = (options, says) =>
    assert.throws(() => new Client(options), (error) => error instanceof IdforgeError && error.code === 'invalid_argument' && says.test(error.message));
  refused({}, /at least one endpoint/);
  refused({ endpoints: ['127.0.0.1:8080'] }, /not a URL|must be http/);
  refused({ endpoints: ['https://127.0.0.1:8080'] }, /must be http/);
  refused({ endpoints: ['http://127.0.0.1'] }, /must be http/);
  refused({ endpoints: ['http://127.0.0.1:8080/v1'] }, /must be http/);
  refused({ endpoints: ['http://127.0.0.1:8080'], capacity: 0 }, /capacity/);
  refused({ endpoints: ['http://127.0.0.1:8080'], aheadMs: 1.5 }, /aheadMs/);
});
