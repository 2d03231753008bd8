// SPDX-License-Identifier: Apache-2.0
// NodeSource: where `idforge serve` takes its node and flake-128 worker from —
// the data directory on one host (FileSource) or etcd (EtcdSource, cluster mode).
//
// A NodeHold is one node and one worker, taken together. A hold from files lasts
// until released; a hold from etcd lapses with its lease, and the service then
// takes a new one through the source (possibly another node), never resuming
// the old.
//
// Thread safety: take() is called from one thread at a time; a hold's methods
// from any thread except where noted.
#ifndef IDFORGE_SERVER_NODE_SOURCE_H_
#define IDFORGE_SERVER_NODE_SOURCE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "idforge/layout.h"
#include "idforge/reservation.h"
#include "server/buffer.h"

namespace idforge::detail {

class NodeHold {
 public:
  virtual ~NodeHold() = default;

  // The Snowflake node's and the flake-128 worker's reservations.
  virtual Reservation& node() = 0;
  virtual Reservation& worker() = 0;
  // What taking them found worth telling an operator.
  virtual std::vector<std::string> notes() const = 0;
  // Where the node's mark is kept: a file's path, an etcd key.
  virtual std::string mark() const = 0;
  // True once the hold has lapsed by itself (its lease lost); the source can take another.
  virtual bool lapsed() { return false; }
  // Why it lapsed, once it did.
  virtual std::optional<Error> lapse_error() { return std::nullopt; }
  // The hold's part of /v1/info's "coordination" object.
  virtual nlohmann::ordered_json info() = 0;
  // Called once both generators are closed: gives up what is left (an etcd lease
  // is revoked). REQUIRES: called once, from one thread.
  virtual Result<void> end() { return {}; }
};

// Another instance, where its HTTP API listens (for comparing clocks).
struct Peer {
  std::string host;
  std::uint16_t port = 0;  // 0: it listens on a port it did not record; not asked.
};

class NodeSource {
 public:
  virtual ~NodeSource() = default;

  // "files" or "etcd".
  virtual std::string name() const = 0;
  // Takes a node (the one configured, or the lowest free one of the range) and a
  // flake-128 worker. Fails with unavailable when every node is held or the store
  // does not answer, io or invalid_argument as the store says.
  virtual Result<std::unique_ptr<NodeHold>> take() = 0;
  // Whether a lapsed hold can be replaced by take() while the service runs.
  virtual bool retakes() const = 0;
  // The source's own families in Prometheus text (etcd: keepalives, errors,
  // lease losses); `hold` is the current one.
  virtual void render_metrics(Buffer& out, NodeHold& hold) const {
    (void)out;
    (void)hold;
  }
  // Counts a hold taken to replace one that lapsed.
  virtual void count_retake() {}
  // The other instances that hold nodes from this source now (etcd: from their
  // holder records; files: none). Thread-safe.
  virtual Result<std::vector<Peer>> peers() const { return std::vector<Peer>(); }
  // Why the source refuses its store (etcd: the ID space missing, foreign or gone
  // back in time), while it does; the service is not ready then. Thread-safe.
  virtual std::optional<Error> refusal() const { return std::nullopt; }
};

// Which node to take, in the layout's numbering.
struct NodeChoice {
  std::optional<std::uint64_t> node;  // This node; nullopt: the lowest free one in [first, last].
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

// A hold's notes: the node's, then the flake-128 worker's, each marked as such.
inline std::vector<std::string> hold_notes(std::vector<std::string> node, const std::vector<std::string>& worker) {
  for (const std::string& note : worker) node.push_back("flake-128 workers: " + note);
  return node;
}

// flake-128 workers picked automatically come from 0 .. kAutoWorkers - 1.
inline constexpr std::uint64_t kAutoWorkers = 1024;

// Nodes held through lock and mark files in `data_dir` (FileReservation).
std::unique_ptr<NodeSource> file_source(std::filesystem::path data_dir, Layout layout, NodeChoice choice);

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_NODE_SOURCE_H_
