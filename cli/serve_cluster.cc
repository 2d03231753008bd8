// SPDX-License-Identifier: Apache-2.0
#include "serve_cluster.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common.h"
#include "idforge/time_text.h"
#include "idforge/version.h"
#if IDFORGE_WITH_ETCD
#include "server/etcd_source.h"
#endif

namespace idforge::cli {
#if IDFORGE_WITH_ETCD
namespace {

// The whole of a small file (certificates, keys, a password).
Result<std::string> read_small_file(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Errc::io, std::string("cannot read ") + flag + " file " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > (1 << 20)) return Error(Errc::invalid_argument, std::string(flag) + " file " + path + " is over 1 MiB");
  return text.str();
}

std::vector<std::string> split_urls(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}

}  // namespace
#endif

void add_etcd_flags(CLI::App& app, ClusterFlags& flags) {
  const char* group = "etcd";
  app.add_option("--etcd", flags.etcd,
                 "URL[,URL…] of etcd members (http:// or https://); calls fail over between them. serve: lease "
                 "the node from etcd (cluster mode) instead of the data directory")
      ->envname("IDFORGE_ETCD")
      ->group(group);
  app.add_option("--etcd-prefix", flags.prefix, "Key prefix that the cluster's instances share")
      ->envname("IDFORGE_ETCD_PREFIX")
      ->capture_default_str()
      ->group(group);
  app.add_option("--etcd-cacert", flags.cacert, "PEM file of the CA that signed the etcd members' certificates")
      ->envname("IDFORGE_ETCD_CACERT")
      ->group(group);
  app.add_option("--etcd-cert", flags.cert, "PEM file of this client's certificate, for etcd client-certificate auth")
      ->envname("IDFORGE_ETCD_CERT")
      ->group(group);
  app.add_option("--etcd-key", flags.key, "PEM file of the key of --etcd-cert")->envname("IDFORGE_ETCD_KEY")->group(group);
  app.add_option("--etcd-user", flags.user,
                 "etcd user (username/password auth); the password comes from --etcd-password-file or "
                 "IDFORGE_ETCD_PASSWORD and is never logged")
      ->envname("IDFORGE_ETCD_USER")
      ->group(group);
  app.add_option("--etcd-password-file", flags.password_file, "File whose first line is the etcd user's password")
      ->envname("IDFORGE_ETCD_PASSWORD_FILE")
      ->group(group);
}

void add_space_flags(CLI::App& app, ClusterFlags& flags, bool datacenter_flag) {
  const char* group = "etcd";
  if (datacenter_flag) {
    app.add_option("--datacenter", flags.datacenter,
                   "This instance's datacenter: the ID space under the prefix must be that datacenter's (made with "
                   "'nodes init --datacenter'), so an instance pointed at another datacenter's etcd is refused")
        ->envname("IDFORGE_DATACENTER")
        ->group(group);
  } else if (const char* datacenter = std::getenv("IDFORGE_DATACENTER")) {
    flags.datacenter = datacenter;
  }
  app.add_flag("--create-space", flags.create_space,
               "Make the ID space, as 'idforge nodes init' would, when the prefix has none (and neither this process "
               "nor this host used one there): for demos and first deploys")
      ->envname("IDFORGE_CREATE_SPACE")
      ->group(group);
}

void add_cluster_flags(CLI::App& app, ClusterFlags& flags) {
  add_etcd_flags(app, flags);
  add_space_flags(app, flags);
  const char* group = "etcd";
  app.add_option("--lease-ttl-s", flags.lease_ttl_s,
                 "etcd lease TTL: a dead instance's node is free again this long after it stopped answering")
      ->envname("IDFORGE_LEASE_TTL_S")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{5}, std::int64_t{300}))
      ->group(group);
  app.add_flag("--wait-for-node", flags.wait_for_node,
               "When every node is held (or the store does not answer) at start, wait for one instead of failing")
      ->envname("IDFORGE_WAIT_FOR_NODE");
}

#if IDFORGE_WITH_ETCD
Result<EtcdOptions> etcd_options_from(const ClusterFlags& flags) {
  EtcdOptions options;
  options.endpoints = split_urls(flags.etcd);
  for (auto [path, flag, out] : {std::tuple{&flags.cacert, "--etcd-cacert", &options.ca_cert_pem},
                                 std::tuple{&flags.cert, "--etcd-cert", &options.cert_pem},
                                 std::tuple{&flags.key, "--etcd-key", &options.key_pem}}) {
    if (path->empty()) continue;
    Result<std::string> text = read_small_file(*path, flag);
    if (!text) return text.error();
    *out = std::move(*text);
  }
  options.user = flags.user;
  if (!flags.user.empty()) {
    if (!flags.password_file.empty()) {
      Result<std::string> text = read_small_file(flags.password_file, "--etcd-password-file");
      if (!text) return text.error();
      options.password = text->substr(0, text->find_first_of("\r\n"));
    } else if (const char* env = std::getenv("IDFORGE_ETCD_PASSWORD"); env != nullptr) {
      options.password = env;
    } else {
      return Error(Errc::invalid_argument, "--etcd-user '" + flags.user + "' needs a password: give "
                                           "--etcd-password-file FILE or set IDFORGE_ETCD_PASSWORD");
    }
  } else if (!flags.password_file.empty()) {
    return Error(Errc::invalid_argument, "--etcd-password-file needs --etcd-user");
  }
  return options;
}

Result<std::shared_ptr<EtcdClient>> connect_etcd(const ClusterFlags& flags, const std::string& endpoints) {
  Result<EtcdOptions> etcd = etcd_options_from(flags);
  if (!etcd) return etcd.error();
  if (!endpoints.empty()) etcd->endpoints = split_urls(endpoints);
  route_grpc_log([](std::string_view) {});
  return EtcdClient::connect(*etcd);
}
#endif

Result<std::unique_ptr<detail::NodeSource>> etcd_source_from(const ClusterFlags& flags, const Instance& instance,
                                                             Clock& clock) {
#if IDFORGE_WITH_ETCD
  detail::EtcdSourceOptions options;
  Result<EtcdOptions> etcd = etcd_options_from(flags);
  if (!etcd) return etcd.error();
  options.etcd = std::move(*etcd);
  options.prefix = flags.prefix;
  options.lease_ttl_s = flags.lease_ttl_s;
  options.layout = instance.layout;
  options.node = instance.node;
  options.nodes = instance.nodes;
  options.datacenter = flags.datacenter;
  options.create_space = flags.create_space;
  options.host_dir = instance.host_dir;
  options.holder = nlohmann::json{{"host", host_name()},
                                  {"pid", ::getpid()},
                                  {"listen", instance.listen},
                                  {"since", format_utc_ms(clock.wall_ns() / 1'000'000)},
                                  {"layout", instance.layout.spec()},
                                  {"version", IDFORGE_VERSION}}
                       .dump();
  return detail::etcd_source(std::move(options), clock);
#else
  (void)flags;
  (void)instance;
  (void)clock;
  return Error(Errc::invalid_argument, "this idforge was built without cluster mode (IDFORGE_WITH_ETCD=OFF); "
                                       "rebuild with it to use --etcd");
#endif
}

}  // namespace idforge::cli
