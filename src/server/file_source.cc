// SPDX-License-Identifier: Apache-2.0
#include "idforge/file_reservation.h"
#include "server/node_source.h"

namespace idforge::detail {
namespace {

class FileHold final : public NodeHold {
 public:
  FileHold(std::unique_ptr<FileReservation> node, std::unique_ptr<FileReservation> worker, std::string data_dir)
      : node_(std::move(node)), worker_(std::move(worker)), data_dir_(std::move(data_dir)) {}

  Reservation& node() override { return *node_; }
  Reservation& worker() override { return *worker_; }
  std::vector<std::string> notes() const override { return hold_notes(node_->notes(), worker_->notes()); }
  std::string mark() const override { return node_->mark_path().string(); }
  nlohmann::ordered_json info() override {
    return {{"source", "files"}, {"data_dir", data_dir_}, {"mark", mark()}};
  }

 private:
  std::unique_ptr<FileReservation> node_;
  std::unique_ptr<FileReservation> worker_;
  std::string data_dir_;
};

class FileSource final : public NodeSource {
 public:
  FileSource(std::filesystem::path data_dir, Layout layout, NodeChoice choice)
      : data_dir_(std::move(data_dir)), layout_(std::move(layout)), choice_(choice) {}

  std::string name() const override { return "files"; }
  bool retakes() const override { return false; }

  Result<std::unique_ptr<NodeHold>> take() override {
    auto node = choice_.node ? FileReservation::acquire(data_dir_, layout_, *choice_.node)
                             : FileReservation::acquire_any(data_dir_, layout_, choice_.first, choice_.last);
    if (!node) return node.error();
    auto worker = FileReservation::acquire_any(data_dir_, NodeSpace::flake128(), 0, kAutoWorkers - 1);
    if (!worker) return worker.error();
    return std::unique_ptr<NodeHold>(new FileHold(std::move(*node), std::move(*worker), data_dir_.string()));
  }

 private:
  std::filesystem::path data_dir_;
  Layout layout_;
  NodeChoice choice_;
};

}  // namespace

std::unique_ptr<NodeSource> file_source(std::filesystem::path data_dir, Layout layout, NodeChoice choice) {
  return std::make_unique<FileSource>(std::move(data_dir), std::move(layout), choice);
}

}  // namespace idforge::detail
