// SPDX-License-Identifier: Apache-2.0
// Real etcd members (Debian's etcd-server) on free loopback ports, each with its
// own data directory under the test's, started by the constructor and stopped by
// PID: what the cluster tests share.
#ifndef IDFORGE_TESTS_SUPPORT_ETCD_H_
#define IDFORGE_TESTS_SUPPORT_ETCD_H_

#include <gtest/gtest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace idforge::testing {

// A loopback TCP port that was free a moment ago.
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

// Runs a shell command; returns its exit code and standard output.
inline std::pair<int, std::string> shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

struct EtcdTls {
  std::string ca, cert, key;  // Paths of the server's CA, certificate and key.
};

class EtcdCluster {
 public:
  // Starts `members` members in `dir` and waits (bounded, as a guard) until the
  // cluster answers. With `tls`, clients must speak https.
  explicit EtcdCluster(const std::filesystem::path& dir, int members = 1, std::optional<EtcdTls> tls = std::nullopt)
      : dir_(dir), tls_(std::move(tls)), token_(dir_.filename().string()) {
    std::filesystem::create_directories(dir_);
    for (int i = 0; i < members; ++i) {
      Member m;
      m.name = "m";
      m.name += std::to_string(i);
      m.client_port = free_port();
      m.peer_port = free_port();
      if (i > 0) initial_ += ",";
      initial_ += m.name;
      initial_ += "=http://127.0.0.1:";
      initial_ += std::to_string(m.peer_port);
      members_.push_back(m);
    }
    for (Member& m : members_) start(m);
    ready_ = wait_healthy();
    EXPECT_TRUE(ready_) << "etcd did not become healthy; member logs:\n" << logs();
  }

  ~EtcdCluster() {
    for (Member& m : members_) stop(m);
  }

  bool ready() const { return ready_; }
  int size() const { return static_cast<int>(members_.size()); }

