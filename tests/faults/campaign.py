#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The fault campaign: real idforge binaries driven through injected faults, and
everything they issued fed to `idforge verify`.

Each scenario says what it injects and checks: 0 duplicates among every ID it
received, 0 stamps past the node's durable mark, and the documented answer for
every refused request (503 with a code from the documented set and Retry-After).
It prints one JSON summary: IDs checked, faults injected by kind, cycles,
duplicates, and each scenario's verdict.

  python3 tests/faults/campaign.py --idforge build/release/idforge            # the short form (CI)
  python3 tests/faults/campaign.py --idforge build/release/idforge --long     # by hand; figures in docs/reliability.md
  python3 tests/faults/campaign.py --idforge … --only clock_bumps --seed 7

Exit code 0 when every scenario passed, 1 otherwise, 2 for bad arguments."""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from store import store_rollback  # noqa: E402

# The refusals the service documents for a clock it cannot stamp with.
CLOCK_CODES = {"clock_regressed", "overloaded"}


class Scenario:
    """A scenario's working directory, its fault counts and its findings."""

    def __init__(self, name, args, rng):
        self.name = name
        self.args = args
        self.rng = rng
        self.dir = os.path.join(args.work, name)
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.faults = {}
        self.cycles = 0
        self.problems = []
        self.id_files = []
        self.refusals = {}  # By code.
        self.marks = None  # Cluster mode: {node: stamp} of the marks in etcd once every holder is gone.
        self.skipped = None  # Why the scenario could not run here.

    def fault(self, kind, n=1):
        self.faults[kind] = self.faults.get(kind, 0) + n

    def ids_file(self, label):
        path = os.path.join(self.dir, "ids-%s.txt" % label)
        self.id_files.append(path)
        return path

    def judge_refusals(self, load, allowed):
        for status, code, retry_after in load.refusals:
            self.refusals[code] = self.refusals.get(code, 0) + 1
            if status != 503 or code not in allowed or retry_after is None:
                self.problems.append("refusal %s %s (Retry-After %s) is not a documented answer" %
                                     (status, code, retry_after))

    def end(self, svc, load, allowed, sig=signal.SIGTERM, ids_path=None, under_load=False):
        """Stops the load and the service (with `sig`; while the load still runs when
        `under_load`), judges every refusal against `allowed` and, given the file of
        the IDs, checks them against the mark the service left. Returns its exit code."""
        if not under_load:
            load.stop()
        code = svc.stop(sig)
        if under_load:
            load.stop()
        self.judge_refusals(load, allowed)
        if ids_path:
            self.check_mark(ids_path)
        return code

    def check_mark(self, ids_path, node=0):
        """No ID of a holder that is gone may be stamped past the node's durable mark."""
        mark, newest = lib.mark_stamp(self.data, node), lib.max_stamp(ids_path)
        if newest is not None and (mark is None or newest > mark):
            self.problems.append("an ID stamped %s lies past the durable mark %s" % (newest, mark))

    def check_cluster_marks(self, report):
        """No node's newest ID may be stamped past the mark etcd keeps for the node."""
        for node in report["nodes"]:
            if node["node"] is None or node["last_unix_ms"] is None:
                continue
            newest, mark = node["last_unix_ms"] - lib.TWITTER_EPOCH_MS, self.marks.get(node["node"])
            if mark is None or newest > mark:
                self.problems.append("node %s issued an ID stamped %d, past its mark %s in etcd" %
                                     (node["node"], newest, mark))

    def service(self, label, args=(), clock=None, prefix=(), wait_s=30):
        """`idforge serve` on this scenario's data directory, its log in serve-<label>.log;
        a problem when it does not listen within `wait_s` (0: do not wait)."""
        svc = lib.Service(self.args.idforge, self.data, os.path.join(self.dir, "serve-%s.log" % label), args,
                          clock.env() if clock else None, prefix)
        if wait_s and not svc.wait_listening(guard_s=wait_s):
            self.problems.append("idforge serve did not start (%s); see %s" % (label, svc.log_path))
        return svc

    def read_marks(self, etcd):
        """Keeps the nodes' marks in etcd for result() to check every node's newest ID against."""
        self.marks = etcd.marks()
        if not self.marks:
            self.problems.append("no mark could be read from etcd")

    def result(self):
        report = lib.verify(self.args.idforge, self.id_files, self.args.work)
        if report["duplicates"] != 0:
            self.problems.append("%d duplicates, first %s" % (report["duplicates"], report["repeats"][:3]))
        if report["unparsed"] != 0:
            self.problems.append("%d words that are no ID" % report["unparsed"])
        if self.marks:
            self.check_cluster_marks(report)
        return {"scenario": self.name, "ids": report["ids"], "duplicates": report["duplicates"],
                "faults": self.faults, "cycles": self.cycles, "refusals": self.refusals,
                "skipped": self.skipped, "passed": not self.problems, "problems": self.problems}


