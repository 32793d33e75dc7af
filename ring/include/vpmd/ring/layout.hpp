#pragma once
// Where each area of a virtqueue lives inside one block of DMA memory.
//
// Modern split (virtio-v1.2 §2.7, Table "Virtqueue Part Alignment"): three
// areas with their own alignments (descriptors 16, driver area 2, device area 4);
// we place them back to back in one block, each aligned, so one allocation
// serves and the transport gets three IOVAs.
//
// Legacy split (virtio-v1.2 §2.7.2 "Legacy Interfaces: A Note on Virtqueue
// Layout"): one physically contiguous block, descriptors then avail ring, then
// the used ring at the next 4096 boundary; the transport passes only the
// block's page frame number (queue_pfn = iova >> 12).
//
// Packed (virtio-v1.2 §2.8.10): descriptor ring (align 16) and the driver and
// device event suppression structures (align 4 each).
//
//   | desc / desc ring | driver area | pad | device area | pad | indirect tables |
#include <cstddef>
#include <cstdint>

#include "vpmd/ring/spec.hpp"

namespace vpmd::ring {

enum class RingKind : uint8_t { split, packed };
enum class LayoutKind : uint8_t { modern, legacy };

struct Layout {
  size_t desc = 0;       // offset of the descriptor table / ring
  size_t driver = 0;     // offset of the driver area (avail ring) / driver event suppression
  size_t device = 0;     // offset of the device area (used ring) / device event suppression
  size_t indirect = 0;   // offset of the indirect tables, if any
  size_t total = 0;      // bytes needed for the whole block
  size_t alignment = 0;  // alignment the block itself needs (IOVA and VA)
};

constexpr size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }
constexpr bool is_pow2(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Queue sizes the spec allows: split rings a power of two (§2.7), packed rings
// any size (§2.8), both at most 32768.
constexpr bool valid_queue_size(RingKind kind, uint32_t size) {
  if (size == 0 || size > max_queue_size) return false;
  return kind == RingKind::packed || is_pow2(size);
}

// Driver area: flags, idx, ring[N], used_event (§2.7.6).
constexpr size_t split_avail_bytes(uint32_t n) { return sizeof(SplitAvailHeader) + 2 * n + 2; }
// Device area: flags, idx, ring[N], avail_event (§2.7.8).
constexpr size_t split_used_bytes(uint32_t n) { return sizeof(SplitUsedHeader) + sizeof(SplitUsedElem) * n + 2; }

// indirect_entries: descriptors per indirect table (0 = no indirect tables);
// one table per possible head, so no table is ever shared or allocated later.
constexpr Layout split_layout(uint32_t n, LayoutKind kind, uint32_t indirect_entries = 0) {
  Layout l;
  l.desc = 0;
  l.driver = sizeof(SplitDesc) * n;
  if (kind == LayoutKind::legacy) {
    l.device = align_up(l.driver + split_avail_bytes(n), 4096);  // §2.7.2: used ring 4096-aligned
    l.alignment = 4096;
  } else {
    l.device = align_up(l.driver + split_avail_bytes(n), 4);
    l.alignment = 64;  // 16 required; a cache line keeps the descriptor table line-aligned
  }
  size_t end = l.device + split_used_bytes(n);
  l.indirect = align_up(end, 64);
  l.total = l.indirect + size_t{indirect_entries} * sizeof(SplitDesc) * n;
  if (indirect_entries == 0) l.total = end;
  return l;
}

constexpr Layout packed_layout(uint32_t n, uint32_t indirect_entries = 0) {
  Layout l;
  l.desc = 0;
  l.driver = sizeof(PackedDesc) * n;
  l.device = l.driver + sizeof(PackedEvent);
  size_t end = l.device + sizeof(PackedEvent);
  l.indirect = align_up(end, 64);
  l.total = indirect_entries ? l.indirect + size_t{indirect_entries} * sizeof(PackedDesc) * n : end;
  l.alignment = 64;
  return l;
}

// Layout checks against the spec's worked numbers.
static_assert(split_layout(256, LayoutKind::modern).driver == 4096);
static_assert(split_layout(256, LayoutKind::modern).device == 4096 + 518 + 2);  // 4-aligned
static_assert(split_layout(256, LayoutKind::legacy).device == 8192);          // 4096 + 518 -> 8192
static_assert(split_layout(256, LayoutKind::legacy).total == 8192 + 6 + 8 * 256);
static_assert(packed_layout(256).device == 4096 + 4 && packed_layout(256).total == 4104);
static_assert(valid_queue_size(RingKind::packed, 3) && !valid_queue_size(RingKind::split, 3));
static_assert(!valid_queue_size(RingKind::split, 65536) && valid_queue_size(RingKind::split, 32768));

}  // namespace vpmd::ring
