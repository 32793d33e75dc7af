#include "testpmd_peer.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace vpmd::test {

namespace {

std::string read_file(const std::string& path, size_t from = 0) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  f.seekg(static_cast<std::streamoff>(from));
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

uint64_t number_after(const std::string& s, const std::string& key, size_t from) {
  const size_t at = s.find(key, from);
  if (at == std::string::npos) return 0;
  return std::strtoull(s.c_str() + at + key.size(), nullptr, 10);
}

long free_hugepages() {
  std::ifstream m("/proc/meminfo");
  std::string line;
  while (std::getline(m, line))
    if (line.rfind("HugePages_Free:", 0) == 0) return std::strtol(line.c_str() + 15, nullptr, 10);
  return 0;
}

}  // namespace

std::optional<std::string> TestpmdPeer::unavailable() {
  if (::access("/usr/bin/dpdk-testpmd", X_OK) != 0)
    return "dpdk-testpmd is not installed (apt-get install dpdk-dev; ./tools/run-tests installs it)";
  if (::geteuid() != 0) return "not root: dpdk-testpmd and hugepage memfds need root here";
  if (free_hugepages() < 128)
    return "fewer than 128 free 2 MiB hugepages (echo 1024 > /proc/sys/vm/nr_hugepages; ./tools/run-tests does it)";
  return std::nullopt;
}

size_t TestpmdPeer::log_size() const {
  struct stat st {};
  return ::stat(o_.log.c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

std::string TestpmdPeer::tail(size_t bytes) const {
  const size_t n = log_size();
  return read_file(o_.log, n > bytes ? n - bytes : 0);
}

bool TestpmdPeer::start() {
  if (!o_.client) ::unlink(o_.socket.c_str());  // a stale socket makes the server exit
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return false;
  const std::string vdev = "net_vhost0,iface=" + o_.socket + ",queues=1" + (o_.client ? ",client=1" : "");
  const std::string lcores = "0@" + std::to_string(o_.cpu) + ",1@" + std::to_string(o_.cpu);
  const std::string prefix = "--file-prefix=vpmdpeer" + std::to_string(::getpid());
  // stdbuf: testpmd's printf output to a file is block-buffered; the
  // statistics we read back must reach the log when printed.
  std::vector<std::string> args = {"stdbuf", "-oL", "-eL", "dpdk-testpmd", "--lcores=" + lcores, "--no-pci", "--in-memory", prefix,
                                   "--log-level=lib.vhost.config:info", "--vdev", vdev, "--", "-i",
                                   "--nb-cores=1", "--burst=32", "--txpkts=64", "--total-num-mbufs=16384",
                                   "--forward-mode=" + o_.mode, "--auto-start"};
  pid_ = ::fork();
  if (pid_ < 0) return false;
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    const int log = ::open(o_.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(log, 1);
    ::dup2(log, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv("/usr/bin/stdbuf", argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  stdin_fd_ = in[1];
  // Ready: the server has its socket, and the prompt has started forwarding.
  for (int i = 0; i < 300; ++i) {
    const std::string log = read_file(o_.log);
    const bool sock = o_.client || ::access(o_.socket.c_str(), F_OK) == 0;
    if (sock && log.find("testpmd> ") != std::string::npos) return true;
    int st;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool TestpmdPeer::command(const std::string& line) {
  if (stdin_fd_ < 0) return false;
  const std::string l = line + "\n";
  return ::write(stdin_fd_, l.data(), l.size()) == static_cast<ssize_t>(l.size());
}

std::optional<PortCounters> TestpmdPeer::counters() {
  const size_t from = log_size();
  if (!command("show port stats 0")) return std::nullopt;
  for (int i = 0; i < 100; ++i) {
    const std::string s = read_file(o_.log, from);
    const size_t block = s.find("NIC statistics for port 0");
    if (block != std::string::npos && s.find("Tx-bps", block) != std::string::npos)
      return PortCounters{number_after(s, "RX-packets:", block), number_after(s, "TX-packets:", block)};
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

void TestpmdPeer::kill_hard() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

void TestpmdPeer::quit() {
  if (pid_ <= 0) return;
  command("stop");
  command("quit");
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill_hard();
}

}  // namespace vpmd::test
