// SPDX-License-Identifier: Apache-2.0
#include "common.h"

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace idforge::cli {

void print_error(std::string_view message) {
  std::fprintf(stderr, "idforge: %.*s\n", static_cast<int>(message.size()), message.data());
}

int fail(const Error& error) {
  print_error(error.message());
  return error.code() == Errc::invalid_argument ? kExitUsage : kExitFailure;
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string host_name() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return host;
}

// A whole number of plain digits (no sign, no space), or nullopt.
std::optional<std::uint64_t> parse_whole(const std::string& text) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (*end != '\0' || errno != 0) return std::nullopt;
  return v;
}

namespace {

// A directory this user can create files in, or create (its parent allows it).
bool usable(const std::string& dir) {
  if (::access(dir.c_str(), W_OK | X_OK) == 0) return true;
  if (errno != ENOENT) return false;
  const std::size_t slash = dir.rfind('/');
  const std::string parent = slash == 0 ? "/" : dir.substr(0, slash);
  return ::access(parent.c_str(), W_OK | X_OK) == 0;
}

std::string per_user_data_dir() {
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) return std::string(xdg) + "/idforge";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.local/state/idforge";
  return "/tmp/idforge-" + std::to_string(::getuid());
}

volatile std::sig_atomic_t g_stop_signal = 0;

void ask_to_stop(int signal) { g_stop_signal = signal; }

}  // namespace

Result<DataDir> resolve_data_dir(const std::optional<std::string>& flag) {
  const auto empty = [](std::string_view what) {
    return Error(Errc::invalid_argument, std::string(what) + " is empty; give a directory, or leave it out for the "
                                         "shared default " + kHostDataDir);
  };
  if (flag) {
    if (flag->empty()) return empty("--data-dir");
    return DataDir{*flag, std::nullopt};
  }
  if (const char* env = std::getenv("IDFORGE_DATA_DIR")) {
    if (*env == '\0') return empty("IDFORGE_DATA_DIR");
    return DataDir{env, std::nullopt};
  }
  if (usable(kHostDataDir)) return DataDir{kHostDataDir, std::nullopt};
  DataDir fallback{per_user_data_dir(), std::nullopt};
  // The per-user directory's parents may not exist yet (a fresh ~/.local).
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(fallback.path).parent_path(), ec);
  fallback.warning = std::string("warning: ") + kHostDataDir + " is not writable by this user (uid " +
                     std::to_string(::getuid()) + "), so node locks and marks go to " + fallback.path +
                     ", which idforge processes of other users do not see: they may take the same nodes and make "
                     "the same IDs. Join the group that owns " + kHostDataDir + ", or give every process one --data-dir";
  return fallback;
}

std::string data_dir_option_help() {
  return std::string("Where node locks and marks live (env IDFORGE_DATA_DIR). Default: ") + kHostDataDir +
         ", shared by every idforge process on the host; a user who cannot write it gets $XDG_STATE_HOME/idforge "
         "(else ~/.local/state/idforge) and a warning. A missing directory is created only if its parent exists.";
}

