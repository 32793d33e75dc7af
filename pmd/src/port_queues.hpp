#pragma once
// The queues a started port owns: ring memory, ring, burst state, cache.
// Templated on the ring type chosen by the path selector; the port sees them
// through a small virtual interface used only at start and stop.
#include <memory>
#include <string>

#include "vpmd/pmd/virtio_device.hpp"
#include "vpmd/simd/queues.hpp"
#include "vpmd/simd/rx_burst.hpp"
#include "vpmd/simd/burst_ops.hpp"
#include "vpmd/simd/tx_watchdog.hpp"

namespace vpmd::pmd {

struct QueueHolder {
  virtual ~QueueHolder() = default;
  virtual void* state() = 0;
  virtual ring::RingAreas areas() const = 0;
  virtual uint16_t size() const = 0;
  virtual void set_doorbell(const simd::Doorbell& d) = 0;
  virtual void prime() {}      // RX: fill the ring before the first burst
  virtual void detach() = 0;   // after the device reset: every packet back to its pool
  virtual void upkeep() {}     // TX: the watchdog (simd/tx_watchdog.hpp); polling thread only
  virtual const simd::QueueStats& stats() const = 0;
  // "free=N in_flight=M broken=reason": for diagnostics.
  virtual std::string ring_state() const = 0;
};

struct RxSetup {
  uint16_t size = 0;
  PacketPool* pool = nullptr;
  PacketPool::Cache* cache = nullptr;  // the caller's (polling thread's), or nullptr: the queue's own
};
struct TxSetup {
  uint16_t size = 0;
  PacketPool* free_pool = nullptr;
  bool configured = false;
  PacketPool::Cache* cache = nullptr;
};

struct QueueParams {
  uint64_t features = 0;
  ring::LayoutKind layout = ring::LayoutKind::modern;
  uint16_t hdr_size = 12;
  uint16_t port_id = 0, queue_id = 0;
  int numa_node = -1;
  // Ask the device for no used-buffer notifications (a polling driver needs
  // none). On for vhost-user; PCI keeps the device's default. It was among
  // the suspects of the qemu_fwd_pair_legacy_split stall, whose cause turned
  // out to be QEMU missing a TX notification (simd/tx_watchdog.hpp); turning
  // it on for PCI is left until its effect on QEMU guests is measured.
  bool suppress_interrupts = false;
};

Result<std::unique_ptr<QueueHolder>> make_rx_queue(ring::RingKind kind, simd::Policy policy, IovaMapper& mapper,
                                                   const QueueParams& p, const RxSetup& s);
Result<std::unique_ptr<QueueHolder>> make_tx_queue(ring::RingKind kind, simd::Policy policy, IovaMapper& mapper,
                                                   const QueueParams& p, const TxSetup& s);

}  // namespace vpmd::pmd
