// SPDX-License-Identifier: Apache-2.0
// idforge: generate, decode and plan unique IDs.
#include <cstdio>
#include <string>

#include "common.h"
#include "idforge/version.h"

int main(int argc, char** argv) {
  using namespace idforge::cli;
  CLI::App app("idforge " IDFORGE_VERSION " - unique IDs for distributed systems", "idforge");
  app.set_version_flag("--version", "idforge " IDFORGE_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Run 'idforge COMMAND --help' for a command's options.\n"
      "Exit codes: 0 success; 1 failure while working (node held, clock behind, I/O,\n"
      "overload); 2 bad flags or bad input.");
  const Command commands[] = {add_gen(app), add_decode(app), add_layout(app), add_nodes(app), add_range(app), add_serve(app), add_sql(app), add_verify(app)};
  const std::string first = argc > 1 ? argv[1] : "";
  if (!first.empty() && first[0] == '-' && first != "-h" && first != "--help" && first != "--version") {
    print_error("unknown option '" + first + "': options follow the command, as in 'idforge gen -n 3'; see "
                "'idforge --help'");
    return kExitUsage;
  }
  if (first.empty() || first[0] != '-') {
    bool known = false;
    for (const Command& c : commands) known |= c.app->get_name() == first;
    if (!known) {
      print_error(first.empty() ? "a command is required: gen, decode, layout, nodes, range, serve, sql or verify; see 'idforge --help'"
                                : "unknown command '" + first +
                                      "': use gen, decode, layout, nodes, range, serve, sql or verify; see 'idforge --help'");
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string command = "idforge";
    for (const Command& c : commands) {
      if (c.app->parsed()) command += " " + c.app->get_name();
    }
    const std::string message = std::string(e.what()) + "; see '" + command + " --help'";
    // The service speaks JSON lines on stderr from its first word to its last.
    if (command == "idforge serve") return fail_to_start(idforge::Error(idforge::Errc::invalid_argument, message));
    print_error(message);
    return kExitUsage;
  }
  for (const Command& c : commands) {
    if (c.app->parsed()) return c.run();
  }
  return kExitUsage;
}
