#pragma once
// vpmd's driver rings (ring/) over test memory with a lean device on the
// other side: for the lean devices' self-tests only. The lean device itself
// never includes ring/ headers; this fixture is where the two meet.
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <type_traits>

#include <vpmd/model/lean_device.hpp>
#include <vpmd/ring/packed_ring.hpp>
#include <vpmd/ring/split_ring.hpp>

namespace vpmd::model::lean_test {

struct Tok {
  std::byte data[64];
  bool outstanding = false;  // handed to the ring, not yet reaped
  std::uint32_t writable = 0;
  std::uint64_t serial = 0;  // avail order
};

template <class Ring>
using LeanFor = std::conditional_t<Ring::kind == ring::RingKind::split, LeanSplitDevice, LeanPackedDevice>;

// One ring in freshly allocated memory and its lean device (IOVA == VA).
template <class Ring>
struct LeanPair {
  struct Free {
    void operator()(std::byte* b) const { std::free(b); }
  };
  std::size_t bytes;
  std::unique_ptr<std::byte, Free> mem;
  Ring q;
  LeanFor<Ring> dev;

  explicit LeanPair(std::uint16_t size)
      : bytes((Ring::layout_for({.size = size}).total + 4095) / 4096 * 4096),
        mem(static_cast<std::byte*>(std::aligned_alloc(4096, bytes))),
        q(make(size, mem.get(), bytes)),
        dev(QueueConfig{size, q.areas().desc, q.areas().driver, q.areas().device, features(), identity_translate()}) {}

  static Ring make(std::uint16_t size, std::byte* m, std::size_t len) {
    auto r = Ring::create({.size = size}, ring::RingMemory{m, reinterpret_cast<std::uint64_t>(m), len});
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(*r);
  }
  static std::uint64_t features() {
    std::uint64_t f = 0;
    if constexpr (Ring::kind == ring::RingKind::packed) f |= feature_bit(kFeatureRingPacked);
    if constexpr (Ring::in_order) f |= feature_bit(kFeatureInOrder);
    return f;
  }
};

}  // namespace vpmd::model::lean_test
