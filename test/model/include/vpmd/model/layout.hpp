#pragma once
// The device's own reading of the virtqueue memory layout, written from the
// virtio 1.2 specification alone (deliberately NOT from ring/, so a misreading
// of the spec on the driver side is caught instead of mirrored).
//
// All fields are little-endian (virtio-v1.2 §2.7 / §2.8: "le16", "le32",
// "le64"); the model only runs on little-endian hosts, checked below, so the
// leN types are plain unsigned integers of the right width.
#include <bit>
#include <cstddef>
#include <cstdint>

namespace vpmd::model {

static_assert(std::endian::native == std::endian::little,
              "the model stores virtio le16/le32/le64 fields natively: little-endian hosts only");

using le16 = std::uint16_t;
using le32 = std::uint32_t;
using le64 = std::uint64_t;

// Feature bits the model honours (virtio-v1.2 §6 "Reserved Feature Bits").
inline constexpr unsigned kFeatureIndirectDesc = 28;  // VIRTIO_F_INDIRECT_DESC
inline constexpr unsigned kFeatureEventIdx = 29;      // VIRTIO_F_EVENT_IDX
inline constexpr unsigned kFeatureRingPacked = 34;    // VIRTIO_F_RING_PACKED
inline constexpr unsigned kFeatureInOrder = 35;       // VIRTIO_F_IN_ORDER

constexpr std::uint64_t feature_bit(unsigned bit) { return std::uint64_t{1} << bit; }
constexpr bool has_feature(std::uint64_t features, unsigned bit) { return (features & feature_bit(bit)) != 0; }

// Largest queue size either ring format allows (virtio-v1.2 §2.7 "Queue Size
// ... maximum Queue Size value is 32768"; §2.8 same bound for packed).
inline constexpr std::uint32_t kMaxQueueSize = 32768;

// ---------------------------------------------------------------------------
// Split virtqueue (virtio-v1.2 §2.7)
// ---------------------------------------------------------------------------

// §2.7.5 The Virtqueue Descriptor Table: 16 bytes, 16-byte aligned table.
struct SplitDesc {
  le64 addr;
  le32 len;
  le16 flags;
  le16 next;
};
static_assert(sizeof(SplitDesc) == 16);
static_assert(offsetof(SplitDesc, addr) == 0);
static_assert(offsetof(SplitDesc, len) == 8);
static_assert(offsetof(SplitDesc, flags) == 12);
static_assert(offsetof(SplitDesc, next) == 14);

inline constexpr le16 kDescFNext = 1;      // VIRTQ_DESC_F_NEXT (§2.7.5)
inline constexpr le16 kDescFWrite = 2;     // VIRTQ_DESC_F_WRITE: device-writable
inline constexpr le16 kDescFIndirect = 4;  // VIRTQ_DESC_F_INDIRECT (§2.7.5.3)

// §2.7.6 The Virtqueue Available Ring:
//   le16 flags; le16 idx; le16 ring[size]; le16 used_event (only with EVENT_IDX)
inline constexpr std::size_t kAvailFlagsOff = 0;
inline constexpr std::size_t kAvailIdxOff = 2;
constexpr std::size_t avail_ring_off(std::uint32_t i) { return 4 + 2 * std::size_t{i}; }
constexpr std::size_t avail_used_event_off(std::uint32_t size) { return 4 + 2 * std::size_t{size}; }
constexpr std::size_t avail_area_bytes(std::uint32_t size) { return 6 + 2 * std::size_t{size}; }
inline constexpr le16 kAvailFNoInterrupt = 1;  // VIRTQ_AVAIL_F_NO_INTERRUPT (§2.7.7)

// §2.7.8 The Virtqueue Used Ring:
//   le16 flags; le16 idx; struct virtq_used_elem ring[size]; le16 avail_event
struct UsedElem {
  le32 id;   // head index of the used descriptor chain (le32 for padding, §2.7.8)
  le32 len;  // bytes written into the device-writable part of the buffer
};
static_assert(sizeof(UsedElem) == 8);
static_assert(offsetof(UsedElem, id) == 0);
static_assert(offsetof(UsedElem, len) == 4);

inline constexpr std::size_t kUsedFlagsOff = 0;
inline constexpr std::size_t kUsedIdxOff = 2;
constexpr std::size_t used_ring_off(std::uint32_t i) { return 4 + sizeof(UsedElem) * std::size_t{i}; }
constexpr std::size_t used_avail_event_off(std::uint32_t size) { return 4 + 8 * std::size_t{size}; }
constexpr std::size_t used_area_bytes(std::uint32_t size) { return 6 + 8 * std::size_t{size}; }
inline constexpr le16 kUsedFNoNotify = 1;  // VIRTQ_USED_F_NO_NOTIFY (§2.7.10)

// §2.7 table "Virtqueue Part / Alignment": descriptor table 16, avail 2, used 4.
inline constexpr std::size_t kSplitDescAlign = 16;
inline constexpr std::size_t kSplitAvailAlign = 2;
inline constexpr std::size_t kSplitUsedAlign = 4;

static_assert(avail_ring_off(0) == 4 && avail_used_event_off(256) == 516);
static_assert(used_ring_off(0) == 4 && used_avail_event_off(256) == 2052);

// §2.7.7.2 / §2.7.10: the wrap-safe "has the other side passed event?" test.
// True when event_idx lies in the half-open window [old_idx, new_idx) of
// 16-bit free-running indexes, i.e. one of the entries just published is the
// one the other side asked to be told about.
constexpr bool need_event(std::uint16_t event_idx, std::uint16_t new_idx, std::uint16_t old_idx) {
  return static_cast<std::uint16_t>(new_idx - event_idx - 1) < static_cast<std::uint16_t>(new_idx - old_idx);
}

// ---------------------------------------------------------------------------
// Packed virtqueue (virtio-v1.2 §2.8)
// ---------------------------------------------------------------------------

// §2.8.13 Packed Virtqueue Descriptor: 16 bytes, 16-byte aligned ring.
struct PackedDesc {
  le64 addr;
  le32 len;
  le16 id;     // Buffer ID (§2.8.4); in a list it is read from the last descriptor (§2.8.6)
  le16 flags;  // AVAIL/USED wrap bits plus NEXT/WRITE/INDIRECT
};
static_assert(sizeof(PackedDesc) == 16);
static_assert(offsetof(PackedDesc, addr) == 0);
static_assert(offsetof(PackedDesc, len) == 8);
static_assert(offsetof(PackedDesc, id) == 12);
static_assert(offsetof(PackedDesc, flags) == 14);

inline constexpr le16 kPackedDescFAvail = 1u << 7;   // VIRTQ_DESC_F_AVAIL (§2.8.1)
inline constexpr le16 kPackedDescFUsed = 1u << 15;   // VIRTQ_DESC_F_USED

// §2.8.10 Event Suppression Structure Format (both driver and device areas).
struct EventSuppress {
  le16 off_wrap;  // bits 0..14 descriptor ring offset, bit 15 wrap counter
  le16 flags;     // RING_EVENT_FLAGS_{ENABLE,DISABLE,DESC}
};
static_assert(sizeof(EventSuppress) == 4);
static_assert(offsetof(EventSuppress, off_wrap) == 0);
static_assert(offsetof(EventSuppress, flags) == 2);

inline constexpr le16 kRingEventFlagsEnable = 0x0;
inline constexpr le16 kRingEventFlagsDisable = 0x1;
inline constexpr le16 kRingEventFlagsDesc = 0x2;  // only with VIRTIO_F_EVENT_IDX

// §2.8 alignment: descriptor ring 16, both event suppression areas 4.
inline constexpr std::size_t kPackedDescAlign = 16;
inline constexpr std::size_t kPackedEventAlign = 4;

}  // namespace vpmd::model
