#pragma once
// What vpmd-fwd prints: rates every --stats-period, then a final summary
// (and the same as JSON with --json FILE).
#include <cstdint>
#include <string>
#include <vector>

#include "engine.hpp"

namespace vpmd::fwd {

class Reporter {
 public:
  Reporter(std::vector<FwdPort>& ports, uint64_t start_ns);
  // One line per port and queue: Mpps and Gbit/s since the last line, busy
  // cycles per packet.
  void period(uint64_t now_ns);

 private:
  struct Snap {
    QueueStats rx, tx;
    Counters c;
  };
  std::vector<FwdPort>& ports_;
  std::vector<Snap> last_;
  uint64_t start_ns_, last_ns_;
};

struct PortSummary {
  std::string spec, mode, path;
  QueueStats rx, tx;
  Counters c;
  uint64_t errors = 0;  // the port's *_errors xstats
  std::vector<std::string> problems;
};

struct Summary {
  std::string modes;
  double seconds = 0;
  std::vector<PortSummary> ports;
  uint32_t pool_in_use = 0;
  uint64_t lost_frees = 0;
  std::vector<std::string> problems;
  uint64_t errors() const;
};

// Reads the ports' counters (before stop: stop does not clear them, but the
// figures belong to the run).
Summary summarize(const std::vector<FwdPort>& ports, double seconds);
void print_summary(const Summary& s);
// Returns false (with the reason in `why`) if the file cannot be written.
bool write_json(const Summary& s, const std::string& file, std::string& why);

}  // namespace vpmd::fwd
