#pragma once
// Packet: 128 bytes of metadata in front of its buffer, split in two cache
// lines like DPDK's rte_mbuf so that an RX/TX burst touches only line 0.
//
// Object layout in a pool:  [Packet 128 B][headroom][data room], stride a
// multiple of 64 B, never crossing a page (so the buffer is IOVA-contiguous).
// buf_addr / buf_iova are set once when the pool is created, never per packet.
//
// Invariant of a FREE packet (kept by PacketPool::free, so alloc writes
// nothing):  next == nullptr, nb_segs == 1, data_off == the pool's headroom,
//            ol_flags == 0, pkt_len == data_len == 0.
// Every other field (port, queue, rss_hash, vlan_tci, packet_type, userdata,
// timestamp, and the line-1 TX-offload fields) is undefined after alloc: the
// RX path writes what it reports, and the TX offload fields are only read
// when ol_flags asks for them.
#include <cstddef>
#include <cstdint>

namespace vpmd {

class PacketPool;

// ol_flags bits (what the virtio-net header carries, virtio-v1.2 §5.1.6).
namespace ol {
inline constexpr std::uint64_t rx_csum_good = 1u << 0;     // VIRTIO_NET_HDR_F_DATA_VALID
inline constexpr std::uint64_t rx_csum_partial = 1u << 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM on RX
inline constexpr std::uint64_t rx_rss_hash = 1u << 2;      // rss_hash valid (§5.1.6.4.3)
inline constexpr std::uint64_t tx_csum = 1u << 8;          // fill csum_start/csum_offset (§5.1.6.2)
inline constexpr std::uint64_t tx_tso = 1u << 9;           // gso_type/gso_size/hdr_len valid
}  // namespace ol

struct alignas(64) Packet {
  // ---- cache line 0: what an RX burst writes and a TX burst reads ----
  std::byte* buf_addr;     // start of the buffer (headroom included)
  std::uint64_t buf_iova;  // device address of buf_addr (virtio-v1.2 §2.7.5)
  std::uint16_t data_off;  // data starts at buf_addr + data_off
  std::uint16_t nb_segs;   // segments in the chain (valid in the first one)
  std::uint16_t port;
  std::uint16_t queue;
  std::uint32_t pkt_len;   // bytes in the whole chain (valid in the first one)
  std::uint16_t data_len;  // bytes in this segment
  std::uint16_t buf_len;   // headroom + data room
  std::uint64_t ol_flags;  // ol:: bits
  std::uint32_t rss_hash;
  std::uint16_t vlan_tci;
  std::uint16_t packet_type;
  PacketPool* pool;        // where a free returns it: line 0, as TX reclaim reads it per packet
  std::uint64_t userdata;

  // ---- cache line 1: chaining and TX offloads (touched for chains/offloads) ----
  alignas(64) Packet* next;
  std::uint64_t timestamp;
  std::uint16_t csum_start;   // virtio_net_hdr.csum_start (§5.1.6.2)
  std::uint16_t csum_offset;  // virtio_net_hdr.csum_offset
  std::uint16_t gso_size;     // virtio_net_hdr.gso_size
  std::uint16_t hdr_len;      // virtio_net_hdr.hdr_len
  std::uint8_t gso_type;      // virtio_net_hdr.gso_type
  std::uint8_t reserved8[7];
  std::uint64_t reserved64[4];

  static constexpr std::uint16_t default_headroom = 128;
  static constexpr std::uint16_t default_data_room = 2048;
  // The smallest headroom a pool accepts: the largest virtio-net header a
  // driver may prepend in place (virtio-v1.2 §5.1.6: 12 bytes with
  // VIRTIO_F_VERSION_1, 20 with the hash report fields).
  static constexpr std::uint16_t min_headroom = 20;

  std::byte* data() noexcept { return buf_addr + data_off; }
  const std::byte* data() const noexcept { return buf_addr + data_off; }
  std::uint64_t iova() const noexcept { return buf_iova + data_off; }
  std::uint16_t headroom() const noexcept { return data_off; }
  std::uint16_t tailroom() const noexcept {
    return static_cast<std::uint16_t>(buf_len - data_off - data_len);
  }

  Packet* last() noexcept {
    Packet* p = this;
    while (p->next != nullptr) p = p->next;
    return p;
  }

  // Grows the last segment by n bytes at its end; returns where they start,
  // or nullptr (and changes nothing) if the last segment has no room.
  std::byte* append(std::uint16_t n) noexcept {
    Packet* l = nb_segs == 1 ? this : last();
    if (n > l->tailroom()) return nullptr;
    std::byte* p = l->data() + l->data_len;
    l->data_len = static_cast<std::uint16_t>(l->data_len + n);
    pkt_len += n;
    return p;
  }

  // Grows this (first) segment by n bytes at its front, into the headroom;
  // returns the new data start, or nullptr (and changes nothing) if no room.
  std::byte* prepend(std::uint16_t n) noexcept {
    if (n > data_off) return nullptr;
    data_off = static_cast<std::uint16_t>(data_off - n);
    data_len = static_cast<std::uint16_t>(data_len + n);
    pkt_len += n;
    return data();
  }

  // Appends the chain starting at tail to this chain. Returns false (and
  // changes nothing) if the segment count would not fit in nb_segs.
  bool chain(Packet* tail) noexcept {
    if (std::uint32_t{nb_segs} + tail->nb_segs > UINT16_MAX) return false;
    last()->next = tail;
    nb_segs = static_cast<std::uint16_t>(nb_segs + tail->nb_segs);
    pkt_len += tail->pkt_len;
    return true;
  }
};

static_assert(sizeof(Packet) == 128, "Packet metadata is exactly two cache lines");
static_assert(alignof(Packet) == 64, "Packet starts on a cache line");
static_assert(offsetof(Packet, buf_addr) == 0);
static_assert(offsetof(Packet, buf_iova) == 8);
static_assert(offsetof(Packet, data_off) == 16);
static_assert(offsetof(Packet, nb_segs) == 18);
static_assert(offsetof(Packet, pkt_len) == 24);
static_assert(offsetof(Packet, data_len) == 28);
static_assert(offsetof(Packet, buf_len) == 30);
static_assert(offsetof(Packet, ol_flags) == 32);
static_assert(offsetof(Packet, userdata) == 56, "line 0 is full: RX touches one cache line");
static_assert(offsetof(Packet, next) == 64, "chaining starts line 1");
static_assert(offsetof(Packet, pool) == 48, "a TX reclaim's free reads only line 0");
static_assert(Packet::default_headroom >= Packet::min_headroom,
              "the headroom must hold a virtio-net header (virtio-v1.2 §5.1.6)");
static_assert(Packet::min_headroom >= 12, "VIRTIO_F_VERSION_1 header is 12 bytes (virtio-v1.2 §5.1.6)");

}  // namespace vpmd
