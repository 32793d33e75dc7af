#pragma once
// The one TX body, for every ring type (virtio-v1.2 §5.1.6.2): reclaim
// completed packets in batches, push the virtio-net header into each
// packet's headroom (one descriptor for a one-segment packet), chain or
// indirect-table multi-segment packets, give a packet without headroom a
// header descriptor of its own, publish once, notify only when asked.
#include <algorithm>
#include <cstring>

#include "vpmd/simd/kernel_path.hpp"
#include "vpmd/simd/net_header.hpp"
#include "vpmd/simd/queues.hpp"

namespace vpmd::simd {

// Completions reaped per call into a stack array.
inline constexpr uint32_t kReclaimChunk = 64;

// Completed packets back to their pools. The common case: every packet from
// the queue's own pool, freed in bulk through its cache; anything else (or
// all, with no free_pool set) goes back to its own pool.
template <class Ring>
void tx_free(TxQueue<Ring>& q, Packet* const* done, uint32_t k) noexcept {
  const uint32_t own = q.free_pool != nullptr ? q.free_pool->free_own({done, k}, q.cache) : 0;
  for (uint32_t i = own; i < k; ++i) done[i]->pool->free(done[i]);
}

// Path: ScalarPath or VectorPath<level> (kernel_path.hpp), as in rx_burst.hpp.
// Reaps up to `max` completed packets, oldest first; returns how many.
template <class Ring, BurstPath Path = ScalarPath>
uint32_t tx_reclaim(TxQueue<Ring>& q, uint32_t max = UINT32_MAX) noexcept {
  Packet* done[kReclaimChunk];
  uint32_t lens[kReclaimChunk];
  uint32_t total = 0;
  while (total < max) {
    const auto want = static_cast<size_t>(std::min<uint32_t>(max - total, kReclaimChunk));
    const uint16_t k = Path::reap(q.ring, std::span<Packet*>(done, want), std::span<uint32_t>(lens, want));
    tx_free(q, done, k);
    total += k;
    if (k < want) break;
  }
  return total;
}

// The vector paths reclaim and add in one kernel call on a split ring
// (VectorPath::reclaim_tx) when one chunk holds the reclaim.
template <class Ring, class Path>
inline constexpr bool kFusedReclaim = Path::vector && std::same_as<Ring, SplitAny>;

template <class Ring, BurstPath Path = ScalarPath>
uint16_t tx_burst(TxQueue<Ring>& q, Packet* const* pkts, uint16_t n) noexcept {
  // Once fewer than reclaim_threshold descriptors are free, every burst reaps
  // a few completions (at most max(reclaim_batch, n)): the cost is spread over
  // the bursts instead of one burst freeing a whole ring (~2 us, the p99.9 of
  // a ping-pong), and a burst of n still finds room for n.
  const bool reclaim = q.ring.free_descriptors() < std::max<uint16_t>(q.reclaim_threshold, n);
  const uint16_t reap_max = std::max<uint16_t>(q.reclaim_batch, n);
  const bool fused = kFusedReclaim<Ring, Path> && reclaim && reap_max <= kReclaimChunk;
  if (reclaim && !fused) tx_reclaim<Ring, Path>(q, reap_max);
  const uint16_t hdr = q.hdr_size;
  uint64_t bytes = 0;
  // Then a run of plain packets (one segment, headroom for the header) in
  // one fused pass (kernel_path.hpp): each header zeroed, each packet one
  // descriptor. It stops at a packet that is not plain, or when the ring is
  // full, which the add_chain below then finds too; after each packet the
  // loop takes, the next run goes the same way. The vector paths on a split
  // ring reclaim in the same kernel call (VectorPath::reclaim_tx).
  uint16_t sent;
  if constexpr (kFusedReclaim<Ring, Path>) {
    if (fused) {
      Packet* done[kReclaimChunk];
      uint32_t lens[kReclaimChunk];
      uint16_t reaped;
      sent = Path::reclaim_tx(q.ring, done, lens, reap_max, reaped, hdr, pkts, n, bytes);
      tx_free(q, done, reaped);
    } else {
      sent = Path::tx(q.ring, hdr, pkts, n, bytes);
    }
  } else {
    sent = Path::tx(q.ring, hdr, pkts, n, bytes);
  }
  for (; sent < n; sent = static_cast<uint16_t>(sent + Path::tx(q.ring, hdr, pkts + sent, static_cast<uint16_t>(n - sent), bytes))) {
    Packet* p = pkts[sent];
    const bool own_hdr = p->data_off < hdr;  // no headroom: the header gets its own descriptor
    if (p->nb_segs > 31 || (own_hdr && q.hdr_slots == nullptr)) [[unlikely]] {
      // More segments than we chain, or nowhere to put the header: dropped
      // and counted (the caller's packet is consumed, like a device drop).
      ++q.stats.errors;
      p->pool->free(p);
      ++sent;
      continue;
    }
    // Full: next_id() names no free descriptor then, and its header slot
    // may belong to a buffer in flight.
    if (q.ring.free_descriptors() == 0) break;
    ring::Segment segs[32];
    uint16_t ns = 0;
    if (own_hdr) {
      const uint16_t slot = q.ring.next_id();
      clear_net_header(q.hdr_slots + size_t{slot} * hdr, hdr);
      segs[ns++] = {q.hdr_slots_iova + uint64_t{slot} * hdr, hdr, false};
      segs[ns++] = {p->iova(), p->data_len, false};
    } else {
      clear_net_header(p->data() - hdr, hdr);
      segs[ns++] = {p->iova() - hdr, static_cast<uint32_t>(p->data_len) + hdr, false};
    }
    for (Packet* s = p->next; s != nullptr && ns < 32; s = s->next) segs[ns++] = {s->iova(), s->data_len, false};
    if (!q.ring.add_chain({segs, ns}, p)) break;  // full (chain or indirect table)
    bytes += p->pkt_len;
    ++sent;
  }
  q.stats.packets += sent;
  q.stats.bytes += bytes;
  if (sent != 0) {
    Path::publish(q.ring);
    if (q.ring.needs_notify()) {
      q.doorbell.ring(q.ring.notification_data());
      ++q.stats.kicks;
    }
  }
  return sent;
}

}  // namespace vpmd::simd
