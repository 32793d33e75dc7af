#pragma once
// The public port API: open a device by a spec string, set up queues, start,
// poll rx_burst/tx_burst, stop, close. Start at tools/examples/l2fwd.cpp.
//
//   auto port = vpmd::Port::open("pci:0000:00:03.0");
//   auto pool = vpmd::PacketPool::create({.count = 4095, .mapper = &(*port)->dma_mapper()});
//   (*port)->rx_queue_setup(0, 256, **pool); (*port)->tx_queue_setup(0, 256, pool->get());
//   (*port)->start();
//   for (;;) { n = port->rx_burst(0, burst); ...; port->tx_burst(0, {burst, n}); }
//
// Setup calls return errors as values with an actionable message. The burst
// calls are noexcept, allocate nothing, take no lock, make no syscall but the
// doorbell, and cost one indirect call each (the per-queue dispatch table).
// On a stopped port, or for a queue id that does not exist, they return 0.
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vpmd/mem/packet_pool.hpp"
#include "vpmd/mem/result.hpp"
#include "vpmd/simd/burst_ops.hpp"
#include "vpmd/simd/queues.hpp"

namespace vpmd {

using simd::QueueStats;

struct PortConfig {
  uint16_t rx_queues = 1;
  uint16_t tx_queues = 1;
  bool packed = true;      // take RING_PACKED when offered
  bool in_order = true;    // take IN_ORDER when offered (and use the in-order path)
  bool mergeable = true;   // take MRG_RXBUF when offered
  bool event_idx = true;   // take EVENT_IDX when offered
  bool indirect = true;    // take INDIRECT_DESC when offered (multi-segment TX)
  uint16_t port_id = 0;    // copied into Packet::port on RX
  int numa_node = -1;      // ring memory placement (-1: the caller's node)
  // Highest ISA the burst paths may use. Scalar by default, opt-in as
  // DPDK's vectorized=1 (pmd::kDefaultMaxSimd says why); ask for
  // sse42/avx2/avx512.
  simd::SimdLevel max_simd = simd::SimdLevel::scalar;
};

class Port {
 public:
  // spec: "pci:DDDD:BB:DD.F" (or a bare BDF): binds nothing, the device must
  // already be on vfio-pci (`vfio-bind bind BDF`). Or "vhost-user:path=SOCK,..."
  // (see vpmd/pmd/vhost_user.hpp for the knobs): a back-end process on a
  // UNIX socket, sharing the port's DMA memory by fd.
  static Result<std::unique_ptr<Port>> open(std::string_view spec, const PortConfig& config = {});
  ~Port();
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  // The IOVA mapper of this device's DMA context: create packet pools with it
  // (PoolConfig::mapper) so their buffers are addressable by the device.
  IovaMapper& dma_mapper();

  // ring_size 0: the device's maximum (at most 1024). The pool must hold more
  // packets than the ring and have been created with dma_mapper().
  // cache: the polling thread's cache of `pool` (as DPDK's per-lcore mempool
  // cache), shared with the application and the TX queue so that packets
  // flowing in a circle never spill to the pool's ring; the caller promises
  // every user of that cache runs on one thread. nullptr: the queue makes
  // its own.
  Result<void> rx_queue_setup(uint16_t q, uint16_t ring_size, PacketPool& pool, PacketPool::Cache* cache = nullptr);
  // free_pool: the pool most sent packets come from; they are freed through
  // `cache` (a cache of free_pool, as above) or a per-queue cache; packets of
  // other pools go back to their own.
  Result<void> tx_queue_setup(uint16_t q, uint16_t ring_size, PacketPool* free_pool = nullptr,
                              PacketPool::Cache* cache = nullptr);
  Result<void> start();
  // Resets the device (no more DMA), returns every posted and in-flight
  // packet to its pool, and unbinds the bursts (they return 0).
  void stop();
  bool started() const { return started_; }

  uint16_t rx_burst(uint16_t q, std::span<Packet*> out) noexcept {
    if (q >= rx_.size()) return 0;
    const Entry<simd::RxFn>& e = rx_[q];
    return e.fn(e.queue, out.data(), static_cast<uint16_t>(std::min<size_t>(out.size(), UINT16_MAX)));
  }
  uint16_t tx_burst(uint16_t q, std::span<Packet* const> pkts) noexcept {
    if (q >= tx_.size()) return 0;
    const Entry<simd::TxFn>& e = tx_[q];
    return e.fn(e.queue, pkts.data(), static_cast<uint16_t>(std::min<size_t>(pkts.size(), UINT16_MAX)));
  }

  // Cumulative over the port's life: stop/start and reconnects keep counting.
  QueueStats rx_stats(uint16_t q) const;
  QueueStats tx_stats(uint16_t q) const;
  // Named counters: per queue ("rx_q0_packets", ...) and per port.
  std::vector<std::pair<std::string, uint64_t>> xstats() const;

  // One line per queue: ring size, free descriptors, buffers in flight, broken reason.
  std::string queue_state() const;

  // The port's upkeep; call it from the polling thread, between bursts,
  // every few milliseconds. It never blocks; on vhost-user it costs one
  // recv() (is the back end still there?), on PCI no syscall. When the device has gone away (a vhost-user back end that
  // exited) the bursts unbind (they return 0), every posted and in-flight
  // packet goes back to its pool, and later calls reconnect and restart the
  // port, every 100 ms at most (a syscall each). A TX queue whose device has
  // completed nothing over two upkeeps while packets wait is notified again
  // (tx_stats().renotifies): QEMU 7.2 can miss a notification
  // (simd/tx_watchdog.hpp). That watchdog touches every TX queue: when the
  // TX queues are polled by several threads, call upkeep(false) from one
  // thread and tx_upkeep(q) from the thread of each queue instead.
  void upkeep(bool tx_queues = true);
  // The TX watchdog of queue q alone, from the thread that polls it.
  void tx_upkeep(uint16_t q);
  // VIRTIO_NET_S_LINK_UP (true without STATUS), after upkeep(). Reading the
  // status is a config-space read: an I/O exit on PCI, so a PCI port's
  // poller should call upkeep() often and this only when it wants the link.
  bool link_up();
  std::array<uint8_t, 6> mac() const { return mac_; }
  uint16_t mtu() const { return mtu_; }
  uint64_t features() const;         // negotiated
  std::string features_string() const;
  std::string path() const;          // chosen burst path and why
  std::string transport() const;     // "pci-modern", "pci-legacy", "vhost-user"
  uint16_t rx_queue_count() const { return static_cast<uint16_t>(rx_.size()); }
  uint16_t tx_queue_count() const { return static_cast<uint16_t>(tx_.size()); }

  struct Impl;

 private:
  template <class Fn>
  struct Entry {
    Fn fn;
    void* queue;
  };
  explicit Port(std::unique_ptr<Impl> impl);
  void bind_stubs();
  void lose_device();
  void try_resume();

  std::vector<Entry<simd::RxFn>> rx_;
  std::vector<Entry<simd::TxFn>> tx_;
  std::unique_ptr<Impl> impl_;
  std::array<uint8_t, 6> mac_{};
  uint16_t mtu_ = 1500;
  bool started_ = false;
};

}  // namespace vpmd
