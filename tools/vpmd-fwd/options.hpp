#pragma once
// vpmd-fwd's command line: what to forward, how long, how to report.
#include <cstdint>
#include <string>
#include <vector>

#include "vpmd/mem/result.hpp"

namespace vpmd::fwd {

enum class Mode { io, macswap, txonly, rxonly };
const char* mode_name(Mode m);

struct Options {
  std::vector<std::string> ports;  // specs: "pci:0000:00:01.0"
  std::vector<Mode> modes;         // one per port (a single --mode applies to all)
  uint16_t burst = 32;
  double duration_s = 0;           // 0: until SIGINT/SIGTERM
  double stats_period_s = 1;       // 0: no periodic stats
  uint16_t ring_size = 0;          // 0: the device's maximum
  uint32_t pool = 8191;
  uint16_t txpkts = 64;            // txonly frame size, without FCS
  uint32_t window = 0;             // txonly: max frames sent but not yet received (0: no cap)
  std::string json;
  double warmup_s = 0;             // throughput modes: poll this long before the measured window
  // --mode pingpong (pingpong.hpp): one frame in flight against a macswap peer.
  bool pingpong = false;
  uint64_t round_trips = 1'000'000;  // timed round trips
  uint64_t warmup_trips = 10'000;    // untimed round trips first
  uint32_t pingpong_timeout_ms = 100;  // a frame not back by then is lost
  std::string max_simd = "scalar";
  bool packed = true, mergeable = true, event_idx = true;
};

// Parses argv; --help returns an Error with code 0 and the usage as message.
Result<Options> parse_options(int argc, char** argv);
std::string usage();

}  // namespace vpmd::fwd
