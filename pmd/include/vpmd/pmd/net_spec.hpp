#pragma once
// virtio-net as the spec lays it out (virtio-v1.2 §5.1): feature bits, the
// device configuration layout and the per-packet header.
#include <cstddef>
#include <cstdint>
#include <string>

namespace vpmd::pmd {

// virtio-v1.2 §5.1.3 (device) and §6 (reserved) feature bits.
namespace net_feature {
inline constexpr uint64_t csum = 1ull << 0;
inline constexpr uint64_t guest_csum = 1ull << 1;
inline constexpr uint64_t ctrl_guest_offloads = 1ull << 2;
inline constexpr uint64_t mtu = 1ull << 3;
inline constexpr uint64_t mac = 1ull << 5;
inline constexpr uint64_t guest_tso4 = 1ull << 7;
inline constexpr uint64_t guest_tso6 = 1ull << 8;
inline constexpr uint64_t host_tso4 = 1ull << 11;
inline constexpr uint64_t host_tso6 = 1ull << 12;
inline constexpr uint64_t mrg_rxbuf = 1ull << 15;
inline constexpr uint64_t status = 1ull << 16;
inline constexpr uint64_t ctrl_vq = 1ull << 17;
inline constexpr uint64_t ctrl_rx = 1ull << 18;
inline constexpr uint64_t ctrl_vlan = 1ull << 19;
inline constexpr uint64_t guest_announce = 1ull << 21;
inline constexpr uint64_t mq = 1ull << 22;
inline constexpr uint64_t ctrl_mac_addr = 1ull << 23;
inline constexpr uint64_t notify_on_empty = 1ull << 24;  // legacy
inline constexpr uint64_t any_layout = 1ull << 27;       // legacy
inline constexpr uint64_t indirect_desc = 1ull << 28;
inline constexpr uint64_t event_idx = 1ull << 29;
inline constexpr uint64_t version_1 = 1ull << 32;
inline constexpr uint64_t access_platform = 1ull << 33;
inline constexpr uint64_t ring_packed = 1ull << 34;
inline constexpr uint64_t in_order = 1ull << 35;
inline constexpr uint64_t order_platform = 1ull << 36;
inline constexpr uint64_t notification_data = 1ull << 38;
inline constexpr uint64_t ring_reset = 1ull << 40;
inline constexpr uint64_t hash_report = 1ull << 57;
inline constexpr uint64_t rss = 1ull << 60;
inline constexpr uint64_t speed_duplex = 1ull << 63;
}  // namespace net_feature

// "MAC|STATUS|VERSION_1|..." for logs and the path selector's reasons.
std::string feature_names(uint64_t features);

// Device configuration layout (virtio-v1.2 §5.1.4), byte offsets.
namespace net_config {
inline constexpr uint32_t mac = 0;                  // u8[6], with VIRTIO_NET_F_MAC
inline constexpr uint32_t status = 6;               // le16, with VIRTIO_NET_F_STATUS
inline constexpr uint32_t max_virtqueue_pairs = 8;  // le16, with VIRTIO_NET_F_MQ or RSS
inline constexpr uint32_t mtu = 10;                 // le16, with VIRTIO_NET_F_MTU
inline constexpr uint32_t speed = 12;               // le32, with SPEED_DUPLEX
inline constexpr uint32_t duplex = 16;              // u8
inline constexpr uint16_t status_link_up = 1;       // VIRTIO_NET_S_LINK_UP
inline constexpr uint16_t status_announce = 2;      // VIRTIO_NET_S_ANNOUNCE
}  // namespace net_config

// The header before every packet on both queues (virtio-v1.2 §5.1.6): 12
// bytes with VERSION_1 or MRG_RXBUF (num_buffers present), 10 without.
struct NetHdr {
  uint8_t flags;        // NEEDS_CSUM, DATA_VALID, RSC_INFO
  uint8_t gso_type;     // NONE, TCPV4, UDP, TCPV6, UDP_L4, ECN
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
  uint16_t num_buffers;  // mergeable RX: buffers this packet spans
};
static_assert(sizeof(NetHdr) == 12 && offsetof(NetHdr, num_buffers) == 10);
static_assert(offsetof(NetHdr, hdr_len) == 2 && offsetof(NetHdr, csum_offset) == 8);

constexpr uint32_t net_hdr_size(uint64_t features) {
  return (features & (net_feature::version_1 | net_feature::mrg_rxbuf)) ? 12 : 10;
}

// Queue indices (virtio-v1.2 §5.1.2): receiveq_n = 2n, transmitq_n = 2n+1,
// controlq = 2 * max_virtqueue_pairs (2 without MQ).
constexpr uint16_t rx_queue_index(uint16_t pair) { return static_cast<uint16_t>(2 * pair); }
constexpr uint16_t tx_queue_index(uint16_t pair) { return static_cast<uint16_t>(2 * pair + 1); }

}  // namespace vpmd::pmd
