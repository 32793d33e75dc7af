#pragma once
// DPDK's dpdk-testpmd as a vhost-user back end (net_vhost), driven through
// its interactive prompt on a pipe: a device that no one here wrote. The
// recipe and its pitfalls are in ../shared/recipes/dpdk-peer.md.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace vpmd::test {

struct PortCounters {
  uint64_t rx = 0;  // what the back end took from our TX rings
  uint64_t tx = 0;  // what it put into our RX rings
};

class TestpmdPeer {
 public:
  struct Options {
    std::string socket;         // vhost-user socket path
    std::string mode = "io";    // rxonly | txonly | macswap | io ...
    bool client = false;        // net_vhost client=1 (we listen: vpmd server=1)
    std::string log;            // testpmd's output (its prompt and stats)
    int cpu = 1;                // pinned here; vpmd runs where the test runs
  };
  // Why the peer cannot run here (no dpdk-testpmd, no hugepages), or nothing.
  static std::optional<std::string> unavailable();

  explicit TestpmdPeer(Options o) : o_(std::move(o)) {}
  ~TestpmdPeer() { kill_hard(); }
  TestpmdPeer(const TestpmdPeer&) = delete;
  TestpmdPeer& operator=(const TestpmdPeer&) = delete;

  // Starts it and waits for the socket (server) or the prompt (client).
  bool start();
  // One command on its prompt ("start", "stop", "set fwd macswap", ...).
  bool command(const std::string& line);
  // Port 0's counters ("show port stats 0"); nullopt if it did not answer.
  std::optional<PortCounters> counters();
  // SIGKILL, as a crash would: no goodbye on the socket, no cleanup.
  void kill_hard();
  // quit, then wait for the process.
  void quit();
  bool running() const { return pid_ > 0; }
  std::string tail(size_t bytes = 2000) const;  // the end of its log, for failure messages

 private:
  size_t log_size() const;
  Options o_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
};

}  // namespace vpmd::test
