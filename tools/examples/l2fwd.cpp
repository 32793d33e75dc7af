// l2fwd: the smallest complete vpmd program, the counterpart of DPDK's l2fwd.
// Start reading here.
//
//   l2fwd PORT [PORT]        e.g. l2fwd pci:0000:00:01.0 pci:0000:00:02.0
//
// With two ports, what arrives on one is sent out of the other; with one,
// it goes back out the same port. The devices must already be bound to
// vfio-pci (`vfio-bind bind BDF`). Stop it with Ctrl-C (SIGINT) or SIGTERM.
#include <array>
#include <csignal>
#include <cstdio>
#include <memory>
#include <vector>

#include "vpmd/port.hpp"

namespace {
volatile std::sig_atomic_t stop_requested = 0;
extern "C" void on_signal(int) { stop_requested = 1; }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: l2fwd PORT [PORT]   (PORT: pci:DDDD:BB:DD.F, bound to vfio-pci)\n");
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  // 1. Open the ports. Errors are values: print the message, which says what to do.
  std::vector<std::unique_ptr<vpmd::Port>> ports;
  for (int i = 1; i < argc; ++i) {
    auto port = vpmd::Port::open(argv[i]);
    if (!port) {
      std::fprintf(stderr, "l2fwd: %s: %s\n", argv[i], port.error().message.c_str());
      return 1;
    }
    ports.push_back(std::move(*port));
  }

  // 2. A pool of packets the devices can reach: it must be created with the
  //    port's dma_mapper() (every port of a process shares it).
  auto pool = vpmd::PacketPool::create({.count = 4095, .mapper = &ports[0]->dma_mapper(), .name = "l2fwd"});
  if (!pool) {
    std::fprintf(stderr, "l2fwd: packet pool: %s\n", pool.error().message.c_str());
    return 1;
  }

  // 3. This thread's cache of the pool, shared by every queue it polls (as
  //    DPDK's per-lcore mempool cache): packets received on one port and
  //    freed after sending on the other go round without touching the
  //    pool's shared ring.
  auto cache = (*pool)->make_cache();
  if (!cache) {
    std::fprintf(stderr, "l2fwd: pool cache: %s\n", cache.error().message.c_str());
    return 1;
  }

  // 4. One RX queue (filled from the pool) and one TX queue per port
  //    (ring size 0: the device's maximum), then start.
  for (auto& port : ports) {
    vpmd::Result<void> r = port->rx_queue_setup(0, 0, **pool, cache->get());
    if (r) r = port->tx_queue_setup(0, 0, pool->get(), cache->get());
    if (r) r = port->start();
    if (!r) {
      std::fprintf(stderr, "l2fwd: %s\n", r.error().message.c_str());
      return 1;
    }
    std::printf("l2fwd: port %s, path %s\n", port->transport().c_str(), port->path().c_str());
  }
  std::printf("l2fwd: forwarding (Ctrl-C stops)\n");
  std::fflush(stdout);

  // 5. Poll: receive a burst, send it on, free what the TX ring had no room for.
  unsigned long long received = 0, sent = 0;
  std::array<vpmd::Packet*, 32> burst{};
  for (uint32_t round = 1; !stop_requested; ++round) {
    // Every 1024 rounds, between bursts: the ports' upkeep (the TX watchdog;
    // on vhost-user, a back end that went away and came back).
    if ((round & 1023) == 0)
      for (auto& port : ports) port->upkeep();
    for (size_t i = 0; i < ports.size(); ++i) {
      vpmd::Port& in = *ports[i];
      vpmd::Port& out = *ports[ports.size() == 2 ? 1 - i : i];
      const uint16_t n = in.rx_burst(0, burst);
      if (n == 0) continue;
      const uint16_t ok = out.tx_burst(0, {burst.data(), n});
      (*pool)->free_bulk({burst.data() + ok, static_cast<size_t>(n - ok)}, cache->get());
      received += n;
      sent += ok;
    }
  }

  // 6. Stop: the device stops DMA and every packet comes back to the pool
  //    (the cache's too, when it goes).
  for (auto& port : ports) port->stop();
  cache->reset();
  const unsigned in_use = (*pool)->in_use();
  std::printf("l2fwd: received %llu, sent %llu, dropped %llu; packets not back in the pool: %u\n", received, sent,
              received - sent, in_use);
  return in_use == 0 ? 0 : 1;
}
