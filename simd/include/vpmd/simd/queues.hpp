#pragma once
// Per-queue state of the burst paths, templated on the ring type. Hot fields
// first (what every burst touches), configuration after, statistics last.
#include <cstdint>

#include "vpmd/mem/packet_pool.hpp"
#include "vpmd/ring/packed_ring.hpp"
#include "vpmd/ring/split_ring.hpp"
#include "vpmd/simd/doorbell.hpp"

namespace vpmd::simd {

struct QueueStats {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;           // RX: malformed lengths/headers dropped; TX: packets that could not be sent
  uint64_t missed = 0;           // RX: not observable on virtio (the device drops silently): stays 0
  uint64_t refill_failures = 0;  // RX: the pool had no buffers for a refill
  uint64_t kicks = 0;            // notifications rung (each may be an MMIO exit or a syscall)
  uint64_t renotifies = 0;       // TX: notifications rung again by the port's upkeep for a device that
                                 // completed nothing while packets waited (it missed one: see TxWatchdog)
};

// The ring types the paths are compiled for: split or packed, any order or
// IN_ORDER (virtio-v1.2 §2.7.9, §2.8.20), tokens are packets.
using SplitAny = ring::SplitRing<ring::AnyOrder<Packet>>;
using SplitInOrder = ring::SplitRing<ring::InOrder<Packet>>;
using PackedAny = ring::PackedRing<ring::AnyOrder<Packet>>;
using PackedInOrder = ring::PackedRing<ring::InOrder<Packet>>;

template <class Ring>
struct RxQueue {
  explicit RxQueue(Ring r) : ring(std::move(r)) {}
  Ring ring;
  PacketPool* pool = nullptr;
  PacketPool::Cache* cache = nullptr;  // owned by the port; used only by the polling thread
  Doorbell doorbell;
  uint16_t hdr_size = 12;       // virtio-net header the device writes first (§5.1.6)
  uint16_t post_off = 0;        // where a posted buffer starts in the packet's buffer (headroom - hdr)
  uint32_t post_len = 0;        // bytes posted per buffer
  uint16_t refill_threshold = 32;
  bool mergeable = false;       // VIRTIO_NET_F_MRG_RXBUF: num_buffers chains (§5.1.6.3.2)
  // VIRTIO_NET_F_GUEST_CSUM: only then may the device set DATA_VALID
  // (§5.1.6.4.1), so only then is the header's flags byte read: a cache
  // line of the packet the burst need not touch otherwise.
  bool guest_csum = false;
  uint16_t port_id = 0, queue_id = 0;
  // A mergeable packet whose buffers have not all arrived yet.
  Packet* partial = nullptr;
  Packet* partial_tail = nullptr;
  uint16_t partial_left = 0;
  QueueStats stats;
};

template <class Ring>
struct TxQueue {
  explicit TxQueue(Ring r) : ring(std::move(r)) {}
  Ring ring;
  Doorbell doorbell;
  uint16_t hdr_size = 12;
  uint16_t reclaim_threshold = 32;  // reap completions when fewer descriptors than this are free
  uint16_t reclaim_batch = 8;       // ... and at most max(this, burst size) of them per burst
  // One header slot per ring id, for packets without headroom for the
  // header: it goes in its own descriptor in front of the data (§5.1.6.2).
  std::byte* hdr_slots = nullptr;
  uint64_t hdr_slots_iova = 0;
  PacketPool* free_pool = nullptr;  // packets of this pool are freed through `cache`
  PacketPool::Cache* cache = nullptr;
  QueueStats stats;
};

}  // namespace vpmd::simd
