#pragma once
// The TX watchdog: a device that missed a notification is notified again.
//
// A driver notifies only when the device asked for it (virtio-v1.2 §2.7.10
// avail_event, §2.8.10 event suppression). That works only if the device,
// after writing where it wants the next notification, makes the write
// visible before it looks at avail->idx once more (the device half of the
// full barrier in §2.7.13.4). QEMU 7.2's virtio-net TX completion path does
// not: virtio_net_tx_complete() flushes the queue, and each virtqueue_pop()
// writes avail_event = last_avail_idx with no barrier before the next pop
// reads avail->idx. When our avail->idx store and its avail_event store
// cross there, both sides read the other's old value: we see an event we
// have not reached and do not notify, QEMU sees an empty ring and waits.
// The queue then sits with packets in it until something notifies again,
// which may be never (a forwarder whose window is full sends nothing more).
//
// Nothing in the burst can tell that apart from a device that is merely
// slow, so the check runs in the port's upkeep (Port::upkeep, every few ms,
// off the burst path): packets waiting, and none completed (reaped by the
// upkeep or by a burst) since the last upkeep, twice in a row, rings the
// doorbell once more and counts it; while nothing completes, each further
// one waits twice as long (up to 128 upkeeps). A
// spurious notification is harmless (§2.7.13.4 allows them); a stall is not.
#include "vpmd/simd/tx_burst.hpp"

namespace vpmd::simd {

struct TxWatchdog {
  uint64_t completed = 0;    // packets sent and reaped, at the last upkeep
  uint8_t idle_upkeeps = 0;  // consecutive upkeeps with packets waiting and none completed
  uint8_t shift = 1;         // notify after 1 << shift of them: 2, then 4, ... 128

  // Call on the queue's polling thread, between bursts. Returns whether it
  // notified the device.
  template <class Ring>
  bool upkeep(TxQueue<Ring>& q) noexcept {
    if (q.ring.broken() != ring::Broken::none) return false;
    tx_reclaim(q);
    // Completions reaped here or by any burst since the last upkeep: a busy
    // queue reaps in its bursts and leaves this call nothing to find.
    const uint64_t done = q.stats.packets - q.ring.in_flight();
    if (done != completed || q.ring.in_flight() == 0) {
      completed = done;
      idle_upkeeps = 0;
      shift = 1;
      return false;
    }
    if (++idle_upkeeps < (1u << shift)) return false;
    // A notification that brought nothing: the device may just hold its
    // completions back (DPDK's vhost writes packed TX completions in batches
    // of up to ring size - 32), so the next one waits twice as long.
    idle_upkeeps = 0;
    if (shift < 7) ++shift;
    q.doorbell.ring(q.ring.notification_data());
    ++q.stats.renotifies;
    return true;
  }
};

}  // namespace vpmd::simd
