// SPDX-License-Identifier: Apache-2.0
// What the idforge subcommands share: exit codes, error lines, layout and node
// options, buffered output.
#ifndef IDFORGE_CLI_COMMON_H_
#define IDFORGE_CLI_COMMON_H_

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "idforge/layout.h"
#include "idforge/result.h"

namespace idforge::cli {

// Exit codes, documented in `idforge --help` and the README.
enum ExitCode : int {
  kExitOk = 0,       // Everything asked for was done.
  kExitFailure = 1,  // A failure while working: node held, clock behind, I/O, overload.
  kExitUsage = 2,    // Bad flags or bad input (a malformed ID, layout or count).
};

// A registered subcommand and the function that runs it after parsing.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command add_gen(CLI::App& root);
Command add_decode(CLI::App& root);
Command add_layout(CLI::App& root);
Command add_nodes(CLI::App& root);
Command add_range(CLI::App& root);
Command add_serve(CLI::App& root);
Command add_sql(CLI::App& root);
Command add_verify(CLI::App& root);

// Prints "idforge: <message>" on stderr.
void print_error(std::string_view message);

// Prints the error and returns the exit code its kind maps to.
int fail(const Error& error);

// The same for `idforge serve`, whose every stderr line is JSON: logs
// {"msg":"cannot start","error":…,"code":…} instead (serve.cc).
int fail_to_start(const Error& error);

// This machine's host name, as logs and records name it.
std::string host_name();

// A whole number of plain digits (no sign, no space), or nullopt.
std::optional<std::uint64_t> parse_whole(const std::string& text);

// The data directory every idforge process on a host shares by default: the
// systemd StateDirectory of the packaged service.
inline constexpr const char* kHostDataDir = "/var/lib/idforge";

// The data directory a command uses.
struct DataDir {
  std::string path;
  // Set when the shared default could not be used: one line naming the directory
  // taken instead and the risk.
  std::optional<std::string> warning;
};

// The data directory from --data-dir (`flag`), else IDFORGE_DATA_DIR, else
// kHostDataDir when this user may use it, else a per-user directory with a
// warning. An empty flag or variable is an error, never the working directory.
Result<DataDir> resolve_data_dir(const std::optional<std::string>& flag);

// The help text of --data-dir.
std::string data_dir_option_help();

// From now on SIGTERM, SIGINT and SIGHUP ask the command to stop (stop_signal()
// says which arrived) instead of killing it, and a closed pipe is a write error
// (EPIPE) instead of a silent SIGPIPE death, so the command can write its final
// reservation before it exits.
void stop_on_signals();
// The signal that asked to stop, or 0.
int stop_signal();
// "SIGTERM", "SIGINT", "SIGHUP".
std::string signal_name(int signal);

// Rows of cells as text columns, each as wide as its widest cell, two spaces apart.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

// A node number from --node (`text`): a whole number from 0 to `last`; the error
// names `what` the range belongs to.
Result<std::uint64_t> parse_node(const std::string& text, std::uint64_t last, const std::string& what);

// The node a command is given: --node N (`flag`), or node fields by their layout
// names among `extras`, the arguments CLI11 left ("--worker 5", "--worker=5"), not
// both. nullopt when neither is given. `command` ("gen") names the subcommand
// whose --help errors point to.
Result<std::optional<std::uint64_t>> resolve_node(const Layout& layout, const std::optional<std::string>& flag,
                                                  const std::vector<std::string>& extras, std::string_view command);

// A node range from --nodes (`text`): "FIRST-LAST" within the layout's nodes; an
// empty text is every node of the layout.
Result<std::pair<std::uint64_t, std::uint64_t>> parse_nodes(const std::string& text, const Layout& layout);

// The help text of --layout, shared by every subcommand that takes one.
std::string layout_option_help();

// Buffers standard output and writes it in large blocks. The first failed write
// (a closed pipe, a full disk) is reported once on stderr; from then on the output
// is dropped and failed() is true, so a caller stops at the next check.
class Output {
 public:
  Output();
  ~Output();
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  // Room for at least `n` more bytes; flushes first when needed.
  char* reserve(std::size_t n);
  // Marks `end` (inside the last reserve()) as the new end of the buffered data.
  void commit(char* end) { used_ = static_cast<std::size_t>(end - buffer_.data()); }
  void append(std::string_view text);
  // Writes what is buffered. Returns false (after printing why, once) if stdout failed.
  bool flush();
  // True once a write has failed.
  bool failed() const { return failed_; }

 private:
  std::vector<char> buffer_;
  std::size_t used_ = 0;
  bool failed_ = false;
};

// Reads words separated by white space — or whole lines — from a file
// descriptor, in large blocks. A reader is used for one or the other.
class TokenReader {
 public:
  // `name` names the input in errors ("cannot read <name>: …").
  explicit TokenReader(int fd, std::string name = "standard input");

  // The next word (valid until the next call), or nullopt at the end of the input or
  // on a read error. A word longer than the reader's 1 MiB block is cut there (and
  // its rest skipped), so no input makes it hold more.
  std::optional<std::string_view> next();
  // The next line without its newline (valid until the next call), or nullopt at
  // the end of the input or on a read error. A line longer than the block is cut
  // there, and its rest skipped.
  std::optional<std::string_view> next_line();
  // The line (from 1) the last word or line returned is on.
  std::uint64_t line() const { return returned_line_; }
  // Why reading stopped before the end of the input, if it did.
  const std::optional<std::string>& error() const { return error_; }

 private:
  bool fill();

  int fd_;
  std::string name_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool eof_ = false;
  bool skipping_ = false;
  std::uint64_t line_ = 1;  // The line the reading position is on.
  std::uint64_t returned_line_ = 0;
  std::optional<std::string> error_;
};

}  // namespace idforge::cli

#endif  // IDFORGE_CLI_COMMON_H_
