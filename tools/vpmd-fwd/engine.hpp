#pragma once
// The forwarding loop's work: one poll of each port per round, in the
// port's mode. Single-threaded: every port, the pool cache and the counters
// belong to the thread that calls poll().
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "options.hpp"
#include "udp_frame.hpp"
#include "vpmd/port.hpp"

namespace vpmd::fwd {

// What vpmd-fwd saw, beside the port's own QueueStats (the two must agree).
struct Counters {
  uint64_t rx = 0;              // frames rx_burst returned on this port
  uint64_t offered = 0;         // frames offered to this port's tx_burst
  uint64_t tx = 0;              // frames this port's tx_burst accepted
  uint64_t tx_dropped = 0;      // frames offered to this port's tx_burst and not accepted (freed)
  uint64_t alloc_failures = 0;  // txonly: bursts not built because the pool was empty
  uint64_t busy_cycles = 0;     // cycles spent in polls of this port that moved packets
  uint64_t moved = 0;           // packets those polls moved (received + generated)
  // testpmd's --record-core-cycles figure: cycles of every poll that received
  // or offered at least one packet (a txonly burst the full ring refused
  // counts too), to be divided by frames accepted (txonly) or received
  // (other modes), as testpmd's "CPU cycles/packet" is (see report.cpp).
  uint64_t work_cycles = 0;
  uint64_t lost = 0;            // frames sent that a vanished back end took with it (out of the window)
};

struct FwdPort {
  std::string spec;
  Mode mode = Mode::io;
  std::unique_ptr<Port> port;
  FwdPort* peer = nullptr;  // the other port, if two were given
  std::optional<UdpFrame> frame;
  uint32_t seq = 0;
  Counters c;

  // Frames this port sent that the receiving port (the peer, or this port
  // when its frames come back to it) has not received, lost ones excepted:
  // txonly's --window counts these.
  uint64_t in_flight() const noexcept {
    const FwdPort& rcv = peer != nullptr ? *peer : *this;
    return c.tx - std::min(c.tx, rcv.c.rx + c.lost);
  }
};

class Engine {
 public:
  Engine(std::vector<FwdPort>& ports, PacketPool& pool, PacketPool::Cache* cache, const Options& o);
  // One round: each port once, in its mode.
  void poll() noexcept;
  // After the run: receive and free only (no sending), so frames still in
  // flight are counted. Returns the frames received in this round.
  uint64_t drain() noexcept;

 private:
  uint64_t rx_free(FwdPort& p) noexcept;
  uint64_t io(FwdPort& p) noexcept;
  uint64_t macswap(FwdPort& p) noexcept;
  uint64_t txonly(FwdPort& p) noexcept;
  // Sends n packets on `out`, frees those not accepted; returns accepted.
  uint16_t send(FwdPort& out, Packet** pkts, uint16_t n) noexcept;

  std::vector<FwdPort>& ports_;
  PacketPool& pool_;
  PacketPool::Cache* cache_;
  uint16_t burst_;
  uint32_t window_;
  std::vector<Packet*> pkts_;
};

}  // namespace vpmd::fwd
