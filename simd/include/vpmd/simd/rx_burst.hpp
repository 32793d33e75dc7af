#pragma once
// The one RX body, for every ring type (virtio-v1.2 §5.1.6.3-4): reap used
// buffers, strip the virtio-net header, join mergeable chains
// (num_buffers), refill in batches, notify only when the ring says so.
#include <algorithm>

#include "vpmd/simd/kernel_path.hpp"
#include "vpmd/simd/queues.hpp"

namespace vpmd::simd {

// Path: ScalarPath (the ring's own methods) or VectorPath<level>
// (kernel_path.hpp); the body is the same, so are its results.
// Refills once at least refill_threshold descriptors are free: the check
// inline at every call, the work out of line.
template <class Ring, BurstPath Path = ScalarPath>
[[gnu::noinline]] void rx_refill_now(RxQueue<Ring>& q) noexcept {
  uint16_t free = q.ring.free_descriptors();
  Packet* bufs[64];
  const uint16_t off = q.post_off;
  const uint32_t len = q.post_len;
  bool added = false;
  while (free != 0) {
    const uint16_t n = std::min<uint16_t>(free, 64);
    if (!q.pool->alloc_bulk({bufs, n}, q.cache)) [[unlikely]] {
      ++q.stats.refill_failures;
      break;
    }
    // Device-writable buffers from the header slot to the end of the room,
    // made available at once.
    const uint16_t posted = Path::post(q.ring, std::span<Packet* const>(bufs, n), off, len);
    added |= posted != 0;
    if (posted != n) [[unlikely]] {  // the ring broke: what it did not take goes back
      q.pool->free_bulk(std::span<Packet* const>(bufs + posted, n - posted), q.cache);
      break;
    }
    free = static_cast<uint16_t>(free - n);
  }
  if (!added) return;
  if (q.ring.needs_notify()) {
    q.doorbell.ring(q.ring.notification_data());
    ++q.stats.kicks;
  }
}

template <class Ring, BurstPath Path = ScalarPath>
void rx_refill(RxQueue<Ring>& q) noexcept {
  if (q.ring.free_descriptors() >= q.refill_threshold) rx_refill_now<Ring, Path>(q);
}

// A burst that found used buffers refills first, before it takes any (DPDK's
// vector RX does the same), and on a split ring prefetches the used elements
// it will take before that: the refill's stores wait for their cache lines
// from the device's core (its last reads) while the bursts' loads are under
// way, instead of one wait after the other. Cross-core against DPDK's vhost
// back end (vpmd-fwd rxonly, FE busy cycles per packet, good rounds) this
// took the split vector path from 29.6-36.2 to 24.2-29.9, split in-order from
// 45.6-52.9 to 40.5-47.0, packed vector from 38.2-45.3 to 33.0-39.0, packed
// in-order from 35.0-44.7 to 30.7-32.5. The packed ring's used descriptors
// are lines the device is still writing past the ones it made used; they
// are not prefetched (that showed no gain, and more slow rounds). A poll that
// finds nothing refills only a ring half empty (a pool that ran dry), so the
// refill's cost stays in the bursts that move packets, as testpmd counts it
// for DPDK.

// The body of rx_burst for a ring with used buffers (below).
template <class Ring, BurstPath Path = ScalarPath>
[[gnu::noinline]] uint16_t rx_burst_used(RxQueue<Ring>& q, Packet** out, uint16_t n) noexcept {
  constexpr uint16_t kChunk = 64;
  Packet* bufs[kChunk];
  uint32_t lens[kChunk];
  uint16_t done = 0;
  uint64_t bytes = 0;
  // The queue's fields in locals: the stores to packets below could alias
  // them for the compiler, which would otherwise reload each per packet.
  const uint16_t hdr = q.hdr_size, post_off = q.post_off, port = q.port_id, queue = q.queue_id;
  const bool mergeable = q.mergeable, guest_csum = q.guest_csum;
  uint16_t partial_left = q.partial_left;
  if constexpr (Ring::kind == ring::RingKind::split) q.ring.prefetch_used(n);
  rx_refill<Ring, Path>(q);  // first: see above
  // Whole-packet first buffers in one fused pass (kernel_path.hpp: the
  // vector kernels' groups, or the scalar ring's reap with a finishing
  // sink); the loop below takes whatever it left (continuations, errors,
  // what the kernels leave to the scalar reap), so the results are the same.
  if (partial_left == 0)
    done = Path::rx(q.ring, RxHead{.hdr = hdr, .post_off = post_off, .port = port, .queue = queue,
                                   .mergeable = mergeable, .guest_csum = guest_csum},
                    out, n, bytes);
  while (done < n && q.ring.has_used()) {
    const uint16_t want = std::min<uint16_t>(kChunk, static_cast<uint16_t>(n - done));
    const uint16_t got = Path::reap(q.ring, std::span<Packet*>(bufs, want), std::span<uint32_t>(lens, want));
    for (uint16_t i = 0; i < got; ++i) {
      Packet* p = bufs[i];
      const uint32_t len = lens[i];
      if (partial_left != 0) [[unlikely]] {  // a continuation buffer: data from its first byte (§5.1.6.4)
        p->data_off = post_off;
        p->data_len = static_cast<uint16_t>(len);
        q.partial_tail->next = p;
        q.partial_tail = p;
        q.partial->pkt_len += len;
        ++q.partial->nb_segs;
        if (--partial_left == 0) {
          bytes += q.partial->pkt_len;
          out[done++] = q.partial;
          q.partial = nullptr;
        }
        continue;
      }
      // The ring already checked len <= posted length; the header must fit.
      if (len < hdr) [[unlikely]] {
        ++q.stats.errors;
        q.pool->free(p, q.cache);
        continue;
      }
      const std::byte* h = p->buf_addr + post_off;
      const uint32_t data_len = len - hdr;
      finish_first(p, h, data_len, port, queue, guest_csum);
      if (mergeable) {
        uint16_t nb;
        std::memcpy(&nb, h + hdr_num_buffers_off, sizeof nb);
        if (nb == 0) [[unlikely]] {  // §5.1.6.4: the device MUST set num_buffers >= 1
          ++q.stats.errors;
          q.pool->free(p, q.cache);
          continue;
        }
        if (nb > 1) {
          q.partial = q.partial_tail = p;
          partial_left = static_cast<uint16_t>(nb - 1);
          continue;
        }
      }
      bytes += data_len;
      out[done++] = p;
    }
    // Fewer than asked: nothing more was used when the reap looked. Asking
    // again costs a whole reap's setup (a ping-pong's every burst) and would
    // find at most what arrived since: the next burst takes that.
    if (got < want) break;
  }
  q.partial_left = partial_left;
  q.stats.packets += done;
  q.stats.bytes += bytes;
  return done;
}

// Nothing used (the usual poll of an idle queue, and every poll but one of
// a ping-pong): return without the body's setup or stack frame, so the
// polling loop turns faster and sees the next buffer sooner. Buffers still
// get refilled when half empty (a refill that found the pool empty is
// retried here; see rx_refill).
template <class Ring, BurstPath Path = ScalarPath>
uint16_t rx_burst(RxQueue<Ring>& q, Packet** out, uint16_t n) noexcept {
  if (q.ring.has_used()) return rx_burst_used<Ring, Path>(q, out, n);
  if (q.ring.free_descriptors() >= q.ring.size() / 2) rx_refill<Ring, Path>(q);
  return 0;
}

}  // namespace vpmd::simd