def jepsen_delta_ms(rng):
    """Jepsen's bump: ±2^(2..18) ms (4 ms to 262 s)."""
    return rng.choice((-1, 1)) * (1 << rng.randint(2, 18))


def clock_bumps(s):
    """A running service's clock bumped by ±4 ms to ±262 s while load runs; each
    bump stays a moment, then the clock is reset. Refusals must be 503
    clock_regressed/overloaded with Retry-After; no ID may repeat."""
    clock = lib.FakeClock(os.path.join(s.dir, "faketime"))
    svc = s.service("bumps", ["--max-lead-ms", "2000"], clock)
    load = lib.Load(svc.port, s.ids_file("bumps"), seed=s.rng.randint(0, 1 << 30))
    for _ in range(s.args.scale * 6):
        clock.set_ms(clock.offset_ms + jepsen_delta_ms(s.rng))
        s.fault("clock bump")
        time.sleep(s.rng.uniform(0.05, 0.5))
        if s.rng.random() < 0.3:
            clock.set_ms(0)
            s.fault("clock reset")
    clock.set_ms(0)
    time.sleep(0.3)
    s.end(svc, load, CLOCK_CODES, ids_path=s.id_files[-1])


def clock_strobes(s):
    """Jepsen's strobe: a delta of 4 ms to 262 s flipped on and off every 1 to
    1024 ms, for up to 32 s (short form: up to 3 s), under load."""
    clock = lib.FakeClock(os.path.join(s.dir, "faketime"))
    svc = s.service("strobes", [], clock)
    load = lib.Load(svc.port, s.ids_file("strobes"), seed=s.rng.randint(0, 1 << 30))
    for _ in range(s.args.scale * 2):
        delta, period_s = jepsen_delta_ms(s.rng), s.rng.randint(1, 1024) / 1000.0
        end = time.monotonic() + s.rng.uniform(0.5, 3.0 if s.args.scale < 10 else 32.0)
        on = False
        while time.monotonic() < end:
            on = not on
            clock.set_ms(delta if on else 0)
            s.fault("clock strobe step")
            time.sleep(period_s)
        clock.set_ms(0)
        s.cycles += 1
    time.sleep(0.3)
    s.end(svc, load, CLOCK_CODES, ids_path=s.id_files[-1])


def kill_restarts(s):
    """kill -9 at a random moment under load, then a restart — half the time with
    the clock an hour behind (and a lead that rides it out, or the default lead,
    which must refuse with clock_regressed). After each kill, every ID the killed
    holder issued must lie at or below the mark it left."""
    for cycle in range(s.args.scale * 10):
        behind = s.rng.random() < 0.5
        clock = lib.FakeClock(os.path.join(s.dir, "faketime-%d" % cycle))
        if behind:
            clock.set_ms(-3_600_000)
            s.fault("restart with the clock 1 h behind")
        ride = behind and s.rng.random() < 0.5
        svc = s.service("cycle-%d" % cycle, ["--node", "0"] + (["--max-lead-ms", "7200000"] if ride else []), clock)
        path = s.ids_file("cycle-%d" % cycle)
        load = lib.Load(svc.port, path, seed=s.rng.randint(0, 1 << 30))
        time.sleep(s.rng.uniform(0.05, 0.6))
        s.end(svc, load, CLOCK_CODES, signal.SIGKILL, path, under_load=True)
        s.fault("kill -9")
        s.cycles += 1


