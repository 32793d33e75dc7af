#include "engine.hpp"

#include <algorithm>
#include <utility>

#include "clock.hpp"

namespace vpmd::fwd {

Engine::Engine(std::vector<FwdPort>& ports, PacketPool& pool, PacketPool::Cache* cache, const Options& o)
    : ports_(ports), pool_(pool), cache_(cache), burst_(o.burst), window_(o.window), pkts_(o.burst) {}

void Engine::poll() noexcept {
  for (FwdPort& p : ports_) {
    const uint64_t t0 = cycles();
    const uint64_t rx0 = p.c.rx, offered0 = p.c.offered;
    uint64_t moved = 0;
    switch (p.mode) {
      case Mode::io: moved = io(p); break;
      case Mode::macswap: moved = macswap(p); break;
      case Mode::txonly: moved = txonly(p); break;
      case Mode::rxonly: moved = rx_free(p); break;
    }
    if (p.c.rx != rx0 || p.c.offered != offered0) {  // only polls that did work count as busy
      const uint64_t dt = cycles() - t0;
      p.c.work_cycles += dt;  // testpmd's rule: packets received or offered
      if (moved != 0) {       // ours: packets received or accepted
        p.c.busy_cycles += dt;
        p.c.moved += moved;
      }
    }
  }
}

uint64_t Engine::drain() noexcept {
  uint64_t n = 0;
  for (FwdPort& p : ports_) n += rx_free(p);
  return n;
}

uint16_t Engine::send(FwdPort& out, Packet** pkts, uint16_t n) noexcept {
  const uint16_t sent = out.port->tx_burst(0, {pkts, n});
  out.c.offered += n;
  out.c.tx += sent;
  if (sent < n) {  // the TX ring is full: drop the rest, as testpmd does
    out.c.tx_dropped += n - sent;
    pool_.free_bulk({pkts + sent, static_cast<size_t>(n - sent)}, cache_);
  }
  return sent;
}

uint64_t Engine::rx_free(FwdPort& p) noexcept {
  const uint16_t n = p.port->rx_burst(0, {pkts_.data(), burst_});
  p.c.rx += n;
  // Received packets may be chains (MRG_RXBUF) or, in principle, belong to
  // another pool: free_bulk sends every segment home.
  if (n != 0) pool_.free_bulk({pkts_.data(), n}, cache_);
  return n;
}

uint64_t Engine::io(FwdPort& p) noexcept {
  const uint16_t n = p.port->rx_burst(0, {pkts_.data(), burst_});
  p.c.rx += n;
  if (n != 0) send(p.peer != nullptr ? *p.peer : p, pkts_.data(), n);
  return n;
}

uint64_t Engine::macswap(FwdPort& p) noexcept {
  const uint16_t n = p.port->rx_burst(0, {pkts_.data(), burst_});
  p.c.rx += n;
  for (uint16_t i = 0; i < n; ++i) {
    std::byte* e = pkts_[i]->data();
    if (pkts_[i]->data_len < 12) continue;  // a runt: forwarded as it is
    std::swap_ranges(e, e + 6, e + 6);      // destination <-> source MAC
  }
  if (n != 0) send(p, pkts_.data(), n);
  return n;
}

uint64_t Engine::txonly(FwdPort& p) noexcept {
  uint64_t moved = rx_free(p);  // what arrives here (the other port's frames, echoes) is counted and freed
  uint32_t n = burst_;
  if (window_ != 0) {
    // Flow control: frames sent and not yet received by the other port (or
    // by this port, when one port's frames come back to it). QEMU's hub
    // queues frames when a receiver has no buffers and can then reorder or
    // hold them; the window keeps the receiver's ring from running dry.
    const uint64_t in_flight = p.in_flight();
    n = in_flight >= window_ ? 0 : std::min<uint64_t>(n, window_ - in_flight);
  }
  if (n == 0) return moved;
  const auto count = static_cast<uint16_t>(n);
  if (!pool_.alloc_bulk({pkts_.data(), count}, cache_)) {
    ++p.c.alloc_failures;
    return moved;
  }
  p.frame->write(pkts_.data(), count, p.seq);
  p.seq += count;
  return moved + send(p, pkts_.data(), count);  // frames the ring refused did not move
}

}  // namespace vpmd::fwd
