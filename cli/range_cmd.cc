// SPDX-License-Identifier: Apache-2.0
// idforge range: the smallest and largest ID of a span of time, for time-range
// queries and pagination (WHERE id BETWEEN min AND max).
#include <nlohmann/json.hpp>

#include "common.h"
#include "server/api.h"

namespace idforge::cli {
namespace {

struct RangeOptions {
  std::string layout = "twitter";
  std::string from;
  std::string to;  // Empty: the same instant as `from`.
  bool json = false;
};

int run_range(const RangeOptions& options) {
  Result<Layout> layout = Layout::parse(options.layout);
  if (!layout) return fail(layout.error());
  const std::optional<std::string_view> to =
      options.to.empty() ? std::nullopt : std::optional<std::string_view>(options.to);
  Result<nlohmann::ordered_json> range = detail::range_json(*layout, options.from, to);
  if (!range) return fail(range.error());
  Output out;
  if (options.json) {
    out.append(range->dump() + "\n");
  } else {
    for (const char* key : {"from", "to", "min_id", "max_id"}) {
      const std::string name(key);
      out.append(name + std::string(8 - name.size(), ' ') + (*range)[name].get<std::string>() + "\n");
    }
  }
  return out.flush() ? kExitOk : kExitFailure;
}

}  // namespace

Command add_range(CLI::App& root) {
  auto options = std::make_shared<RangeOptions>();
  CLI::App* app = root.add_subcommand("range", "The smallest and largest ID of a span of time");
  app->description(
      "The smallest and largest ID a layout can stamp from FROM to TO (inclusive; TO\n"
      "defaults to FROM): every ID made in that span lies between them, whatever its\n"
      "node, so a time-range query on an ID column is one index range. Instants are\n"
      "Unix milliseconds or UTC dates: 2024-01-01, 2024-01-01T12:00:00Z,\n"
      "2024-01-01T12:00:00.000Z.\n\n"
      "  idforge range 2024-01-01 2024-01-31T23:59:59.999Z\n"
      "  SELECT * FROM events WHERE id BETWEEN <min_id> AND <max_id>;\n");
  app->add_option("from", options->from, "The first instant")->required();
  app->add_option("to", options->to, "The last instant (Default: FROM)");
  app->add_option("--layout", options->layout, layout_option_help())->capture_default_str();
  app->add_flag("--json", options->json, "One JSON object: layout, from, to, min_id, max_id (IDs as strings)");
  app->footer("Exit codes: 0 printed; 1 failure writing output; 2 bad flags, a bad instant, or a span outside the "
              "layout's lifetime.");
  return {app, [options] { return run_range(*options); }};
}

}  // namespace idforge::cli