def pauses(s):
    """SIGSTOP and SIGCONT of a service under load (a pause as a peer sees it):
    it must resume and never repeat."""
    svc = s.service("pauses")
    load = lib.Load(svc.port, s.ids_file("pauses"), seed=s.rng.randint(0, 1 << 30))
    for _ in range(s.args.scale * 5):
        time.sleep(s.rng.uniform(0.05, 0.3))
        svc.send(signal.SIGSTOP)
        s.fault("SIGSTOP")
        time.sleep(s.rng.uniform(0.05, 1.5))
        svc.send(signal.SIGCONT)
        s.cycles += 1
    time.sleep(0.3)
    if s.end(svc, load, CLOCK_CODES, ids_path=s.id_files[-1]) != 0:
        s.problems.append("the paused service did not stop cleanly")


SPACE = "snowflake-node10-seq12"


def damage(path, how, rng):
    """Damages a record in place: truncated, a byte flipped, or deleted."""
    if how == "deleted":
        os.remove(path)
        return
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if how == "truncated":
        data = data[: rng.randint(0, max(0, len(data) - 1))]
    else:
        at = rng.randrange(len(data))
        data[at] ^= 1 << rng.randrange(8)
    with open(path, "wb") as f:
        f.write(data)


def persistence(s):
    """The node's records damaged between runs: the mark truncated, a byte of it
    flipped, or deleted — alone (the floor still knows the node: the next holder
    must start after it), or with the floor damaged too (nothing knows the node:
    start-up must be refused with an io error until 'idforge nodes recover
    --data-dir' raises the records past the newest ID). The mark made immutable under a
    running service (renewals fail: it must stop issuing, answering 503, never
    reset). Then every ID of every run is checked."""
    mark = os.path.join(s.data, SPACE, "node-0.mark")
    floor = os.path.join(s.data, SPACE, "floor")
    for cycle in range(s.args.scale * 6):
        svc = s.service("run-%d" % cycle, ["--node", "0"])
        path = s.ids_file("run-%d" % cycle)
        load = lib.Load(svc.port, path, seed=s.rng.randint(0, 1 << 30))
        time.sleep(s.rng.uniform(0.1, 0.4))
        s.end(svc, load, CLOCK_CODES, signal.SIGKILL if s.rng.random() < 0.5 else signal.SIGTERM, path)
        # Each damage alone and with the floor damaged too, in turn: every six runs cover all six.
        how = ("truncated", "corrupted", "deleted")[cycle % 3]
        both = cycle % 2 == 1
        damage(mark, how, s.rng)
        s.fault("mark " + how)
        if both:
            damage(floor, s.rng.choice(("truncated", "corrupted")), s.rng)
            s.fault("floor damaged too")
            run = subprocess.run([s.args.idforge, "serve", "--listen", "127.0.0.1:0", "--data-dir", s.data,
                                      "--node", "0"], capture_output=True, text=True, timeout=30)
            if run.returncode != 1 or '"code":"io"' not in run.stderr:
                s.problems.append("with mark and floor damaged, start-up was not refused with io: %s" % run.stderr)
                break
            # What the operator does (docs/operations.md): recover the data directory past the newest ID issued.
            newest_ms = max(lib.max_stamp(p) or 0 for p in s.id_files) + lib.TWITTER_EPOCH_MS
            subprocess.run([s.args.idforge, "nodes", "recover", "--data-dir", s.data, "--issued-until",
                            str(newest_ms), "--margin-ms", "0"], check=True, capture_output=True, timeout=30)
            s.fault("nodes recover --data-dir")
        s.cycles += 1
    # Immutable under a running service: renewals fail, it stops issuing, then recovers.
    svc = s.service("immutable", ["--node", "0"])
    path = s.ids_file("immutable")
    load = lib.Load(svc.port, path, seed=s.rng.randint(0, 1 << 30))
    time.sleep(0.3)
    folder = os.path.join(s.data, SPACE)
    subprocess.run(["chattr", "+i", folder], check=False)
    s.fault("data directory made immutable")
    time.sleep(2.0)
    subprocess.run(["chattr", "-i", folder], check=False)
    time.sleep(1.0)
    s.end(svc, load, CLOCK_CODES | {"unavailable", "io"}, ids_path=path)


