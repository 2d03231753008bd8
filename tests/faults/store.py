# SPDX-License-Identifier: Apache-2.0
"""The store forgets (scenario 14): etcd restored from a snapshot taken while IDs
were being issued — with the old instances stopped and with them running, with a
new cluster token and the same one — and etcd wiped and made again on the same
URLs while an instance whose clock runs ahead is killed. Every instance's clock
is within the peer-skew bound of the others', ahead or behind.

Pass: no ID twice; every instance that could repeat an ID refuses (at start, or
503 store_refused) until `idforge nodes recover`; after it, every instance issues
again, on its own."""

import http.client
import json
import os
import signal
import subprocess
import time

import lib

TTL_S = 5
# The answers of an instance whose store went back, whose lease went with it, or
# whose clock is behind the raised marks.
REFUSED = {"store_refused", "lease_lost", "unavailable", "clock_regressed", "overloaded"}


def ready_code(port):
    """The code /readyz answers with ("" when ready, None when nothing answers)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/readyz")
        reply = conn.getresponse()
        body = reply.read()
        conn.close()
        return "" if reply.status == 200 else json.loads(body).get("code")
    except (OSError, http.client.HTTPException, ValueError):
        return None


def info(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/v1/info")
    answer = json.loads(conn.getresponse().read())
    conn.close()
    return answer


class Fleet:
    """The instances of one case: each on a host (a data directory) of its own,
    with its own clock offset, under load that records every ID."""

    def __init__(self, s, etcd):
        self.s, self.etcd = s, etcd
        self.running = []  # (label, service, load)

    def start(self, host, label, offset_ms=0, args=(), load=True):
        clock = lib.FakeClock(os.path.join(self.s.dir, "clock-%s" % label))
        clock.set_ms(offset_ms)
        svc = lib.Service(self.s.args.idforge, os.path.join(self.s.dir, host),
                          os.path.join(self.s.dir, "serve-%s.log" % label),
                          ["--etcd", self.etcd.urls(), "--lease-ttl-s", str(TTL_S)] + list(args), clock.env())
        if not svc.wait_listening():
            self.s.problems.append("instance %s did not start; see %s" % (label, svc.log_path))
        ids = lib.Load(svc.port, self.s.ids_file(label), seed=self.s.rng.randint(0, 1 << 30)) if load else None
        self.running.append((label, svc, ids))
        return svc

    def refused_at_start(self, host, label, offset_ms, says):
        """An instance started now must refuse to start, saying `says`."""
        clock = lib.FakeClock(os.path.join(self.s.dir, "clock-%s" % label))
        clock.set_ms(offset_ms)
        svc = lib.Service(self.s.args.idforge, os.path.join(self.s.dir, host),
                          os.path.join(self.s.dir, "serve-%s.log" % label),
                          ["--etcd", self.etcd.urls(), "--lease-ttl-s", str(TTL_S)], clock.env())
        try:
            code = svc.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = svc.stop(signal.SIGKILL)
            self.s.problems.append("instance %s started on a store that forgot; see %s" % (label, svc.log_path))
        svc.log.close()
        with open(svc.log_path) as f:
            log = f.read()
        if code != 1 or says not in log:
            self.s.problems.append("instance %s exited %s without refusing '%s'; see %s" %
                                   (label, code, says, svc.log_path))
        self.s.fault("a new instance refused at start")

    def wait_for(self, code, guard_s, failing):
        """Every running instance must answer /readyz with `code` ("" for ready) within `guard_s`."""
        deadline = time.monotonic() + guard_s
        for label, svc, _ in self.running:
            while ready_code(svc.port) != code:
                if time.monotonic() > deadline:
                    self.s.problems.append("instance %s %s (readyz %r); see %s" %
                                           (label, failing, ready_code(svc.port), svc.log_path))
                    break
                time.sleep(0.1)

    def wait_refusing(self, guard_s):
        self.wait_for("store_refused", guard_s, "never refused the store that forgot")

    def wait_ready(self, guard_s):
        self.wait_for("", guard_s, "did not issue again after the recovery")

    def stop(self, sig=signal.SIGTERM):
        for label, svc, load in self.running:
            if load is not None:
                load.stop()
                self.s.judge_refusals(load, REFUSED)
            svc.stop(sig)
        self.running = []

    def recover(self, *args):
        run = subprocess.run([self.s.args.idforge, "nodes", "recover", "--etcd", self.etcd.urls()] + list(args),
                             capture_output=True, text=True)
        if run.returncode != 0:
            self.s.problems.append("idforge nodes recover failed: " + run.stderr.strip())
        self.s.fault("nodes recover")


def restored_under_stopped_instances(s, etcd, cycle):
    """A snapshot taken under load, IDs issued past it, the instances stopped, etcd
    restored: new instances with their clocks behind must refuse until recovered."""
    fleet = Fleet(s, etcd)
    for h in ("a", "b"):
        fleet.start("host-%s" % h, "%s-%d" % (h, cycle), s.rng.randint(-3000, 3000))
    time.sleep(s.rng.uniform(0.5, 1.5))
    snapshot = os.path.join(s.dir, "snapshot-%d.db" % cycle)
    etcd.snapshot(snapshot)
    time.sleep(s.rng.uniform(2.0, 3.0))  # Marks raised past the snapshot, and seen by the hosts.
    fleet.stop()
    new_token = s.rng.random() < 0.5
    etcd.restore(snapshot, new_token)
    s.fault("etcd restored (%s), the instances stopped" % ("a new token" if new_token else "the same token"))
    behind = -s.rng.randint(1000, 8000)
    if new_token:
        # A host that never saw the store: the cluster ID tells.
        fleet.refused_at_start("host-new-%d" % cycle, "new-%d" % cycle, behind, "was made on etcd cluster")
    # A host that saw it: its own record tells (and, with a new token, the cluster ID).
    fleet.refused_at_start("host-a", "again-%d" % cycle, behind,
                           "was made on etcd cluster" if new_token else "went back")
    fleet.recover()
    for h in ("a", "b"):
        fleet.start("host-%s" % h, "%s-after-%d" % (h, cycle), behind, ["--max-lead-ms", "60000"])
    time.sleep(1.5)
    fleet.stop()


def restored_under_running_instances(s, etcd, cycle):
    """etcd restored while its instances run: they must stop issuing (store_refused)
    and go on by themselves once the space is recovered."""
    fleet = Fleet(s, etcd)
    for h in ("c", "d"):
        fleet.start("host-%s" % h, "%s-%d" % (h, cycle), s.rng.randint(-3000, 3000), ["--max-lead-ms", "20000"])
    time.sleep(s.rng.uniform(0.5, 1.5))
    snapshot = os.path.join(s.dir, "snapshot-run-%d.db" % cycle)
    etcd.snapshot(snapshot)
    time.sleep(s.rng.uniform(1.0, 2.0))
    new_token = s.rng.random() < 0.5
    etcd.restore(snapshot, new_token)
    s.fault("etcd restored (%s) under running instances" % ("a new token" if new_token else "the same token"))
    fleet.wait_refusing(3 * TTL_S + 10)
    fleet.recover()
    fleet.wait_ready(4 * TTL_S + 15)
    time.sleep(1.5)
    fleet.stop()


def wiped_with_a_clock_ahead(s, etcd, cycle):
    """etcd wiped and made again while an instance whose clock is ahead is killed:
    the survivor refuses; after the recovery nobody repeats the dead one's future."""
    fleet = Fleet(s, etcd)
    ahead_ms = s.rng.randint(1000, 9000)
    node = 10 + 2 * cycle
    fleet.start("host-e", "ahead-%d" % cycle, ahead_ms, ["--node", str(node)])
    survivor = fleet.start("host-f", "survivor-%d" % cycle, 0, ["--node", str(node + 1)])
    space = info(survivor.port)["coordination"]["space"]["id"]
    time.sleep(s.rng.uniform(1.0, 2.0))
    label, dead, load = fleet.running.pop(0)
    dead.stop(signal.SIGKILL)
    load.stop()
    s.judge_refusals(load, REFUSED)
    s.fault("an instance %d ms ahead killed" % ahead_ms)
    etcd.wipe()
    s.fault("etcd wiped and made again")
    fleet.wait_refusing(3 * TTL_S + 10)
    fleet.refused_at_start("host-e", "ahead-again-%d" % cycle, 0, "is gone from etcd")
    fleet.recover("--space-id", space)
    fleet.wait_ready(4 * TTL_S + 15)
    # The dead instance's node, taken by a newcomer with a true clock.
    fleet.start("host-g", "successor-%d" % cycle, 0, ["--node", str(node), "--max-lead-ms", "60000"])
    time.sleep(1.5)
    fleet.stop()


def store_rollback(s):
    etcd = lib.Etcd(s.dir, idforge=s.args.idforge)
    try:
        for cycle in range(s.args.scale):
            for case in (restored_under_stopped_instances, restored_under_running_instances, wiped_with_a_clock_ahead):
                case(s, etcd, cycle)
                s.cycles += 1
    finally:
        s.read_marks(etcd)
        etcd.stop()