  // The client URL of member `i`.
  std::string url(int i) const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(members_[static_cast<std::size_t>(i)].client_port);
  }
  // Every member's client URL, comma-separated (the --etcd flag's form).
  std::string urls() const {
    std::string out;
    for (int i = 0; i < size(); ++i) {
      if (i > 0) out += ",";
      out += url(i);
    }
    return out;
  }
  pid_t pid(int i) const { return members_[static_cast<std::size_t>(i)].pid; }

  void signal_all(int signal) {
    for (Member& m : members_) {
      if (m.pid > 0) ::kill(m.pid, signal);
    }
  }
  void kill(int i) { stop(members_[static_cast<std::size_t>(i)]); }
  // Starts member `i` again on its data directory, after kill(i).
  void restart(int i) { start(members_[static_cast<std::size_t>(i)]); }

  // etcd's documented disaster recovery: `snapshot save` now, and later
  // restore_snapshot(path): every member stopped, its data directory made anew from
  // the snapshot (etcdctl snapshot restore) and started on the same URLs. With
  // `new_token` the cluster gets a new cluster ID, as the docs advise; without it
  // the same one (measured: same token and URLs give the same ID).
  bool save_snapshot(const std::filesystem::path& path) const {
    return etcdctl("snapshot save '" + path.string() + "'").first == 0;
  }
  bool restore_snapshot(const std::filesystem::path& path, bool new_token) {
    for (Member& m : members_) stop(m);
    if (new_token) token_ += "-restored";
    ++generation_;
    for (Member& m : members_) {
      const std::string peer = "http://127.0.0.1:" + std::to_string(m.peer_port);
      auto [code, out] = shell("ETCDCTL_API=3 etcdctl snapshot restore '" + path.string() + "' --name " + m.name +
                               " --data-dir '" + data_dir(m).string() + "' --initial-cluster " + initial_ +
                               " --initial-cluster-token " + token_ + " --initial-advertise-peer-urls " + peer + " 2>&1");
      if (code != 0) {
        ADD_FAILURE() << out;
        return false;
      }
    }
    for (Member& m : members_) start(m);
    return ready_ = wait_healthy();
  }
  // etcd lost and made again on the same URLs, with the same token: every member
  // stopped and started on a fresh, empty data directory.
  bool wipe() {
    for (Member& m : members_) stop(m);
    ++generation_;
    for (Member& m : members_) start(m);
    return ready_ = wait_healthy();
  }

  // etcdctl with the cluster's endpoints; returns exit code and output.
  std::pair<int, std::string> etcdctl(const std::string& args) const {
    std::string tls;
    if (tls_) tls = " --cacert='" + tls_->ca + "'";
    return shell("ETCDCTL_API=3 etcdctl --dial-timeout=2s --command-timeout=5s --endpoints='" + urls() + "'" + tls +
                 " " + args + " 2>&1");
  }

  // The cluster ID every response header carries (0 when no member answers).
  std::uint64_t cluster_id() const { return status_field("\"cluster_id\":"); }
  // The store's revision, as the first member answering says (0 when none does).
  std::uint64_t revision() const { return status_field("\"revision\":"); }

  // The index of the current leader, or -1.
  int leader() const {
    for (int i = 0; i < size(); ++i) {
      if (members_[static_cast<std::size_t>(i)].pid <= 0) continue;
      std::string tls;
      if (tls_) tls = " --cacert='" + tls_->ca + "'";
      auto [code, out] = shell("ETCDCTL_API=3 etcdctl --dial-timeout=2s --endpoints='" + url(i) + "'" + tls +
                               " endpoint status -w fields 2>/dev/null");
      if (code == 0 && out.find("\"Leader\" : ") != std::string::npos) {
        const auto leader_at = out.find("\"Leader\" : ");
        const auto member_at = out.find("\"MemberID\" : ");
        const std::string leader = out.substr(leader_at + 11, out.find('\n', leader_at) - leader_at - 11);
        const std::string member = out.substr(member_at + 13, out.find('\n', member_at) - member_at - 13);
        if (leader == member) return i;
      }
    }
    return -1;
  }

  std::string logs() const {
    std::string out;
    for (const Member& m : members_) {
      std::ifstream in(dir_ / (m.name + ".log"));
      std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      out += "--- ";
      out += m.name;
      out += "\n";
      out += text.substr(text.size() > 4000 ? text.size() - 4000 : 0);
    }
    return out;
  }

  // Waits (bounded by 30 s, as a guard) until every running member answers.
  bool wait_healthy() {
    for (int i = 0; i < 300; ++i) {
      bool alive = true;
      for (Member& m : members_) alive = alive && (m.pid <= 0 || ::waitpid(m.pid, nullptr, WNOHANG) == 0);
      if (!alive) return false;
      if (etcdctl("endpoint health").first == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 private:
  struct Member {
    std::string name;
    std::uint16_t client_port = 0;
    std::uint16_t peer_port = 0;
    pid_t pid = -1;
  };

  // A number of `etcdctl endpoint status -w json`'s first answer.
  std::uint64_t status_field(const std::string& field) const {
    const std::string out = etcdctl("endpoint status -w json").second;
    const std::size_t at = out.find(field);
    return at == std::string::npos ? 0 : std::strtoull(out.c_str() + at + field.size(), nullptr, 10);
  }

  std::filesystem::path data_dir(const Member& m) const {
    return dir_ / (m.name + (generation_ == 0 ? std::string() : "-" + std::to_string(generation_)) + ".etcd");
  }

  void start(Member& m) {
    const std::string client = std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(m.client_port);
    const std::string peer = "http://127.0.0.1:" + std::to_string(m.peer_port);
    std::vector<std::string> argv = {"etcd",
                                     "--name", m.name,
                                     "--data-dir", data_dir(m).string(),
                                     "--listen-client-urls", client,
                                     "--advertise-client-urls", client,
                                     "--listen-peer-urls", peer,
                                     "--initial-advertise-peer-urls", peer,
                                     "--initial-cluster", initial_,
                                     "--initial-cluster-state", "new",
                                     "--initial-cluster-token", token_,
                                     "--pre-vote=true"};
    if (tls_) {
      for (std::string a : {"--cert-file", tls_->cert.c_str(), "--key-file", tls_->key.c_str()}) argv.push_back(a);
    }
    std::vector<char*> raw;
    for (std::string& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = (dir_ / (m.name + ".log")).string();
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&m.pid, "etcd", &actions, nullptr, raw.data(), environ) != 0) m.pid = -1;
    posix_spawn_file_actions_destroy(&actions);
  }

  static void stop(Member& m) {
    if (m.pid <= 0) return;
    ::kill(m.pid, SIGCONT);
    ::kill(m.pid, SIGKILL);
    ::waitpid(m.pid, nullptr, 0);
    m.pid = -1;
  }

  std::filesystem::path dir_;
  std::optional<EtcdTls> tls_;
  std::string token_;    // --initial-cluster-token: with the URLs, it makes the cluster ID.
  std::string initial_;  // --initial-cluster.
  int generation_ = 0;   // Data directories made anew so far (restores, wipes).
  std::vector<Member> members_;
  bool ready_ = false;
};

}  // namespace idforge::testing

#endif  // IDFORGE_TESTS_SUPPORT_ETCD_H_