def disk_full(s):
    """The data directory on a small tmpfs that is filled while the service runs:
    renewals fail, the service stops issuing (503) when its reservation runs out,
    and once space is freed it issues again — never from a reset node."""
    if os.geteuid() != 0:
        s.skipped = "mounting a tmpfs needs root"
        return
    os.makedirs(s.data)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", s.data], check=True)
    try:
        for cycle in range(s.args.scale * 2):
            svc = s.service("full-%d" % cycle, ["--node", "0"])
            path = s.ids_file("full-%d" % cycle)
            load = lib.Load(svc.port, path, seed=s.rng.randint(0, 1 << 30))
            time.sleep(0.3)
            filler = os.path.join(s.data, "filler")
            with open(filler, "wb") as f:
                try:
                    while True:
                        f.write(b"x" * 65536)
                        f.flush()
                except OSError:
                    pass
            s.fault("disk full")
            time.sleep(2.5)
            os.remove(filler)
            time.sleep(1.0)
            sig = signal.SIGKILL if cycle % 2 else signal.SIGTERM
            s.end(svc, load, CLOCK_CODES | {"unavailable", "io"}, sig, path)
            s.cycles += 1
    finally:
        subprocess.run(["umount", "-l", s.data], check=False)


def crowd(s):
    """Many `idforge gen` processes and services on one data directory at once,
    each taking whatever node is free: no two may share a node, so no ID repeats."""
    procs = []
    for i in range(s.args.scale * 6):
        out = open(s.ids_file("gen-%d" % i), "w")
        procs.append((subprocess.Popen([s.args.idforge, "gen", "-n", str(s.rng.randint(10_000, 400_000))],
                                           stdout=out, stderr=subprocess.DEVNULL,
                                           env=dict(os.environ, IDFORGE_DATA_DIR=s.data)), out))
        s.fault("concurrent gen")
    services = []
    for i in range(2):
        svc = s.service("crowd-%d" % i)
        services.append((svc, lib.Load(svc.port, s.ids_file("serve-%d" % i), seed=s.rng.randint(0, 1 << 30))))
        s.fault("concurrent service")
    for p, out in procs:
        if p.wait(timeout=120) != 0:
            s.problems.append("an idforge gen failed")
        out.close()
    time.sleep(0.5)
    for svc, load in services:
        s.end(svc, load, CLOCK_CODES)


