# SPDX-License-Identifier: Apache-2.0
"""What the fault scenarios share: real idforge processes on free ports, a clock
that libfaketime moves under a running process, load that records every ID and
every refusal, and the judge — `idforge verify` — fed everything they issued.

Python 3's standard library only (Debian's python3)."""

import ctypes
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
TWITTER_EPOCH_MS = 1288834974657
TS_SHIFT = 22  # Twitter layout: 41-bit stamp above 10 node bits and 12 sequence bits.
SEQUENCE_BITS = 12


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stamp_of(id_value):
    """The Twitter-layout tick (ms since its epoch) of an ID."""
    return id_value >> TS_SHIFT


def nodes_of(ids_path):
    """The Twitter-layout node values (the 10 bits between stamp and sequence) in a file of IDs."""
    with open(ids_path) as f:
        return {(int(line) >> SEQUENCE_BITS) & ((1 << (TS_SHIFT - SEQUENCE_BITS)) - 1) for line in f if line.strip()}


class FakeClock:
    """libfaketime's timestamp file, rewritten in one step (a new file renamed over
    it) so a running process never reads it half written. The offset is relative
    to the real clock ("+0s", "-3600s")."""

    def __init__(self, path):
        self.path = path
        self.offset_ms = 0
        self.set_ms(0)

    def set_ms(self, offset_ms):
        self.offset_ms = offset_ms
        tmp = self.path + ".next"
        with open(tmp, "w") as f:
            f.write("%+.3fs\n" % (offset_ms / 1000.0))
        os.rename(tmp, self.path)

    def env(self):
        return {
            "LD_PRELOAD": FAKETIME_LIB,
            "FAKETIME_TIMESTAMP_FILE": self.path,
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "ASAN_OPTIONS": "verify_asan_link_order=0",
        }


