#pragma once
// Free-running 16-bit ring indices (virtio-v1.2 §2.7.6: avail->idx and
// used->idx "wrap naturally at 65536"). Arithmetic is modulo 2^16 by
// construction, so the wrap can never be forgotten, and need_event() is the
// wrap-safe event-index test of virtio-v1.2 §2.7.10 (VIRTIO_F_EVENT_IDX).
#include <compare>
#include <cstdint>

namespace vpmd::ring {

class RingIdx {
 public:
  constexpr RingIdx() = default;
  constexpr explicit RingIdx(uint16_t v) : v_(v) {}

  constexpr uint16_t value() const { return v_; }

  constexpr RingIdx& operator+=(uint16_t n) { v_ = static_cast<uint16_t>(v_ + n); return *this; }
  constexpr RingIdx& operator-=(uint16_t n) { v_ = static_cast<uint16_t>(v_ - n); return *this; }
  constexpr RingIdx& operator++() { return *this += 1; }
  friend constexpr RingIdx operator+(RingIdx a, uint16_t n) { return a += n; }
  friend constexpr RingIdx operator-(RingIdx a, uint16_t n) { return a -= n; }
  // Distance from b forward to a, modulo 2^16 (how many entries lie in [b, a)).
  friend constexpr uint16_t operator-(RingIdx a, RingIdx b) { return static_cast<uint16_t>(a.v_ - b.v_); }
  friend constexpr bool operator==(RingIdx, RingIdx) = default;

  // Slot in a ring of power-of-two `size` (split rings only, virtio-v1.2 §2.7).
  constexpr uint16_t slot(uint16_t mask) const { return static_cast<uint16_t>(v_ & mask); }

 private:
  uint16_t v_ = 0;
};

// virtio-v1.2 §2.7.10: the other side wants a notification when it has passed
// `event`, i.e. when `event` lies in [old_idx, new_idx) modulo 2^16. Written
// as one unsigned comparison, so it is correct across the 0xFFFF -> 0 wrap.
constexpr bool need_event(RingIdx event, RingIdx new_idx, RingIdx old_idx) {
  return static_cast<uint16_t>(new_idx - event - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

// Compile-time proof of the wrap behaviour around 0xFFFF.
static_assert((RingIdx(0xFFFF) + 1).value() == 0);
static_assert(RingIdx(2) - RingIdx(0xFFFE) == 4);
static_assert(need_event(RingIdx(0xFFFF), RingIdx(1), RingIdx(0xFFFE)));   // event inside a wrapped window
static_assert(need_event(RingIdx(0), RingIdx(1), RingIdx(0xFFFE)));
static_assert(!need_event(RingIdx(1), RingIdx(1), RingIdx(0xFFFE)));       // new itself is not yet passed
static_assert(!need_event(RingIdx(0xFFFD), RingIdx(1), RingIdx(0xFFFE)));  // before the window
static_assert(!need_event(RingIdx(5), RingIdx(5), RingIdx(5)));            // empty window never notifies
static_assert(need_event(RingIdx(4), RingIdx(5), RingIdx(4)));

}  // namespace vpmd::ring
