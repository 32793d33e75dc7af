#pragma once
// Virtqueue structures as the spec lays them out in memory shared with the
// device (virtio-v1.2 §2.7 split, §2.8 packed). All fields are little-endian
// (virtio-v1.2 §2.7 "le16/le32/le64"); vpmd targets little-endian hosts only,
// which the static_assert below makes explicit.
//
// Split ring (virtio-v1.2 §2.7), three areas:
//
//   Descriptor Table (16 * N, align 16)   Driver Area (avail, align 2)        Device Area (used, align 4)
//   +------+-----+-------+------+         +-------+-----+--------+--------+   +-------+-----+-----------------+--------+
//   | addr | len | flags | next | x N     | flags | idx | ring[N]| used_ev|   | flags | idx | ring[N]{id,len} |avail_ev|
//   +------+-----+-------+------+         +-------+-----+--------+--------+   +-------+-----+-----------------+--------+
//
// Packed ring (virtio-v1.2 §2.8): one Descriptor Ring of N {addr, len, id, flags}
// plus a Driver and a Device Event Suppression structure {desc, flags}.
#include <bit>
#include <cstddef>
#include <cstdint>

namespace vpmd::ring {

static_assert(std::endian::native == std::endian::little, "virtio rings are little-endian; vpmd runs on LE hosts");

// Feature bits the ring layer cares about (virtio-v1.2 §6 "Reserved Feature Bits").
namespace feature {
inline constexpr uint64_t indirect_desc = 1ull << 28;      // VIRTIO_F_INDIRECT_DESC
inline constexpr uint64_t event_idx = 1ull << 29;          // VIRTIO_F_EVENT_IDX
inline constexpr uint64_t version_1 = 1ull << 32;          // VIRTIO_F_VERSION_1
inline constexpr uint64_t access_platform = 1ull << 33;    // VIRTIO_F_ACCESS_PLATFORM
inline constexpr uint64_t ring_packed = 1ull << 34;        // VIRTIO_F_RING_PACKED
inline constexpr uint64_t in_order = 1ull << 35;           // VIRTIO_F_IN_ORDER
inline constexpr uint64_t order_platform = 1ull << 36;     // VIRTIO_F_ORDER_PLATFORM
inline constexpr uint64_t notification_data = 1ull << 38;  // VIRTIO_F_NOTIFICATION_DATA
}  // namespace feature

// ---- split ring, virtio-v1.2 §2.7.5 -----------------------------------------
struct SplitDesc {
  uint64_t addr;   // buffer IOVA
  uint32_t len;    // buffer length
  uint16_t flags;  // NEXT | WRITE | INDIRECT
  uint16_t next;   // next descriptor of the chain when flags & NEXT
};
static_assert(sizeof(SplitDesc) == 16 && alignof(SplitDesc) == 8);
static_assert(offsetof(SplitDesc, addr) == 0 && offsetof(SplitDesc, len) == 8);
static_assert(offsetof(SplitDesc, flags) == 12 && offsetof(SplitDesc, next) == 14);

namespace desc_flag {
inline constexpr uint16_t next = 1;      // VIRTQ_DESC_F_NEXT (§2.7.5)
inline constexpr uint16_t write = 2;     // VIRTQ_DESC_F_WRITE: device writes, driver reads
inline constexpr uint16_t indirect = 4;  // VIRTQ_DESC_F_INDIRECT (§2.7.5.3)
inline constexpr uint16_t avail = 1u << 7;  // packed: VIRTQ_DESC_F_AVAIL (§2.8.1)
inline constexpr uint16_t used = 1u << 15;  // packed: VIRTQ_DESC_F_USED (§2.8.1)
}  // namespace desc_flag

// Driver area header (§2.7.6): flags, idx, then ring[N], then used_event.
struct SplitAvailHeader {
  uint16_t flags;  // VIRTQ_AVAIL_F_NO_INTERRUPT
  uint16_t idx;    // next slot the driver will write, free-running mod 2^16
};
static_assert(sizeof(SplitAvailHeader) == 4);
inline constexpr uint16_t avail_f_no_interrupt = 1;  // §2.7.7

struct SplitUsedElem {
  uint32_t id;   // head descriptor index of the completed chain (le32, §2.7.8)
  uint32_t len;  // bytes the device wrote into the chain's writable part
};
static_assert(sizeof(SplitUsedElem) == 8 && offsetof(SplitUsedElem, len) == 4);

// Device area header (§2.7.8): flags, idx, then ring[N], then avail_event.
struct SplitUsedHeader {
  uint16_t flags;  // VIRTQ_USED_F_NO_NOTIFY
  uint16_t idx;
};
static_assert(sizeof(SplitUsedHeader) == 4);
inline constexpr uint16_t used_f_no_notify = 1;  // §2.7.10

// ---- packed ring, virtio-v1.2 §2.8.13 ----------------------------------------
struct PackedDesc {
  uint64_t addr;
  uint32_t len;
  uint16_t id;     // buffer id, chosen by the driver, echoed by the device
  uint16_t flags;  // AVAIL/USED wrap bits, NEXT, WRITE, INDIRECT
};
static_assert(sizeof(PackedDesc) == 16 && alignof(PackedDesc) == 8);
static_assert(offsetof(PackedDesc, len) == 8 && offsetof(PackedDesc, id) == 12);
static_assert(offsetof(PackedDesc, flags) == 14);

// Event suppression structure (§2.8.14), one for the driver, one for the device.
struct PackedEvent {
  uint16_t off_wrap;  // bits 0..14 descriptor offset, bit 15 wrap counter
  uint16_t flags;     // ENABLE / DISABLE / DESC
};
static_assert(sizeof(PackedEvent) == 4 && offsetof(PackedEvent, flags) == 2);
namespace event_flag {
inline constexpr uint16_t enable = 0;   // RING_EVENT_FLAGS_ENABLE
inline constexpr uint16_t disable = 1;  // RING_EVENT_FLAGS_DISABLE
inline constexpr uint16_t desc = 2;     // RING_EVENT_FLAGS_DESC (needs EVENT_IDX)
}  // namespace event_flag

// Largest queue the spec allows (§2.7: Queue Size up to 32768; §2.8 likewise).
inline constexpr uint32_t max_queue_size = 32768;

}  // namespace vpmd::ring