def forks(s):
    """fork() in the middle of issuing: fork_probe issues from a thread while its
    main thread forks children by fork(), _Fork() and a raw clone; each child's
    inherited generator must refuse, and the IDs of parent and children (each on
    a node of its own in one data directory) must never repeat."""
    probe = os.path.join(os.path.dirname(s.args.idforge), "tests", "fork_probe")
    if not os.access(probe, os.X_OK):
        s.problems.append("fork_probe is not built next to idforge (%s)" % probe)
        return
    for cycle in range(s.args.scale * 2):
        prefix = os.path.join(s.dir, "fork-%d" % cycle)
        children = 6
        run = subprocess.run([probe, s.data, prefix, str(children), str(s.rng.randint(1000, 50_000))],
                                 capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            s.problems.append("fork_probe exited %d: %s" % (run.returncode, run.stderr.strip()))
        s.id_files += sorted(os.path.join(s.dir, f) for f in os.listdir(s.dir) if f.startswith("fork-%d-" % cycle))
        s.fault("fork in the middle of issuing", children)
        s.cycles += 1


def refused_start(s, args, guard_s=10):
    """Starts `idforge serve` with `args` on this scenario's data directory and
    returns its stderr when it refused to start, or None when it started (it is
    then killed: a start that should have been refused)."""
    proc = subprocess.Popen([s.args.idforge, "serve", "--listen", "127.0.0.1:0", "--data-dir", s.data] + list(args),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=guard_s)
        return err if proc.returncode != 0 else None
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None


def files_removed(s):
    """Files removed under a running service, under load: its lock file removed or
    replaced by a new file, its node's folder removed, or the whole data directory.
    While it lives, a second service asking for its node must be refused and one
    taking any free node must take another; the first must answer lease_lost from
    its next extension on; and it leaves a mark above every stamp it issued."""
    folder = os.path.join(s.data, SPACE)
    for cycle in range(s.args.scale * 4):
        first = s.service("first-%d" % cycle, ["--node", "0"])
        path = s.ids_file("first-%d" % cycle)
        load = lib.Load(first.port, path, seed=s.rng.randint(0, 1 << 30))
        time.sleep(s.rng.uniform(0.2, 0.5))
        how = s.rng.choice(("lock removed", "lock replaced", "node folder removed", "data directory removed"))
        lock = os.path.join(folder, "node-0.lock")
        if how == "lock removed":
            os.remove(lock)
        elif how == "lock replaced":
            os.remove(lock)
            open(lock, "w").close()
        else:
            shutil.rmtree(folder if how == "node folder removed" else s.data)
        s.fault(how)
        err = refused_start(s, ["--node", "0"])
        if err is None or not ("held by" in err or "removed or replaced" in err):
            s.problems.append("with its files %s, the node's holder was not protected: %s" % (how, err))
        other = s.service("other-%d" % cycle)
        other_path = s.ids_file("other-%d" % cycle)
        other_load = lib.Load(other.port, other_path, seed=s.rng.randint(0, 1 << 30))
        time.sleep(1.5)  # Past the first's next extension (renewed at half of its 1 s reservation).
        if not any(code == "lease_lost" for _, code, _ in load.refusals):
            s.problems.append("the holder kept issuing after its files were %s" % how.split()[-1])
        s.end(first, load, CLOCK_CODES | {"lease_lost"}, ids_path=path)
        s.end(other, other_load, CLOCK_CODES)
        if 0 in lib.nodes_of(other_path):
            s.problems.append("a second service took node 0 while its holder lived (%s)" % how)
        s.cycles += 1
    svc = s.service("after", ["--node", "0"])
    load = lib.Load(svc.port, s.ids_file("after"), seed=s.rng.randint(0, 1 << 30))
    time.sleep(0.5)
    s.end(svc, load, CLOCK_CODES, ids_path=s.id_files[-1])


def dangling_marks(s):
    """Between runs, the node's mark replaced by a dangling symbolic link, by a link
    to a copy taken runs ago, or by that old copy restored as if from a backup; each
    later run starts with the clock an hour behind and a lead that rides it, so a
    node reset to the old copy would reissue. The floor must outvote every one."""
    mark = os.path.join(s.data, SPACE, "node-0.mark")
    old = os.path.join(s.dir, "old.mark")
    for cycle in range(s.args.scale * 6):
        clock = lib.FakeClock(os.path.join(s.dir, "faketime-%d" % cycle))
        if cycle > 0:
            clock.set_ms(-3_600_000)
        svc = s.service("run-%d" % cycle, ["--node", "0", "--max-lead-ms", "7200000"], clock)
        path = s.ids_file("run-%d" % cycle)
        load = lib.Load(svc.port, path, seed=s.rng.randint(0, 1 << 30))
        time.sleep(s.rng.uniform(0.2, 0.5))
        s.end(svc, load, CLOCK_CODES, signal.SIGKILL if s.rng.random() < 0.5 else signal.SIGTERM, path)
        if cycle == 0:
            shutil.copyfile(mark, old)
        how = s.rng.choice(("dangling link", "link to an old copy", "old copy restored"))
        os.remove(mark)
        if how == "dangling link":
            os.symlink(os.path.join(s.dir, "missing.mark"), mark)
        elif how == "link to an old copy":
            os.symlink(old, mark)
        else:
            shutil.copyfile(old, mark)
        s.fault("mark: " + how)
        s.cycles += 1


# Layouts of Twitter's geometry (41 stamp bits, 10 node bits, 12 sequence bits): the
# same ID space whatever their field names or epochs (an hour later, an hour earlier).
EQUIVALENT_LAYOUTS = ("twitter",
                      "time:41-datacenter:5-worker:5-seq:12/tick=1ms/epoch=%d" % (lib.TWITTER_EPOCH_MS + 3_600_000),
                      "time:41-node:10-seq:12/tick=1ms/epoch=%d" % (lib.TWITTER_EPOCH_MS - 3_600_000))


def equivalent_layouts(s):
    """Layouts whose bits sit in the same places, used in turn on one node (with a
    lead that rides the hour between their epochs) and at once with any free node:
    they share one store, so no layout reissues another's IDs or takes its node."""
    for cycle in range(s.args.scale * 6):
        layout = s.rng.choice(EQUIVALENT_LAYOUTS)
        svc = s.service("turn-%d" % cycle, ["--node", "0", "--layout", layout, "--max-lead-ms", "7200000"])
        path = s.ids_file("turn-%d" % cycle)
        load = lib.Load(svc.port, path, seed=s.rng.randint(0, 1 << 30))
        time.sleep(s.rng.uniform(0.2, 0.5))
        s.end(svc, load, CLOCK_CODES, signal.SIGKILL if s.rng.random() < 0.5 else signal.SIGTERM, path)
        s.fault("layout changed on one node")
        s.cycles += 1
    services = [s.service("together-%d" % i, ["--layout", layout]) for i, layout in enumerate(EQUIVALENT_LAYOUTS)]
    paths = [s.ids_file("together-%d" % i) for i in range(len(services))]
    loads = [lib.Load(svc.port, path, seed=s.rng.randint(0, 1 << 30)) for svc, path in zip(services, paths)]
    s.fault("equivalent layouts at once", len(services))
    time.sleep(1.0)
    for svc, load in zip(services, loads):
        s.end(svc, load, CLOCK_CODES)
    taken = [lib.nodes_of(p) for p in paths]
    if any(taken[i] & taken[j] for i in range(len(taken)) for j in range(i)):
        s.problems.append("equivalent layouts shared a node: %s" % taken)


def crash_loops(s):
    """Crash loops: a service killed again and again within 50 ms of its start,
    half the time with the clock an hour behind, sometimes right after answering
    one request; every fifth start, a run under load. A crash that issued nothing
    must leave the mark alone; none may lose a stamp."""
    for cycle in range(s.args.scale * 30):
        clock = lib.FakeClock(os.path.join(s.dir, "faketime-%d" % cycle))
        if s.rng.random() < 0.5:
            clock.set_ms(-3_600_000)
        args = ["--node", "0", "--max-lead-ms", "7200000"]
        if cycle % 5 == 4:
            svc = s.service("run-%d" % cycle, args, clock)
            path = s.ids_file("run-%d" % cycle)
            load = lib.Load(svc.port, path, seed=s.rng.randint(0, 1 << 30))
            time.sleep(s.rng.uniform(0.1, 0.4))
            s.end(svc, load, CLOCK_CODES, signal.SIGKILL, path, under_load=True)
        else:
            before = lib.mark_stamp(s.data)
            svc = s.service("crash-%d" % cycle, args, clock, wait_s=0)
            asked = s.rng.random() < 0.5 and svc.wait_listening()
            if asked:
                path = s.ids_file("crash-%d" % cycle)
                load = lib.Load(svc.port, path, threads=1, batch=1, seed=cycle)
                while load.ids == 0 and not load.refusals and svc.proc.poll() is None:
                    time.sleep(0.001)
                s.end(svc, load, CLOCK_CODES, signal.SIGKILL, path, under_load=True)
            else:
                time.sleep(s.rng.uniform(0, 0.05))
                svc.stop(signal.SIGKILL)
                if lib.mark_stamp(s.data) != before:
                    s.problems.append("a start killed before any request moved the mark from %s to %s" %
                                      (before, lib.mark_stamp(s.data)))
        s.fault("kill -9 in a crash loop")
        s.cycles += 1


# The answers of an instance that has lost its lease, or cannot reach etcd in time.
LEASE_CODES = CLOCK_CODES | {"lease_lost", "unavailable"}
TTL_S = 5


def cluster_service(s, etcd, label, args=(), clock=None, prefix=(), wait_s=30):
    return s.service(label, ["--etcd", etcd.urls(), "--lease-ttl-s", str(TTL_S)] + list(args), clock, prefix, wait_s)


def cluster_steal(s):
    """Pause and steal: the holder of node 7 is SIGSTOPped past its TTL under load;
    another instance takes node 7 and issues; the first is resumed. The first must
    issue nothing more on node 7 (503 lease_lost until it holds a node again)."""
    etcd = lib.Etcd(s.dir, idforge=s.args.idforge)
    try:
        for cycle in range(s.args.scale * 2):
            a = cluster_service(s, etcd, "a-%d" % cycle, ["--node", "7", "--wait-for-node"])
            load_a = lib.Load(a.port, s.ids_file("a-%d" % cycle), seed=s.rng.randint(0, 1 << 30))
            time.sleep(0.5)
            a.send(signal.SIGSTOP)
            s.fault("SIGSTOP of the holder past its TTL")
            b = cluster_service(s, etcd, "b-%d" % cycle, ["--node", "7", "--wait-for-node"], wait_s=4 * TTL_S)
            load_b = lib.Load(b.port, s.ids_file("b-%d" % cycle), seed=s.rng.randint(0, 1 << 30))
            time.sleep(1.0)
            a.send(signal.SIGCONT)
            time.sleep(1.5)
            for load in (load_a, load_b):
                load.stop()
                s.judge_refusals(load, LEASE_CODES)
            b.stop()
            a.stop()
            s.cycles += 1
    finally:
        s.read_marks(etcd)
        etcd.stop()


def cluster_coordinator_lost(s):
    """Every etcd member paused for 3 x TTL under load on three instances: each must
    stop issuing before its lease could expire (503), and issue again after."""
    etcd = lib.Etcd(s.dir, members=3, idforge=s.args.idforge)
    try:
        services = [cluster_service(s, etcd, "i-%d" % i) for i in range(3)]
        loads = [lib.Load(svc.port, s.ids_file("i-%d" % i), seed=s.rng.randint(0, 1 << 30))
                 for i, svc in enumerate(services)]
        for cycle in range(s.args.scale):
            time.sleep(1.0)
            for m in range(3):
                etcd.pause(m)
            s.fault("every etcd member paused for 3 x TTL")
            time.sleep(3 * TTL_S)
            for m in range(3):
                etcd.resume(m)
            time.sleep(2 * TTL_S)
            s.cycles += 1
        for svc, load in zip(services, loads):
            s.end(svc, load, LEASE_CODES)
            if not load.refusals:
                s.problems.append("an instance kept issuing while etcd was paused past its TTL")
    finally:
        s.read_marks(etcd)
        etcd.stop()


def cluster_chaos(s):
    """More instances than nodes (five for three) on a 3-member etcd, under load,
    while every few seconds the etcd leader is killed and restarted, or a member is
    paused: 20 s (long form: 200 s)."""
    etcd = lib.Etcd(s.dir, members=3, idforge=s.args.idforge)
    try:
        services, loads = [], []
        for i in range(5):
            services.append(cluster_service(s, etcd, "c-%d" % i, ["--nodes", "0-2", "--wait-for-node"], wait_s=0))
        time.sleep(2.0)
        for i, svc in enumerate(services):
            loads.append(lib.Load(svc.port, s.ids_file("c-%d" % i), seed=s.rng.randint(0, 1 << 30)))
        end = time.monotonic() + 20 * s.args.scale
        while time.monotonic() < end:
            leader = etcd.leader()
            if s.rng.random() < 0.5 and leader is not None:
                etcd.kill(leader)
                s.fault("etcd leader killed")
                time.sleep(s.rng.uniform(1, 4))
                etcd.restart(leader)
            else:
                m = s.rng.randrange(3)
                etcd.pause(m)
                s.fault("etcd member paused")
                time.sleep(s.rng.uniform(1, 4))
                etcd.resume(m)
            s.cycles += 1
            time.sleep(1.0)
        for svc, load in zip(services, loads):
            s.end(svc, load, LEASE_CODES)
    finally:
        s.read_marks(etcd)
        etcd.stop()


NOBODY = 65534
MEMBER_UIDS = (64901, 64902, 64903)  # The etcd members' own users, so one member's packets can be cut.


def cluster_partition(s):
    """Real partitions, in a network namespace of the campaign's own with nftables
    rules on its loopback, under load on four instances for three nodes. Each cycle
    either cuts the instance that runs as `nobody` from every etcd member (its
    packets dropped, or answered by a reset) for 3 x TTL — it must issue nothing
    from TTL + 2 s into the cut on, while the spare instance may take its node — or
    cuts the etcd leader from its peers (a minority of one that still answers its
    clients) for 2 x TTL. Then the partition heals for 2 x TTL."""
    if not lib.enter_private_network():
        s.skipped = "needs root, and no other thread, to make a network namespace"
        return
    os.chmod(s.args.work, 0o755)  # The members' own users reach their data directories.
    etcd = lib.Etcd(s.dir, members=3, uids=MEMBER_UIDS, idforge=s.args.idforge)
    cut = lib.Partition()
    try:
        nodes = ["--nodes", "0-2", "--wait-for-node"]
        services = [cluster_service(s, etcd, "p-0", nodes, prefix=lib.as_user(NOBODY))]  # Holds a node first.
        services += [cluster_service(s, etcd, "p-%d" % i, nodes) for i in (1, 2)]
        services.append(cluster_service(s, etcd, "p-3", nodes, wait_s=0))  # The spare: no node to take yet.
        loads = [lib.Load(svc.port, s.ids_file("p-%d" % i), seed=s.rng.randint(0, 1 << 30))
                 for i, svc in enumerate(services)]
        for cycle in range(2 * s.args.scale):
            time.sleep(1.0)
            if cycle % 2 == 0:
                verdict = s.rng.choice(("drop", "reject"))
                cut.cut(NOBODY, etcd.clients, verdict)
                s.fault("an instance cut from etcd (%s)" % verdict)
                time.sleep(TTL_S + 2)
                fenced = loads[0].ids
                time.sleep(2 * TTL_S - 2)
                if loads[0].ids != fenced:
                    s.problems.append("the instance cut from etcd issued %d IDs past its lease" %
                                      (loads[0].ids - fenced))
            else:
                leader = etcd.leader()
                if leader is None:
                    continue
                cut.isolate(MEMBER_UIDS[leader], etcd.clients[leader])
                s.fault("etcd leader cut from its peers")
                time.sleep(2 * TTL_S)
            cut.heal()
            time.sleep(2 * TTL_S)
            s.cycles += 1
        for svc, load in zip(services, loads):
            s.end(svc, load, LEASE_CODES)
    finally:
        cut.heal()
        s.read_marks(etcd)
        etcd.stop()


SCENARIOS = {f.__name__: f for f in (clock_bumps, clock_strobes, kill_restarts, pauses, persistence, disk_full,
                                     crowd, forks, files_removed, dangling_marks, equivalent_layouts,
                                     crash_loops, cluster_steal, cluster_coordinator_lost, cluster_chaos,
                                     cluster_partition, store_rollback)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idforge", required=True, help="the idforge binary to test")
    parser.add_argument("--long", action="store_true", help="the long form (about 10x the faults)")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="run only these scenarios")
    parser.add_argument("--seed", type=int, default=1, help="the seed of every random choice (Default: 1)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, IDs)")
    args = parser.parse_args()
    if not os.access(args.idforge, os.X_OK):
        parser.error("--idforge %s is not an executable" % args.idforge)
    if not os.path.exists(lib.FAKETIME_LIB):
        parser.error("libfaketime is missing: install Debian's faketime package (scripts/deps.sh --tests)")
    args.idforge = os.path.abspath(args.idforge)
    args.scale = 10 if args.long else 1
    args.work = tempfile.mkdtemp(prefix="idforge-faults-")
    results = []
    try:
        for name in args.only or list(SCENARIOS):
            rng = random.Random("%d/%s" % (args.seed, name))
            s = Scenario(name, args, rng)
            try:
                SCENARIOS[name](s)
            except Exception as e:  # A broken harness step fails its scenario, not the campaign.
                s.problems.append("the scenario stopped: %r" % e)
            results.append(s.result())
            print(json.dumps(results[-1]), file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    faults = {}
    for r in results:
        for kind, n in r["faults"].items():
            faults[kind] = faults.get(kind, 0) + n
    summary = {"seed": args.seed, "form": "long" if args.long else "short",
               "ids": sum(r["ids"] for r in results), "duplicates": sum(r["duplicates"] for r in results),
               "faults": faults, "cycles": sum(r["cycles"] for r in results),
               "skipped": [r["scenario"] for r in results if r["skipped"]],
               "passed": all(r["passed"] for r in results), "scenarios": results}
    print(json.dumps(summary, indent=1))
    skipped = summary["skipped"]
    print("campaign (%s form, seed %d): %d IDs checked, %d faults injected, %d cycles, %d duplicates%s; %s" %
          (summary["form"], args.seed, summary["ids"], sum(faults.values()), summary["cycles"],
           summary["duplicates"], "; skipped: " + ", ".join(skipped) if skipped else "",
           "passed" if summary["passed"] else "FAILED: " + ", ".join(
               r["scenario"] for r in results if not r["passed"])), file=sys.stderr)
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
