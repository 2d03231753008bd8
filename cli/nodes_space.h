// SPDX-License-Identifier: Apache-2.0
// idforge nodes init and idforge nodes recover: an ID space is made once, on
// purpose, and made usable again on purpose after its store went back in time.
#ifndef IDFORGE_CLI_NODES_SPACE_H_
#define IDFORGE_CLI_NODES_SPACE_H_

#include <CLI/CLI.hpp>

#include <functional>
#include <nlohmann/json.hpp>

#if IDFORGE_WITH_ETCD
#include "idforge/etcd_space.h"
#endif

namespace idforge::cli {

// The registry's key prefix unless --registry-prefix says otherwise.
inline constexpr const char* kDefaultRegistryPrefix = "/idforge-registry";

struct SpaceCommands {
  CLI::App* init;
  CLI::App* recover;
  std::function<int()> run_init;
  std::function<int()> run_recover;
};

// Registers `init` and `recover` under `nodes`.
SpaceCommands add_space_commands(CLI::App& nodes);

#if IDFORGE_WITH_ETCD
// A space's record as the commands print it with --json.
nlohmann::ordered_json space_json(const EtcdSpaceRecord& r);
#endif

}  // namespace idforge::cli

#endif  // IDFORGE_CLI_NODES_SPACE_H_
