// SPDX-License-Identifier: Apache-2.0
// A real HTTP/1.1 client (Boost.Asio + Beast) and a fixture that runs the built
// `idforge serve` on port 0: what the service's integration tests share. The
// parts that instantiate Beast and std::regex are compiled once, in http.cc.
#ifndef IDFORGE_TESTS_SUPPORT_HTTP_H_
#define IDFORGE_TESTS_SUPPORT_HTTP_H_

#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/cli.h"

namespace idforge::testing {

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // Names in lower case.
  std::string body;
  bool keep_alive = true;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// The "ids" of a batch answer, as text.
inline std::vector<std::string> ids_of(const std::string& body) {
  const nlohmann::json parsed = nlohmann::json::parse(body);
  std::vector<std::string> out;
  for (const nlohmann::json& id : parsed.at("ids")) out.push_back(id.get<std::string>());
  return out;
}

// One client connection to 127.0.0.1:port (Boost.Beast's parser, in http.cc).
// Reads give up after 30 s (a guard against a hung server, not a timing
// assertion).
class HttpConnection {
 public:
  explicit HttpConnection(std::uint16_t port);
  ~HttpConnection();

  // Sends GET `target` (with Accept when given) and reads the reply.
  Reply get(const std::string& target, const std::string& accept = "");

  // Sends bytes as they are.
  void send(std::string_view bytes);

  // Reads one reply, or nullopt when the connection ends without one. A reply to
  // HEAD has no body whatever its headers say.
  std::optional<Reply> read(bool to_head = false);

  // True when the server closes the connection (reads end) with nothing more sent.
  bool closed_by_server();

  // The socket's descriptor, for socket options.
  int native_handle();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// libfaketime (Debian's faketime package), preloaded through env(1) so that the
// PID the test holds is the server's own, shows the server a clock `offset` away
// (a prefix for ServerProcess).
inline std::vector<std::string> clock_stepped(const std::string& offset) {
  const std::string library = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
  EXPECT_TRUE(fs::exists(library)) << "install Debian's faketime package (scripts/deps.sh)";
  // An ASan build must be told that a preloaded library may come first.
  return {"env", "LD_PRELOAD=" + library, "FAKETIME=" + offset, "ASAN_OPTIONS=verify_asan_link_order=0"};
}

// `idforge serve` on 127.0.0.1 port 0 (unless `args` give --listen), started by the
// constructor and stopped by its PID. `prefix` runs before the binary (faketime,
// prlimit). The constructor waits for the server to listen unless `wait` is false
// (then wait_listening() does).
class ServerProcess {
 public:
  ServerProcess(const fs::path& data_dir, const fs::path& log, std::vector<std::string> args,
                std::vector<std::string> prefix = {}, bool wait = true)
      : log_(log) {
    std::vector<std::string> argv = std::move(prefix);
    for (std::string a : {std::string(IDFORGE_CLI_PATH), std::string("serve"), std::string("--data-dir"), data_dir.string()}) {
      argv.push_back(a);
    }
    if (std::find(args.begin(), args.end(), "--listen") == args.end()) {
      argv.push_back("--listen");
      argv.push_back("127.0.0.1:0");
    }
    for (std::string& a : args) argv.push_back(std::move(a));
    std::vector<char*> raw;
    for (std::string& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    const int spawned = posix_spawnp(&pid_, raw[0], &actions, nullptr, raw.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      ADD_FAILURE() << "cannot start " << raw[0];
      pid_ = -1;
      return;
    }
    if (wait && !wait_listening()) ADD_FAILURE() << "idforge serve did not start; its log:\n" << slurp(log_);
  }

  // Waits (bounded by `guard_s`, as a guard) for the start-up line that names the
  // port; false if the server exited or the guard passed first.
  bool wait_listening(int guard_s = 30);

  // Kills the server. A server that ended on its own before this, without a
  // stop() from the test, fails the test with its log (a crash, or a
  // sanitizer's report).
  ~ServerProcess() {
    if (pid_ <= 0 || reaped_) return;
    if (exited()) {
      ADD_FAILURE() << "idforge serve exited on its own with status " << status_ << "; its log:\n" << log();
      return;
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  std::uint16_t port() const { return port_; }
  // The gRPC API's port (0: not started with --grpc-listen).
  std::uint16_t grpc_port() const { return grpc_port_; }
  pid_t pid() const { return pid_; }
  bool started() const { return port_ != 0; }
  std::string log() const { return slurp(log_); }

  // Sends `signal` and waits for the process; returns its exit code, or
  // 128 + the signal that ended it.
  int stop(int signal = SIGTERM) {
    if (pid_ <= 0 || reaped_) return status_;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return status_;
  }

  // True when the process has exited (reaping it).
  bool exited() {
    if (reaped_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    reaped_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }

 private:
  fs::path log_;
  pid_t pid_ = -1;
  std::uint16_t grpc_port_ = 0;
  std::uint16_t port_ = 0;
  bool reaped_ = false;
  int status_ = -1;
};

// A test with its own data directory and a way to start servers in it.
class Serve : public Cli {
 protected:
  // Starts `idforge serve` with `args`; each server logs to its own file.
  std::unique_ptr<ServerProcess> start(std::vector<std::string> args = {}, std::vector<std::string> prefix = {}) {
    const fs::path log = dir_ / ("serve-" + std::to_string(++servers_) + ".log");
    auto server = std::make_unique<ServerProcess>(dir_ / "data", log, std::move(args), std::move(prefix));
    EXPECT_TRUE(server->started());
    return server;
  }

  // The same, with the gRPC API on a free port too.
  std::unique_ptr<ServerProcess> start_grpc(std::vector<std::string> args = {}) {
    args.insert(args.end(), {"--grpc-listen", "127.0.0.1:0"});
    auto server = start(std::move(args));
    EXPECT_NE(server->grpc_port(), 0) << server->log();
    return server;
  }

 private:
  int servers_ = 0;
};

}  // namespace idforge::testing

#endif  // IDFORGE_TESTS_SUPPORT_HTTP_H_
