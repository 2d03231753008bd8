// SPDX-License-Identifier: Apache-2.0
// A throwaway PostgreSQL server (Debian's postgresql-15) for the tests: initdb in
// a temporary directory, a free loopback port and a socket in that directory,
// started and stopped by PID. initdb and postgres refuse to run as root, so when
// the tests run as root the server runs as the `postgres` user, which owns the
// directory; psql connects as the `postgres` role over the socket.
#ifndef IDFORGE_TESTS_SUPPORT_POSTGRES_H_
#define IDFORGE_TESTS_SUPPORT_POSTGRES_H_

#include <gtest/gtest.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/etcd.h"  // free_port, shell
#include "support/temp_dir.h"

namespace idforge::testing {

// Quotes `text` for a POSIX shell.
inline std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class PostgresServer {
 public:
  // Creates a cluster in a directory of its own (removed with it), with
  // `settings` ("name = value" lines) added to its postgresql.conf.
  explicit PostgresServer(const std::vector<std::string>& settings = {}) : port_(free_port()) {
    created_ = create(settings);
    EXPECT_TRUE(created_) << "initdb failed:\n" << read(dir_ / "initdb.log");
  }

  // A copy of `primary`'s data directory made with pg_basebackup (-X stream), on a
  // port and socket directory of its own: with `standby`, a hot standby that
  // streams from it (-R); without, a copy that starts as a primary of its own.
  PostgresServer(const PostgresServer& primary, bool standby) : port_(free_port()) {
    uid_ = primary.uid_;
    gid_ = primary.gid_;
    if (uid_ != 0 && ::chown(dir_.c_str(), uid_, gid_) != 0) return;
    std::vector<std::string> argv = {bin("pg_basebackup"), "-h", primary.dir_.string(), "-p",
                                     std::to_string(primary.port_), "-U", "postgres", "-D", data().string(),
                                     "-X", "stream", "-c", "fast"};
    if (standby) argv.push_back("-R");
    created_ = run(argv, dir_ / "initdb.log") == 0;
    EXPECT_TRUE(created_) << "pg_basebackup failed:\n" << read(dir_ / "initdb.log");
    std::ofstream conf(data() / "postgresql.conf", std::ios::app);
    conf << "port = " << port_ << "\nunix_socket_directories = '" << dir_.string() << "'\n";
  }

  ~PostgresServer() { stop(SIGQUIT); }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Starts the server with `environment` ("NAME=value") added to its own and waits
  // (bounded, as a guard) until it accepts connections. False if it did not.
  bool start(const std::vector<std::string>& environment = {}) {
    if (!created_) return false;
    const std::filesystem::path log = dir_ / "server.log";
    pid_ = spawn({bin("postgres"), "-D", data().string()}, log, environment);
    for (int i = 0; i < 300; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) != 0) {
        pid_ = -1;
        return false;
      }
      if (shell(bin("pg_isready") + " -q -U postgres -h " + shell_quote(dir_.string()) + " -p " + std::to_string(port_)).first == 0) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // Stops the server by signal: SIGINT is a fast, clean shutdown; SIGQUIT an
  // immediate one, which leaves recovery to the next start, as a crash does.
  void stop(int signal = SIGINT) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Runs `sql` through psql (stop at the first error, unaligned output without
  // headers); returns its exit code and what it printed, errors included.
  std::pair<int, std::string> psql(const std::string& sql) const {
    const std::filesystem::path file = dir_ / ("query-" + std::to_string(++queries_) + ".sql");
    std::ofstream(file) << sql;
    return psql_file(file);
  }
  std::pair<int, std::string> psql_file(const std::filesystem::path& file) const {
    return shell(psql_command() + " -f " + shell_quote(file.string()) + " 2>&1");
  }
  // The psql command line that connects to this server (for a test's own pipes).
  std::string psql_command() const {
    return "psql -X -q -A -t -v ON_ERROR_STOP=1 -h " + shell_quote(dir_.string()) + " -p " + std::to_string(port_) +
           " -U postgres -d postgres";
  }
  // The single value a query prints, or "" with the failure in `error`.
  std::string value(const std::string& sql) const {
    auto [code, out] = psql(sql);
    EXPECT_EQ(code, 0) << sql << "\n" << out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return code == 0 ? out : "";
  }

  // Adds `line` ("name = value") to postgresql.conf, for the next start.
  void configure(const std::string& line) const { std::ofstream(data() / "postgresql.conf", std::ios::app) << line << "\n"; }

  // Promotes a standby and waits (bounded, as a guard) until it is a primary.
  bool promote() const { return value("SELECT pg_promote(true, 60);") == "t"; }

  // Waits (bounded, as a guard) until standby `replica` has replayed everything
  // this server has flushed to its WAL.
  bool wait_replayed_by(const PostgresServer& replica) const {
    const std::string lsn = value("SELECT pg_current_wal_flush_lsn();");
    for (int i = 0; i < 300; ++i) {
      if (replica.value("SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn;") == "t") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string log() const { return read(dir_ / "server.log"); }
  std::uint16_t port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path data() const { return dir_ / "data"; }

  // The directory of PostgreSQL 15's programs.
  static std::string bin(const std::string& program) { return std::string(IDFORGE_PG_BINDIR) + "/" + program; }

 private:
  bool create(const std::vector<std::string>& settings) {
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr) {
        std::ofstream(dir_ / "initdb.log") << "running as root needs the postgres user (Debian's postgresql-15 makes it)";
        return false;
      }
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
      if (::chown(dir_.c_str(), uid_, gid_) != 0) return false;
    }
    if (run({bin("initdb"), "-D", data().string(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync",
             "--no-instructions"},
            dir_ / "initdb.log") != 0) {
      return false;
    }
    std::ofstream conf(data() / "postgresql.conf", std::ios::app);
    conf << "listen_addresses = '127.0.0.1'\nport = " << port_ << "\nunix_socket_directories = '" << dir_.string()
         << "'\nmax_connections = 40\n";
    for (const std::string& line : settings) conf << line << "\n";
    return static_cast<bool>(conf);
  }

  static std::string read(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    return text.substr(text.size() > 6000 ? text.size() - 6000 : 0);
  }

  // Starts `argv` as the server's user, output to `log`.
  pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& log,
              const std::vector<std::string>& environment = {}) const {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    env.insert(env.end(), environment.begin(), environment.end());
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    if (uid_ != 0 && (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0)) ::_exit(126);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }

  int run(const std::vector<std::string>& argv, const std::filesystem::path& log) const {
    const pid_t pid = spawn(argv, log);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  TempDir temp_;
  const std::filesystem::path& dir_ = temp_.path();
  std::uint16_t port_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  pid_t pid_ = -1;
  bool created_ = false;
  mutable std::atomic<int> queries_{0};
};

// The load every generator in the PostgreSQL tests faces: `sessions` concurrent
// psql sessions, each putting `per_session` IDs from `function` into table `ids`
// in one statement, as fast as the server goes. Returns whether every session
// succeeded; their errors go to `errors`.
inline bool take_concurrently(const PostgresServer& server, const std::string& function, int sessions,
                              int per_session, std::string& errors) {
  std::vector<std::thread> threads;
  std::vector<std::pair<int, std::string>> results(static_cast<std::size_t>(sessions));
  for (int s = 0; s < sessions; ++s) {
    threads.emplace_back([&, s] {
      results[static_cast<std::size_t>(s)] = server.psql("INSERT INTO ids SELECT " + function +
                                                         " FROM generate_series(1, " + std::to_string(per_session) + ");");
    });
  }
  for (std::thread& t : threads) t.join();
  bool ok = true;
  for (const auto& [code, out] : results) {
    ok = ok && code == 0;
    errors += out;
  }
  return ok;
}

// How many rows table `ids` has, and how many distinct IDs among them.
inline std::pair<long, long> count_ids(const PostgresServer& server) {
  const std::string counts = server.value("SELECT count(*) || ' ' || count(DISTINCT id) FROM ids;");
  long rows = -1, distinct = -1;
  std::sscanf(counts.c_str(), "%ld %ld", &rows, &distinct);
  return {rows, distinct};
}

}  // namespace idforge::testing

#endif  // IDFORGE_TESTS_SUPPORT_POSTGRES_H_
