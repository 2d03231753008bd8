// SPDX-License-Identifier: Apache-2.0
// The datacenter registry (etcd_space.h): one key in a global etcd,
//
//   <prefix>/datacenters   "idforge-registry 1", "geometry G", and one line per datacenter:
//                          "dc NAME FIRST-LAST SPACE PREFIX CREATED ENDPOINTS"
//
// changed only by a compare-and-swap on its revision, so two datacenters claimed
// at once cannot both pass the overlap check.
#include <algorithm>

#include "idforge/etcd_space.h"
#include "idforge/time_text.h"
#include "lease/etcd/client.h"
#include "lease/etcd/txn.h"

namespace idforge {
namespace {

using detail::cat;

constexpr std::string_view kRegistryMagic = "idforge-registry 1";

std::string registry_key(const std::string& prefix) { return prefix + "/datacenters"; }

std::string registry_text(const Registry& r) {
  std::string out = cat(kRegistryMagic, "\ngeometry ", r.geometry, "\n");
  for (const RegistryEntry& e : r.datacenters) {
    out += cat("dc ", e.datacenter, " ", e.first_node, "-", e.last_node, " ", e.space_id, " ", e.prefix, " ",
               format_utc_ms(e.created_unix_ms), " ", e.endpoints, "\n");
  }
  return out;
}

Result<Registry> parse_registry(std::string_view text, const std::string& key) {
  const auto damaged = [&key](std::size_t line) {
    return Error(Errc::io, cat("the datacenter registry ", key, " is damaged (line ", line, "); repair it with etcdctl "
                               "from the datacenters' own spaces ('idforge nodes' in each)"));
  };
  Registry r;
  std::size_t line = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return damaged(line + 1);
    const std::string_view l = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    ++line;
    if (line == 1) {
      if (l != kRegistryMagic) return damaged(line);
      continue;
    }
    if (line == 2) {
      if (!l.starts_with("geometry ")) return damaged(line);
      r.geometry = std::string(l.substr(9));
      continue;
    }
    std::vector<std::string_view> f;
    for (std::string_view rest = l; !rest.empty();) {
      const std::size_t sp = rest.find(' ');
      f.push_back(rest.substr(0, sp));
      rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp + 1);
    }
    if (f.size() != 7 || f[0] != "dc") return damaged(line);
    RegistryEntry e;
    e.datacenter = std::string(f[1]);
    const auto nodes = detail::parse_node_range(f[2]);
    Result<std::int64_t> created = parse_utc_ms(f[5]);
    if (!nodes || !created) return damaged(line);
    e.first_node = nodes->first;
    e.last_node = nodes->second;
    e.space_id = std::string(f[3]);
    e.prefix = std::string(f[4]);
    e.created_unix_ms = *created;
    e.endpoints = std::string(f[6]);
    r.datacenters.push_back(std::move(e));
  }
  if (line < 2) return damaged(line + 1);
  return r;
}

struct Read {
  Registry registry;
  std::int64_t mod_revision = 0;  // 0: no registry yet.
};

Result<Read> read(EtcdClient& client, const std::string& prefix) {
  if (Result<void> valid = check_etcd_prefix(prefix); !valid) return valid.error();
  EtcdClient::Impl& etcd = client.impl();
  etcdserverpb::RangeRequest request;
  request.set_key(registry_key(prefix));
  Result<etcdserverpb::RangeResponse> answer = etcd.range(request, etcd.default_deadline());
  if (!answer) return answer.error();
  Read out;
  if (answer->kvs_size() == 0) return out;
  Result<Registry> parsed = parse_registry(answer->kvs(0).value(), registry_key(prefix));
  if (!parsed) return parsed.error();
  out.registry = std::move(*parsed);
  out.mod_revision = answer->kvs(0).mod_revision();
  return out;
}

}  // namespace

Result<Registry> read_registry(EtcdClient& registry, const std::string& prefix) {
  Result<Read> r = read(registry, prefix);
  if (!r) return r.error();
  return std::move(r->registry);
}

Result<void> check_registry(const Registry& registry, const std::string& geometry, const RegistryEntry& entry) {
  if (!registry.geometry.empty() && registry.geometry != geometry) {
    return Error(Errc::invalid_argument,
                 cat("the registry's datacenters use geometry ", registry.geometry, ", not ", geometry,
                     ": datacenters of one registry share one ID space, and two geometries would put their IDs in "
                     "overlapping bit positions whatever their node ranges"));
  }
  for (const RegistryEntry& e : registry.datacenters) {
    if (e.datacenter == entry.datacenter) {
      return Error(Errc::invalid_argument,
                   cat("datacenter ", entry.datacenter, " is registered already (nodes ", e.first_node, "-", e.last_node,
                       ", space ", e.space_id, " under ", e.prefix, " at ", e.endpoints, "); a datacenter is made once"));
    }
    if (entry.first_node <= e.last_node && e.first_node <= entry.last_node) {
      return Error(Errc::invalid_argument,
                   cat("nodes ", entry.first_node, "-", entry.last_node, " overlap datacenter ", e.datacenter,
                       "'s nodes ", e.first_node, "-", e.last_node, " (space ", e.space_id, " at ", e.endpoints,
                       "): two datacenters leasing one node would repeat each other's IDs. Give --nodes a range no "
                       "other datacenter has ('idforge nodes --registry …' lists them)"));
    }
  }
  return {};
}

Result<void> claim_in_registry(EtcdClient& registry, const std::string& prefix, const std::string& geometry,
                               const RegistryEntry& entry) {
  EtcdClient::Impl& etcd = registry.impl();
  for (int attempt = 0; attempt < 5; ++attempt) {
    Result<Read> r = read(registry, prefix);
    if (!r) return r.error();
    if (Result<void> free = check_registry(r->registry, geometry, entry); !free) return free;
    Registry next = r->registry;
    next.geometry = geometry;
    next.datacenters.push_back(entry);
    std::sort(next.datacenters.begin(), next.datacenters.end(),
              [](const RegistryEntry& a, const RegistryEntry& b) { return a.first_node < b.first_node; });
    etcdserverpb::TxnRequest txn;
    if (r->mod_revision == 0) {
      detail::compare_absent(txn, registry_key(prefix));
    } else {
      detail::compare_mod_revision(txn, registry_key(prefix), r->mod_revision);
    }
    detail::put(txn.mutable_success(), registry_key(prefix), registry_text(next));
    Result<etcdserverpb::TxnResponse> answer = etcd.txn(txn, etcd.default_deadline());
    if (!answer) return answer.error();
    if (answer->succeeded()) return {};
    // Another datacenter was claimed meanwhile: look again.
  }
  return Error(Errc::unavailable, "the datacenter registry kept changing while this one was claimed; try again");
}

}  // namespace idforge