class Service:
    """`idforge serve` on a free loopback port, stopped by its PID."""

    def __init__(self, idforge, data_dir, log_path, args=(), env=None, prefix=()):
        self.port = free_port()
        self.log_path = log_path
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            list(prefix) + [idforge, "serve", "--listen", "127.0.0.1:%d" % self.port, "--data-dir", data_dir] +
            list(args),
            stdout=subprocess.DEVNULL, stderr=self.log, env=full_env)

    def wait_listening(self, guard_s=30):
        deadline = time.monotonic() + guard_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def send(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, guard_s=30):
        self.send(sig)
        try:
            code = self.proc.wait(timeout=guard_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.log.close()
        return code


class Load:
    """Threads asking a service for IDs (batches and single IDs) until stopped.
    Every ID received is written to `ids_path`; every answer other than 200 is
    kept as (status, code, retry_after) for the scenario to judge."""

    def __init__(self, port, ids_path, threads=2, batch=1000, seed=1):
        self.port = port
        self.out = open(ids_path, "a")
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.ids = 0
        self.refusals = []
        self.errors = 0  # Connections refused or cut: the process was down or paused.
        self.threads = [threading.Thread(target=self._run, args=(batch, seed + i), daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, batch, seed):
        rng = random.Random(seed)
        conn = None
        while not self.stopping.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                count = batch if rng.random() < 0.5 else 1
                conn.request("GET", "/v1/next?count=%d" % count)
                reply = conn.getresponse()
                body = reply.read()
                if reply.status == 200:
                    data = json.loads(body)
                    got = data["ids"] if "ids" in data else [data["id"]]
                    with self.lock:
                        self.out.write("\n".join(got) + "\n")
                        self.ids += len(got)
                else:
                    code = json.loads(body).get("code") if body else None
                    with self.lock:
                        self.refusals.append((reply.status, code, reply.getheader("Retry-After")))
                    time.sleep(0.005)
            except (OSError, http.client.HTTPException, ValueError):
                with self.lock:
                    self.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join()
        self.out.close()


def verify(idforge, paths, tmp_dir):
    """`idforge verify --json` over every file: the judge of every scenario."""
    run = subprocess.run([idforge, "verify", "--json", "--tmp-dir", tmp_dir] + list(paths),
                         stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if run.returncode not in (0, 1):
        raise RuntimeError("idforge verify failed: " + run.stderr)
    return json.loads(run.stdout)


def mark_stamp(data_dir, node=0, space="snowflake-node10-seq12"):
    """The stamp a node's mark file holds (its durable reservation), or None."""
    try:
        with open(os.path.join(data_dir, space, "node-%d.mark" % node)) as f:
            for line in f:
                if line.startswith("stamp "):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def max_stamp(ids_path):
    """The largest stamp among the IDs of a file, or None."""
    best = None
    with open(ids_path) as f:
        for line in f:
            line = line.strip()
            if line:
                s = stamp_of(int(line))
                best = s if best is None or s > best else best
    return best


def as_user(uid):
    """The prefix that runs a command as `uid` (and its group), with no other groups:
    what a partition needs to tell one process's packets from another's."""
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"]


class Etcd:
    """Real etcd members (Debian's etcd-server) on free loopback ports, each with
    its own data directory, started and stopped by PID; a member can be killed,
    restarted, paused and resumed. With `uids`, member i runs as uids[i] (so a
    Partition can cut it off); `work_dir` must then be open to them. With `idforge`,
    the ID space is made under /idforge (`idforge nodes init`) once etcd answers."""

    def __init__(self, work_dir, members=1, uids=None, idforge=None):
        self.dir = work_dir
        self.uids = uids
        self.token = "idforge-faults"
        self.generation = 0  # Data directories made anew (restores, wipes).
        self.clients = [free_port() for _ in range(members)]
        self.peers = [free_port() for _ in range(members)]
        self.cluster = ",".join("m%d=http://127.0.0.1:%d" % (i, p) for i, p in enumerate(self.peers))
        self.procs = [None] * members
        for i in range(members):
            self._start(i, "new")
        self.wait_healthy()
        if idforge:
            self.init_space(idforge)

    def init_space(self, idforge, *args):
        """Makes the ID space, as an operator does once: `idforge nodes init`."""
        subprocess.run([idforge, "nodes", "init", "--etcd", self.urls()] + list(args), check=True,
                       stdout=subprocess.DEVNULL)

    def _data(self, i):
        return os.path.join(self.dir, "etcd-m%d-%d" % (i, self.generation))

    def _start(self, i, state):
        log = open(os.path.join(self.dir, "etcd-m%d.log" % i), "ab")
        prefix = []
        if self.uids:
            data = self._data(i)
            os.makedirs(data, mode=0o700, exist_ok=True)
            os.chown(data, self.uids[i], self.uids[i])
            prefix = as_user(self.uids[i])
        self.procs[i] = subprocess.Popen(
            prefix + ["etcd", "--name", "m%d" % i, "--data-dir", self._data(i),
             "--listen-client-urls", "http://127.0.0.1:%d" % self.clients[i],
             "--advertise-client-urls", "http://127.0.0.1:%d" % self.clients[i],
             "--listen-peer-urls", "http://127.0.0.1:%d" % self.peers[i],
             "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % self.peers[i],
             "--initial-cluster", self.cluster, "--initial-cluster-state", state,
             "--initial-cluster-token", self.token, "--pre-vote=true"],
            stdout=subprocess.DEVNULL, stderr=log)

    def snapshot(self, path):
        """etcd's backup: `etcdctl snapshot save` of the member that answers."""
        subprocess.run(["etcdctl", "--endpoints", self.urls(), "snapshot", "save", path], check=True,
                       capture_output=True, env=dict(os.environ, ETCDCTL_API="3"))

    def restore(self, path, new_token):
        """etcd's disaster recovery: every member stopped, its data directory made
        anew from the snapshot (`etcdctl snapshot restore`), started on the same
        URLs; with `new_token`, a new cluster ID, as etcd's docs advise."""
        self.stop()
        self.generation += 1
        if new_token:
            self.token += "-restored"
        for i in range(len(self.procs)):
            subprocess.run(["etcdctl", "snapshot", "restore", path, "--name", "m%d" % i, "--data-dir", self._data(i),
                            "--initial-cluster", self.cluster, "--initial-cluster-token", self.token,
                            "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % self.peers[i]],
                           check=True, capture_output=True, env=dict(os.environ, ETCDCTL_API="3"))
        for i in range(len(self.procs)):
            self._start(i, "new")
        return self.wait_healthy()

    def wipe(self):
        """etcd lost and made again on the same URLs and token: empty members."""
        self.stop()
        self.generation += 1
        for i in range(len(self.procs)):
            self._start(i, "new")
        return self.wait_healthy()

    def urls(self):
        return ",".join("http://127.0.0.1:%d" % p for p in self.clients)

    def wait_healthy(self, guard_s=30):
        deadline = time.monotonic() + guard_s
        while time.monotonic() < deadline:
            run = subprocess.run(["etcdctl", "--endpoints", self.urls(), "endpoint", "health"],
                                 capture_output=True, env=dict(os.environ, ETCDCTL_API="3"))
            if run.returncode == 0:
                return True
            time.sleep(0.1)
        return False

    def leader(self):
        """The index of the leader, or None."""
        run = subprocess.run(["etcdctl", "--endpoints", self.urls(), "endpoint", "status", "-w", "json"],
                             capture_output=True, text=True, env=dict(os.environ, ETCDCTL_API="3"))
        try:
            for i, member in enumerate(json.loads(run.stdout)):
                if member["Status"]["header"]["member_id"] == member["Status"]["leader"]:
                    return [("http://127.0.0.1:%d" % p) for p in self.clients].index(member["Endpoint"])
        except (ValueError, KeyError):
            return None
        return None

    def marks(self, space="snowflake-node10-seq12", prefix="/idforge"):
        """{node: stamp} from the nodes' mark keys, or None when etcd does not answer."""
        run = subprocess.run(["etcdctl", "--endpoints", self.urls(), "get", "--prefix",
                              "%s/%s/mark/" % (prefix, space)],
                             capture_output=True, text=True, env=dict(os.environ, ETCDCTL_API="3"))
        if run.returncode != 0:
            return None
        lines = run.stdout.split("\n")
        return {int(key.rsplit("/", 1)[1]): int(value) for key, value in zip(lines[0::2], lines[1::2]) if key}

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait()

    def restart(self, i):
        self._start(i, "existing")

    def pause(self, i):
        self.procs[i].send_signal(signal.SIGSTOP)

    def resume(self, i):
        self.procs[i].send_signal(signal.SIGCONT)

    def stop(self):
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait()


CLONE_NEWNET = 0x40000000


def enter_private_network():
    """Moves the campaign, and every process and thread it starts from here on, into
    a network namespace of its own with loopback up, so that nftables rules touch
    nothing outside it. Needs root and no other running thread; False when it cannot."""
    if os.geteuid() != 0 or threading.active_count() != 1:
        return False
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        return False
    return subprocess.run(["ip", "link", "set", "lo", "up"]).returncode == 0


class Partition:
    """A real partition on the namespace's loopback: nftables rules, in one table of
    their own, on the packets one user's processes send. heal() removes them all."""

    TABLE = "inet idforge_faults"

    def _add(self, rule):
        script = "add table %s\nadd chain %s out { type filter hook output priority 0; }\nadd rule %s out %s\n" % (
            self.TABLE, self.TABLE, self.TABLE, rule)
        subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True)

    def cut(self, uid, ports, verdict="drop"):
        """Drops (or, with "reject", resets) `uid`'s packets to `ports`."""
        action = "reject with tcp reset" if verdict == "reject" else "drop"
        self._add("meta skuid %d tcp dport { %s } %s" % (uid, ", ".join(map(str, ports)), action))

    def isolate(self, uid, keep_port):
        """Drops every packet `uid` sends except from `keep_port`: a member that still
        answers its clients but can reach no peer (a minority of one)."""
        self._add("meta skuid %d tcp sport != %d drop" % (uid, keep_port))

    def heal(self):
        subprocess.run(["nft", "delete", "table"] + self.TABLE.split(), stderr=subprocess.DEVNULL)
