#pragma once
// Driver side (vpmd's ring) and device side (the in-tree model, written
// separately from the spec) over the same memory, for the ring tests,
// the fuzzer and the benchmarks.
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "test_memory.hpp"
#include "vpmd/model/packed_device.hpp"
#include "vpmd/model/pattern.hpp"
#include "vpmd/model/split_device.hpp"
#include "vpmd/ring/packed_ring.hpp"
#include "vpmd/ring/split_ring.hpp"

namespace vpmd::test {

// A buffer the driver owns: its bytes, how they are cut into segments, and
// the avail-order serial the payload pattern is keyed on.
struct Buf {
  std::vector<std::byte> bytes;
  std::vector<ring::Segment> segs;
  uint64_t serial = 0;
  uint32_t readable = 0, writable = 0;
  bool outstanding = false;
};

template <class Ring>
using DeviceFor = std::conditional_t<Ring::kind == ring::RingKind::split, model::SplitDevice, model::PackedDevice>;

template <class Ring>
uint64_t device_features(uint64_t ring_features) {
  uint64_t f = ring_features;
  if constexpr (Ring::kind == ring::RingKind::packed) f |= ring::feature::ring_packed;
  if constexpr (Ring::in_order) f |= ring::feature::in_order;
  return f;
}

// One ring and its model device.
template <class Ring>
struct Pair {
  using Device = DeviceFor<Ring>;
  ring::RingConfig cfg;
  TestMemory mem;
  Ring q;
  Device dev;

  explicit Pair(ring::RingConfig c)
      : cfg(c), mem(Ring::layout_for(c).total + 4096), q(make_ring(c, mem)),
        dev(model::QueueConfig{c.size, q.areas().desc, q.areas().driver, q.areas().device,
                               device_features<Ring>(c.features), model::identity_translate()}) {}

  static Ring make_ring(const ring::RingConfig& c, TestMemory& m) {
    auto r = Ring::create(c, m.ring());
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(*r);
  }
};

// Shapes a buffer: 1..max_segs segments, readable ones first (virtio-v1.2 §2.6.4.2).
inline void shape(Buf& b, std::mt19937_64& rng, unsigned max_segs, uint32_t max_len, int direction /*0 any, 1 tx, 2 rx*/) {
  const unsigned nseg = 1 + static_cast<unsigned>(rng() % max_segs);
  unsigned nread = direction == 1 ? nseg : direction == 2 ? 0 : static_cast<unsigned>(rng() % (nseg + 1));
  std::vector<uint32_t> lens(nseg);
  size_t total = 0;
  for (auto& l : lens) total += (l = 1 + static_cast<uint32_t>(rng() % max_len));
  b.bytes.assign(total, std::byte{0});
  b.segs.clear();
  b.readable = b.writable = 0;
  size_t off = 0;
  for (unsigned i = 0; i < nseg; ++i) {
    const bool w = i >= nread;
    b.segs.push_back({reinterpret_cast<uint64_t>(b.bytes.data() + off), lens[i], w});
    (w ? b.writable : b.readable) += lens[i];
    off += lens[i];
  }
}

// Driver writes the readable part's pattern (checked by the device).
inline void fill_readable(Buf& b, uint64_t seed) {
  uint64_t off = 0;
  for (auto& s : b.segs) {
    if (s.device_writable) break;
    model::fill_pattern({reinterpret_cast<std::byte*>(s.iova), s.len}, seed, b.serial, off);
    off += s.len;
  }
}

// Driver checks the first `len` written bytes (written by the device).
inline bool check_written(const Buf& b, uint64_t seed, uint32_t len) {
  uint64_t off = 0;
  for (auto& s : b.segs) {
    if (!s.device_writable) continue;
    const uint32_t n = std::min<uint64_t>(s.len, len - off) > 0 ? static_cast<uint32_t>(std::min<uint64_t>(s.len, len - off)) : 0;
    if (n == 0) break;
    if (model::check_pattern({reinterpret_cast<const std::byte*>(s.iova), n}, seed, b.serial, off) != n) return false;
    off += n;
  }
  return off == len;
}

// Device side: checks the readable pattern, writes `len` bytes of pattern.
inline bool device_check_readable(const model::Chain& c, uint64_t seed) {
  uint64_t off = 0;
  for (auto& s : c.segs) {
    if (s.device_writable) break;
    if (model::check_pattern({s.data, s.len}, seed, c.serial, off) != s.len) return false;
    off += s.len;
  }
  return true;
}

inline void device_write(const model::Chain& c, uint64_t seed, uint32_t len) {
  uint64_t off = 0;
  for (auto& s : c.segs) {
    if (!s.device_writable) continue;
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(s.len, len - off));
    if (n == 0) break;
    model::fill_pattern({s.data, n}, seed, c.serial, off);
    off += n;
  }
}

}  // namespace vpmd::test