void stop_on_signals() {
  struct sigaction action {};
  action.sa_handler = ask_to_stop;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // No SA_RESTART: a blocked write returns, so the command notices.
  for (int s : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(s, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

int stop_signal() { return g_stop_signal; }

std::string signal_name(int signal) {
  switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
  }
  return "signal " + std::to_string(signal);
}

Result<std::uint64_t> parse_node(const std::string& text, std::uint64_t last, const std::string& what) {
  const std::optional<std::uint64_t> n = parse_whole(text);
  if (!n || *n > last) {
    return Error(Errc::invalid_argument, "--node '" + text + "' must be a whole number from 0 to " + std::to_string(last) + " (" + what + ")");
  }
  return *n;
}

namespace {

// Reads node fields given by their layout names ("--worker 5", "--worker=5") from
// the arguments CLI11 did not recognise. Returns the node number, nullopt when no
// field was given, or an error.
Result<std::optional<std::uint64_t>> node_from_fields(const Layout& layout, const std::vector<std::string>& extras,
                                                     std::string_view command) {
  std::array<std::uint64_t, kMaxNodeFields> values{};
  std::array<bool, kMaxNodeFields> given{};
  for (std::size_t i = 0; i < extras.size(); ++i) {
    std::string arg = extras[i];
    std::string value;
    if (!arg.starts_with("--")) return Error(Errc::invalid_argument, "unexpected argument '" + arg + "'; see 'idforge " + std::string(command) + " --help'");
    arg.erase(0, 2);
    if (const std::size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    } else if (i + 1 < extras.size()) {
      value = extras[++i];
    }
    const int field = layout.find_node_field(arg);
    if (field < 0) {
      std::string names;
      for (int f = 0; f < layout.node_field_count(); ++f) {
        names += std::string(f ? ", --" : "--") += layout.node_field(f).name();
      }
      return Error(Errc::invalid_argument, "unknown option --" + arg + "; layout " + std::string(layout.name()) + " sets its node with " +
                     (names.empty() ? "no fields" : names) + " (see 'idforge " + std::string(command) + " --help')");
    }
    const auto index = static_cast<std::size_t>(field);
    if (given[index]) return Error(Errc::invalid_argument, "--" + arg + " is given twice; give each node field once");
    const Field& f = layout.node_field(field);
    const std::optional<std::uint64_t> v = parse_whole(value);
    if (!v || *v > f.max_value()) {
      return Error(Errc::invalid_argument, "--" + arg + " '" + value + "' must be a whole number from 0 to " + std::to_string(f.max_value()));
    }
    values[index] = *v;
    given[index] = true;
  }
  if (std::find(given.begin(), given.end(), true) == given.end()) return std::optional<std::uint64_t>();
  return std::optional<std::uint64_t>(layout.node_number(values));
}

}  // namespace

Result<std::optional<std::uint64_t>> resolve_node(const Layout& layout, const std::optional<std::string>& flag,
                                                  const std::vector<std::string>& extras, std::string_view command) {
  Result<std::optional<std::uint64_t>> node = node_from_fields(layout, extras, command);
  if (!node || !flag) return node;
  if (*node) return Error(Errc::invalid_argument, "give --node or node fields, not both");
  Result<std::uint64_t> n =
      parse_node(*flag, (1ULL << layout.node_bits()) - 1, "layout " + std::string(layout.name()));
  if (!n) return n.error();
  return std::optional<std::uint64_t>(*n);
}

std::string layout_option_help() {
  std::string names;
  for (std::string_view name : Layout::preset_names()) names += std::string(names.empty() ? "" : ", ") += name;
  return "Bit layout: a preset (" + names +
         ") or a spec such as 'time:41-worker:10-seq:12/tick=1ms/epoch=2024-01-01' "
         "(see 'idforge layout --help')";
}

Output::Output() : buffer_(1 << 17) {}
Output::~Output() { flush(); }

char* Output::reserve(std::size_t n) {
  if (used_ + n > buffer_.size()) {
    flush();
    if (n > buffer_.size()) buffer_.resize(n);
  }
  return buffer_.data() + used_;
}

void Output::append(std::string_view text) {
  char* at = reserve(text.size());
  std::memcpy(at, text.data(), text.size());
  commit(at + text.size());
}

bool Output::flush() {
  std::size_t done = 0;
  while (!failed_ && done < used_) {
    const ssize_t n = ::write(STDOUT_FILENO, buffer_.data() + done, used_ - done);
    if (n < 0 && errno == EINTR && stop_signal() == 0) continue;
    if (n < 0 && errno == EINTR) {
      failed_ = true;  // Asked to stop while the reader was not reading: the caller says so.
      break;
    }
    if (n < 0) {
      print_error(std::string("cannot write to standard output: ") + std::strerror(errno));
      failed_ = true;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  used_ = 0;
  return !failed_;
}

TokenReader::TokenReader(int fd, std::string name) : fd_(fd), name_(std::move(name)), buffer_(1 << 20) {}

bool TokenReader::fill() {
  if (eof_ || error_) return false;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  for (;;) {
    const ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = "cannot read " + name_ + ": " + std::strerror(errno);
      return false;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    end_ += static_cast<std::size_t>(n);
    return true;
  }
}

namespace {
// The white space that separates words: a table, one load a byte.
constexpr std::array<bool, 256> kSpace = [] {
  std::array<bool, 256> t{};
  for (const char c : {' ', '\n', '\t', '\r', '\v', '\f'}) t[static_cast<unsigned char>(c)] = true;
  return t;
}();
}  // namespace

std::optional<std::string_view> TokenReader::next() {
  auto space = [](char c) { return kSpace[static_cast<unsigned char>(c)]; };
  for (;;) {
    while (begin_ < end_ && (space(buffer_[begin_]) || skipping_)) {
      skipping_ = skipping_ && !space(buffer_[begin_]);
      line_ += buffer_[begin_] == '\n';
      ++begin_;
    }
    if (begin_ < end_) break;
    begin_ = end_ = 0;
    if (!fill()) return std::nullopt;
  }
  std::size_t at = begin_;
  for (;;) {
    // Eight bytes at a time while none of them can be white space (all of which is
    // at most 0x20), then byte by byte.
    while (at + 8 <= end_) {
      std::uint64_t w;
      std::memcpy(&w, buffer_.data() + at, 8);
      if (((w - 0x2121212121212121) & ~w & 0x8080808080808080) != 0) break;
      at += 8;
    }
    while (at < end_ && !space(buffer_[at])) ++at;
    if (at < end_ || eof_ || error_) break;
    if (begin_ == 0 && end_ == buffer_.size()) {
      skipping_ = true;  // A word as long as the block: cut it here.
      break;
    }
    at -= begin_;
    if (!fill()) {
      at += begin_;
      break;
    }
    at += begin_;
  }
  const std::string_view word(buffer_.data() + begin_, at - begin_);
  begin_ = at;
  returned_line_ = line_;
  return word;
}

std::optional<std::string_view> TokenReader::next_line() {
  for (;;) {
    const char* start = buffer_.data() + begin_;
    const std::size_t available = end_ - begin_;
    const char* newline = static_cast<const char*>(std::memchr(start, '\n', available));
    if (skipping_) {  // The rest of a line cut at the block's size.
      if (newline == nullptr) {
        begin_ = end_ = 0;
        if (!fill()) return std::nullopt;
        continue;
      }
      begin_ += static_cast<std::size_t>(newline - start) + 1;
      ++line_;
      skipping_ = false;
      continue;
    }
    returned_line_ = line_;
    if (newline != nullptr) {
      begin_ += static_cast<std::size_t>(newline - start) + 1;
      ++line_;
      return std::string_view(start, static_cast<std::size_t>(newline - start));
    }
    if (begin_ == 0 && end_ == buffer_.size()) {
      skipping_ = true;  // A line as long as the block: cut it here.
      begin_ = end_;
      return std::string_view(start, available);
    }
    if (!fill()) {
      if (begin_ == end_) return std::nullopt;
      const std::string_view last(buffer_.data() + begin_, end_ - begin_);  // No newline at the end.
      begin_ = end_;
      return last;
    }
  }
}

Result<std::pair<std::uint64_t, std::uint64_t>> parse_nodes(const std::string& text, const Layout& layout) {
  const std::uint64_t last = (1ULL << layout.node_bits()) - 1;
  if (text.empty()) return std::pair<std::uint64_t, std::uint64_t>{0, last};
  const std::size_t dash = text.find('-');
  const std::optional<std::uint64_t> a = dash == std::string::npos ? std::nullopt : parse_whole(text.substr(0, dash));
  const std::optional<std::uint64_t> b = dash == std::string::npos ? std::nullopt : parse_whole(text.substr(dash + 1));
  if (!a || !b || *a > *b || *b > last) {
    return Error(Errc::invalid_argument, "--nodes '" + text + "' must be FIRST-LAST with 0 <= FIRST <= LAST <= " +
                                             std::to_string(last) + " (layout " + std::string(layout.name()) + ")");
  }
  return std::pair<std::uint64_t, std::uint64_t>{*a, *b};
}

}  // namespace idforge::cli
