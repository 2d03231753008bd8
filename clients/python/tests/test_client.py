# SPDX-License-Identifier: Apache-2.0
"""idforge_client against real `idforge serve` instances that the tests start on
free ports (IDFORGE_BIN, Default ../../build/release/idforge) and stop by PID."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from idforge_client import Client, IdforgeError  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("IDFORGE_BIN", os.path.join(HERE, "..", "..", "..", "build", "release", "idforge"))


def node_of(snowflake):
    """The node of a Twitter-layout ID: bits 12 to 21."""
    return (snowflake >> 12) & 1023


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(done):
    """Polls (bounded by 30 s, a guard) until done() holds."""
    for _ in range(3000):
        if done():
            return True
        time.sleep(0.01)
    return done()


class Server:
    def __init__(self, data_dir, *args):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen([BIN, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0", *args],
                                        stdout=subprocess.DEVNULL, stderr=self.log)
        self.url = None
        deadline = time.monotonic() + 30
        while self.url is None and time.monotonic() < deadline and self.process.poll() is None:
            self.log.seek(0)
            m = re.search(rb'"msg":"listening".*?"port":(\d+)', self.log.read())
            if m:
                self.url = f"http://127.0.0.1:{int(m.group(1))}"
            else:
                time.sleep(0.01)
        if self.url is None:
            self.log.seek(0)
            raise RuntimeError(f"idforge serve did not start: {self.log.read().decode()}")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.data_dir = tempfile.mkdtemp(prefix="idforge-py-")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.kill()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def serve(self, *args):
        server = Server(self.data_dir, *args)
        self.servers.append(server)
        return server

    def test_ids_are_increasing_ints_of_the_service_fetched_in_batches(self):
        server = self.serve("--node", "9")
        with Client([server.url], wait_ms=30_000) as client:
            last = 0
            for _ in range(30_000):
                i = client.next()
                self.assertIsInstance(i, int)
                self.assertGreater(i, last)
                last = i
            self.assertEqual(node_of(last), 9)
            self.assertGreater(last, 2**53)
            many = client.next_many(5000)
            self.assertEqual(len(many), 5000)
            self.assertGreater(many[0], last)
            self.assertEqual(many, sorted(many))
            stats = client.stats()
            self.assertEqual(stats["handed_out"], 35_000)
            self.assertLess(stats["calls"], 3500)
            self.assertEqual(stats["failures"], 0)

    def test_with_no_demand_an_adaptive_buffer_holds_one_small_batch(self):
        server = self.serve()
        with Client([server.url], min_batch=250) as small:
            self.assertTrue(eventually(lambda: small.stats()["buffered"] >= 250))
            self.assertEqual(small.stats()["buffered"], 250)
            self.assertEqual(small.stats()["calls"], 1)
        with Client([server.url], adaptive=False, capacity=30_000) as full:
            self.assertTrue(eventually(lambda: full.stats()["buffered"] == 30_000))
            self.assertEqual(full.stats()["calls"], 3)

    def test_fails_over_when_its_endpoint_stops_and_stays_increasing(self):
        first = self.serve("--node", "101")
        second = self.serve("--node", "102")
        with Client([first.url, second.url], adaptive=False, capacity=2000, wait_ms=30_000) as client:
            seen = set()
            last = 0

            def take(n):
                nonlocal last
                for _ in range(n):
                    i = client.next()
                    self.assertGreater(i, last)
                    self.assertNotIn(i, seen)
                    seen.add(i)
                    last = i

            take(5000)
            self.assertEqual(client.stats()["endpoint"], 0)
            self.assertEqual(first.stop(), 0)
            take(20_000)
            self.assertEqual(client.stats()["endpoint"], 1)
            self.assertGreaterEqual(client.stats()["failures"], 1)
            self.assertEqual(node_of(last), 102)

    def test_every_endpoint_down_with_the_buffer_empty_is_a_clear_error(self):
        a, b = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
        with Client([a, b], wait_ms=30_000, timeout_ms=5000) as client:
            with self.assertRaises(IdforgeError) as raised:
                client.next()
            self.assertEqual(raised.exception.code, "unavailable")
            self.assertIn("every endpoint fails", str(raised.exception))
            self.assertIn(a, str(raised.exception))
            self.assertIn(b, str(raised.exception))

    def test_bad_options_are_refused_saying_which(self):
        cases = [
            (([],), {}, "at least one endpoint"),
            (("http://127.0.0.1:8080",), {}, "at least one endpoint"),
            ((["127.0.0.1:8080"],), {}, "must be http://HOST:PORT"),
            ((["https://127.0.0.1:8080"],), {}, "must be http://HOST:PORT"),
            ((["http://127.0.0.1"],), {}, "must be http://HOST:PORT"),
            ((["http://127.0.0.1:80x"],), {}, "must be http://HOST:PORT"),
            ((["http://127.0.0.1:8080/v1"],), {}, "must be http://HOST:PORT"),
            ((["http://127.0.0.1:8080"],), {"capacity": 0}, "capacity"),
            ((["http://127.0.0.1:8080"],), {"ahead_ms": 1.5}, "ahead_ms"),
            ((["http://127.0.0.1:8080"],), {"adaptive": True, "wait_ms": True}, "wait_ms"),
        ]
        for args, kwargs, says in cases:
            with self.subTest(args=args, kwargs=kwargs):
                with self.assertRaises(IdforgeError) as raised:
                    Client(*args, **kwargs).close()
                self.assertEqual(raised.exception.code, "invalid_argument")
                self.assertIn(says, str(raised.exception))


if __name__ == "__main__":
    unittest.main()
