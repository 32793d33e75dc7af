#pragma once
// The any-order rings' state as plain data, for the per-ISA vector kernels
// (simd/src/arch/): RingInternals<Ring>::load() copies the shadows out and
// the array/area pointers, store() writes the shadows back. The kernels see
// only these structs (no ring member function, no inline function shared
// with baseline code), so nothing compiled with -mavx2 / -mavx512bw can be
// picked by the linker for baseline code (see vector_kernels.hpp).
#include <cstdint>

#include "vpmd/mem/packet.hpp"
#include "vpmd/ring/packed_ring.hpp"
#include "vpmd/ring/split_ring.hpp"

namespace vpmd::simd {

// Split ring, any order (virtio-v1.2 §2.7). Shadows are in/out.
struct SplitState {
  ring::SplitDesc* desc;
  uint16_t* avail_ring;
  ring::SplitUsedHeader* used;
  const ring::SplitUsedElem* used_ring;
  Packet** tokens;
  uint32_t* cap;
  uint16_t* ndesc;
  uint16_t* last;
  uint16_t* next;          // size + 1 entries: [size] is the free queue's sentinel
  uint16_t* avail_shadow;  // what each avail slot holds: store only what changes
  uint16_t size, mask;
  uint16_t avail_idx, last_used, free_head, num_free, inflight, free_tail;
};

// Packed ring, any order (virtio-v1.2 §2.8). Shadows are in/out.
struct PackedState {
  ring::PackedDesc* desc;
  Packet** tokens;
  uint32_t* cap;
  uint16_t* ndesc;
  uint16_t* id_next;
  uint16_t* pending_head;
  uint16_t* pending_flags;
  uint16_t size;
  uint16_t next_avail, next_used;
  bool avail_wrap, used_wrap;
  uint16_t lap_flags;
  uint16_t free_id, num_free, inflight;
  uint16_t unpublished, unpublished_desc, added;
};

// What the fused RX kernels need to finish a first buffer the way rx_burst's
// body does (virtio-v1.2 §5.1.6.4): header size, where the header sits in
// the buffer, the port/queue stamped on each packet, and whether
// num_buffers must be read (MRG_RXBUF: only num_buffers == 1 is fused).
struct RxHead {
  uint16_t hdr = 12;
  uint16_t post_off = 0;
  uint16_t port = 0, queue = 0;
  bool mergeable = false;
  bool guest_csum = false;  // RxQueue::guest_csum
};

}  // namespace vpmd::simd

namespace vpmd::ring {

template <>
struct RingInternals<SplitRing<AnyOrder<Packet>>> {
  using R = SplitRing<AnyOrder<Packet>>;
  static bool usable(const R& r) noexcept { return r.broken_ == Broken::none; }
  static simd::SplitState load(R& r) noexcept {
    return {r.desc_, r.avail_ring_, r.used_, r.used_ring_, r.tokens_.get(), r.cap_.get(), r.ndesc_.get(),
            r.last_.get(), r.next_.get(), r.avail_shadow_.get(), r.size_, r.mask_, r.avail_idx_.value(),
            r.last_used_.value(), r.free_head_, r.num_free_, r.inflight_, r.free_tail_};
  }
  static void store(R& r, const simd::SplitState& s) noexcept {
    r.avail_idx_ = RingIdx(s.avail_idx);
    r.last_used_ = RingIdx(s.last_used);
    r.free_head_ = s.free_head;
    r.num_free_ = s.num_free;
    r.inflight_ = s.inflight;
    r.free_tail_ = s.free_tail;
  }
  // Whether a kernel call may find a whole group: 4 used elements past ours
  // (a peek, as has_used(); the kernel acquires used->idx itself).
  static bool group_ready(const R& r) noexcept {
    return static_cast<uint16_t>(barrier::peek(r.used_->idx) - r.last_used_.value()) >= 4;
  }
  // What reap() does after taking buffers (virtio-v1.2 §2.7.10 used_event).
  static void after_reap(R& r) noexcept {
    if (r.irq_enabled_ && r.event_idx_) barrier::poke(*r.used_event_, r.last_used_.value());
  }
};

template <>
struct RingInternals<PackedRing<AnyOrder<Packet>>> {
  using R = PackedRing<AnyOrder<Packet>>;
  static bool usable(const R& r) noexcept { return r.broken_ == Broken::none; }
  static simd::PackedState load(R& r) noexcept {
    return {r.desc_, r.tokens_.get(), r.cap_.get(), r.ndesc_.get(), r.id_next_.get(), r.pending_head_.get(),
            r.pending_flags_.get(), r.size_, r.next_avail_, r.next_used_, r.avail_wrap_, r.used_wrap_,
            r.lap_flags_, r.free_id_, r.num_free_, r.inflight_, r.unpublished_, r.unpublished_desc_, r.added_};
  }
  static void store(R& r, const simd::PackedState& s) noexcept {
    r.next_avail_ = s.next_avail;
    r.next_used_ = s.next_used;
    r.avail_wrap_ = s.avail_wrap;
    r.used_wrap_ = s.used_wrap;
    r.lap_flags_ = s.lap_flags;
    r.free_id_ = s.free_id;
    r.num_free_ = s.num_free;
    r.inflight_ = s.inflight;
    r.unpublished_ = s.unpublished;
    r.unpublished_desc_ = s.unpublished_desc;
    r.added_ = s.added;
  }
  // Whether a kernel call may find a whole group: the fourth descriptor
  // from ours is used in this lap (a peek; the kernel acquires each flag
  // itself), before the ring's end (a group never wraps).
  static bool group_ready(const R& r) noexcept {
    const uint32_t last = uint32_t{r.next_used_} + 3;
    if (last >= r.size_) return false;
    const uint16_t f = barrier::peek(r.desc_[last].flags);
    const uint16_t want = r.used_wrap_ ? (desc_flag::avail | desc_flag::used) : 0;
    return (f & (desc_flag::avail | desc_flag::used)) == want;
  }
  // What reap() does after taking buffers (virtio-v1.2 §2.8.10 event offset).
  static void after_reap(R& r) noexcept {
    if (r.event_flags_ == event_flag::desc) r.arm_used_event();
  }
};

}  // namespace vpmd::ring
