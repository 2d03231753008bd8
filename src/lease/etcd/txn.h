// SPDX-License-Identifier: Apache-2.0
// Private: the pieces idforge's etcd transactions are built from, and the keys
// they name (docs/cluster.md, "What is in etcd").
#ifndef IDFORGE_LEASE_ETCD_TXN_H_
#define IDFORGE_LEASE_ETCD_TXN_H_

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/text.h"
#include "lease/etcd/rpc.pb.h"

namespace idforge::detail {

using Ops = google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>;

// <prefix>/space: the ID space's record (EtcdSpaceRecord).
inline std::string space_key(const std::string& prefix) { return prefix + "/space"; }
// <prefix>/geometry: what instances before ID spaces recorded (read by `nodes init`).
inline std::string legacy_geometry_key(const std::string& prefix) { return prefix + "/geometry"; }
// <prefix>/<space>/<holder|mark>/<N>.
inline std::string node_key(const std::string& prefix, const std::string& space, const char* kind, std::uint64_t node) {
  return cat(prefix, "/", space, "/", kind, "/", node);
}
inline std::string node_keys(const std::string& prefix, const std::string& space, const char* kind) {
  return cat(prefix, "/", space, "/", kind, "/");
}

// The endpoints as one --etcd value, for messages.
inline std::string joined_endpoints(const std::vector<std::string>& urls) {
  std::string out;
  for (const std::string& url : urls) out += (out.empty() ? "" : ",") + url;
  return out;
}

// The command that makes a refused space usable again, with `more` flags.
inline std::string recover_command(const std::string& endpoints, const std::string& prefix,
                                   const std::string& more = "[--issued-until TIME]") {
  return cat("idforge nodes recover --etcd ", endpoints, " --etcd-prefix ", prefix, " ", more);
}

// The end of the range of every key that starts with `prefix`.
inline std::string prefix_end(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return std::string(1, '\0');
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

// A mark's stamp (a decimal int64, no sign), or nullopt when the text is not one.
inline std::optional<std::int64_t> parse_stamp(std::string_view text) {
  std::int64_t value = 0;
  if (text.empty() || text.front() == '+') return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "FIRST-LAST" as the records write a node range, or nullopt.
inline std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_node_range(std::string_view text) {
  const std::size_t dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::optional<std::uint64_t> first = parse_digits(text.substr(0, dash));
  const std::optional<std::uint64_t> last = parse_digits(text.substr(dash + 1));
  if (!first.has_value() || !last.has_value() || *first > *last) return std::nullopt;
  return std::pair{*first, *last};
}

inline void compare_absent(etcdserverpb::TxnRequest& txn, const std::string& key) {
  etcdserverpb::Compare* c = txn.add_compare();
  c->set_target(etcdserverpb::Compare::CREATE);
  c->set_result(etcdserverpb::Compare::EQUAL);
  c->set_key(key);
  c->set_create_revision(0);
}

inline void compare_lease(etcdserverpb::TxnRequest& txn, const std::string& key, std::int64_t lease) {
  etcdserverpb::Compare* c = txn.add_compare();
  c->set_target(etcdserverpb::Compare::LEASE);
  c->set_result(etcdserverpb::Compare::EQUAL);
  c->set_key(key);
  c->set_lease(lease);
}

inline void compare_value(etcdserverpb::TxnRequest& txn, const std::string& key, const std::string& value) {
  etcdserverpb::Compare* c = txn.add_compare();
  c->set_target(etcdserverpb::Compare::VALUE);
  c->set_result(etcdserverpb::Compare::EQUAL);
  c->set_key(key);
  c->set_value(value);
}

inline void compare_mod_revision(etcdserverpb::TxnRequest& txn, const std::string& key, std::int64_t revision) {
  etcdserverpb::Compare* c = txn.add_compare();
  c->set_target(etcdserverpb::Compare::MOD);
  c->set_result(etcdserverpb::Compare::EQUAL);
  c->set_key(key);
  c->set_mod_revision(revision);
}

inline void put(Ops* ops, const std::string& key, const std::string& value, std::int64_t lease = 0) {
  auto* p = ops->Add()->mutable_request_put();
  p->set_key(key);
  p->set_value(value);
  p->set_lease(lease);
}

inline void get(Ops* ops, const std::string& key) { ops->Add()->mutable_request_range()->set_key(key); }

inline void erase(Ops* ops, const std::string& key) { ops->Add()->mutable_request_delete_range()->set_key(key); }

// The key-value that the range at `index` of a transaction's answer found, or nullptr.
inline const etcdserverpb::KeyValue* found(const etcdserverpb::TxnResponse& answer, int index) {
  if (index >= answer.responses_size()) return nullptr;
  const etcdserverpb::ResponseOp& op = answer.responses(index);
  if (!op.has_response_range() || op.response_range().kvs_size() == 0) return nullptr;
  return &op.response_range().kvs(0);
}

// Puts at most this many keys per transaction (etcd refuses more than 128 operations).
inline constexpr int kOpsPerTxn = 100;

}  // namespace idforge::detail

#endif  // IDFORGE_LEASE_ETCD_TXN_H_
