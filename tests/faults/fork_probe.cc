// SPDX-License-Identifier: Apache-2.0
// The fork scenario's probe: a process that issues IDs from a generator holding a
// node in a real data directory — from a thread that keeps issuing — while its
// main thread forks children by fork(), _Fork() and a raw clone system call. Each
// child first calls the generator it inherited, which must refuse (lease_lost),
// then takes a node of its own in the same data directory and issues from it.
// Every ID goes to a file under OUT (one per process), for `idforge verify`.
//
//   fork_probe DATA_DIR OUT_PREFIX CHILDREN IDS_PER_CHILD
//
// Exit codes: 0 as described; 3 when an inherited generator issued an ID in a
// child; 1 for any other failure (said on stderr).
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "idforge/file_reservation.h"
#include "idforge/generator.h"
#include "idforge/renewer.h"
#include "support/fork_kinds.h"

namespace {

using namespace idforge;

int fail(const std::string& what) {
  std::fprintf(stderr, "fork_probe: %s\n", what.c_str());
  return 1;
}

// Issues `n` IDs (or until `stop`) from a new generator on a free node, writing them to `path`.
int issue_own(const std::string& dir, const std::string& path, long n) {
  SystemClock clock;
  auto reservation = FileReservation::acquire_any(dir, Layout::twitter(), 0, 1023);
  if (!reservation) return fail(reservation.error().message());
  auto generator = Generator::create({}, clock, **reservation);
  if (!generator) return fail(generator.error().message());
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) return fail("cannot write " + path);
  for (long i = 0; i < n; ++i) {
    Result<std::uint64_t> id = (*generator)->next();
    if (!id) return fail(id.error().message());
    std::fprintf(out, "%llu\n", static_cast<unsigned long long>(*id));
  }
  std::fclose(out);
  Result<void> closed = (*generator)->close();
  return closed ? 0 : fail(closed.error().message());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return fail("usage: fork_probe DATA_DIR OUT_PREFIX CHILDREN IDS_PER_CHILD");
  const std::string dir = argv[1], prefix = argv[2];
  const int children = std::atoi(argv[3]);
  const long per_child = std::atol(argv[4]);

  SystemClock clock;
  auto reservation = FileReservation::acquire_any(dir, Layout::twitter(), 0, 1023);
  if (!reservation) return fail(reservation.error().message());
  auto made = Generator::create({}, clock, **reservation);
  if (!made) return fail(made.error().message());
  Generator& generator = **made;
  Renewer renewer(generator, std::chrono::milliseconds(250));

  std::FILE* out = std::fopen((prefix + "-parent.txt").c_str(), "w");
  if (out == nullptr) return fail("cannot write the parent's IDs");
  std::atomic<bool> stop{false};
  std::thread issuing([&] {
    while (!stop.load()) {
      Result<std::uint64_t> id = generator.next();
      if (id) std::fprintf(out, "%llu\n", static_cast<unsigned long long>(*id));
    }
  });

  int status_all = 0;
  for (int c = 0; c < children; ++c) {
    const testing::ForkKind kind = testing::kForkKinds[c % 3];
    const pid_t pid = testing::fork_by(kind);
    if (pid < 0) return fail("fork failed");
    if (pid == 0) {
      // The child: the inherited generator must refuse, whatever made the child.
      Result<std::uint64_t> inherited = generator.next();
      if (inherited) _exit(3);
      _exit(issue_own(dir, prefix + "-child-" + std::to_string(c) + ".txt", per_child));
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0) {
      std::fprintf(stderr, "fork_probe: child %d (%s) exited %d\n", c, testing::param_name(kind).c_str(), code);
      status_all = code == 3 ? 3 : (status_all == 0 ? 1 : status_all);
    }
  }
  stop.store(true);
  issuing.join();
  std::fclose(out);
  renewer.stop();
  Result<void> closed = generator.close();
  if (!closed) return fail(closed.error().message());
  return status_all;
}
