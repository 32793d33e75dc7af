#pragma once
// A deliberately tiny packed-ring DRIVER written by hand in the tests, the way
// virtio-v1.2 §2.8.21-§2.8.22 describe it, to exercise the model device.
// Single thread only; IOVA == VA; buffer ids are chosen by the test.
#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include <vpmd/model/layout.hpp>
#include <vpmd/model/packed_device.hpp>

#include "split_fixture.hpp"  // Mem, alloc_zeroed, iova

namespace vpmd::model::test {

struct PackedElem {
  const void* addr;
  std::uint32_t len;
  std::uint16_t flags;  // WRITE / INDIRECT; NEXT is added by add()
};

struct PackedUsed {
  std::uint16_t id;
  std::uint32_t len;
  std::uint16_t flags;
};

struct PackedDriver {
  std::uint16_t size;
  Mem ring_mem, driver_evt_mem, device_evt_mem, bufs;
  std::uint16_t avail_pos = 0;
  bool avail_wrap = true;
  std::uint16_t used_pos = 0;
  bool used_wrap = true;
  std::vector<std::uint16_t> descs_of_id;  // slots each in-flight id occupies
  static constexpr std::size_t kBufBytes = 256;

  explicit PackedDriver(std::uint16_t n)
      : size(n),
        ring_mem(alloc_zeroed(16u * n)),
        driver_evt_mem(alloc_zeroed(4)),
        device_evt_mem(alloc_zeroed(4)),
        bufs(alloc_zeroed(kBufBytes * (n + 1u) * 8u)),
        descs_of_id(n, 0) {}

  QueueConfig config(std::uint64_t features) const {
    return QueueConfig{size, iova(ring_mem.get()), iova(driver_evt_mem.get()), iova(device_evt_mem.get()),
                       features | feature_bit(kFeatureRingPacked), identity_translate()};
  }
  std::byte* buf(std::size_t k) { return bufs.get() + kBufBytes * k; }
  PackedDesc* ring() { return reinterpret_cast<PackedDesc*>(ring_mem.get()); }
  std::atomic_ref<std::uint16_t> flags_at(std::uint16_t pos) { return std::atomic_ref<std::uint16_t>(ring()[pos].flags); }

  std::uint16_t avail_bits(bool wrap) const {
    return wrap ? kPackedDescFAvail : kPackedDescFUsed;  // §2.8.1: AVAIL = wrap, USED = !wrap
  }

  // §2.8.21: write the list, the head's flags last (release).
  void add(std::uint16_t id, const std::vector<PackedElem>& elems) {
    std::uint16_t pos = avail_pos;
    bool wrap = avail_wrap;
    std::uint16_t head_flags = 0;
    for (std::size_t k = 0; k < elems.size(); ++k) {
      const bool more = k + 1 < elems.size();
      const auto f = static_cast<std::uint16_t>(elems[k].flags | (more ? kDescFNext : 0) | avail_bits(wrap));
      ring()[pos].addr = iova(elems[k].addr);
      ring()[pos].len = elems[k].len;
      ring()[pos].id = id;
      if (k == 0) head_flags = f;
      else ring()[pos].flags = f;
      if (++pos == size) {
        pos = 0;
        wrap = !wrap;
      }
    }
    flags_at(avail_pos).store(head_flags, std::memory_order_seq_cst);  // release + full barrier before reading suppression
    descs_of_id[id] = static_cast<std::uint16_t>(elems.size());
    avail_pos = pos;
    avail_wrap = wrap;
  }

  // §2.8.22: the next used descriptor, if the device made it used.
  std::optional<PackedUsed> reap() {
    const std::uint16_t f = flags_at(used_pos).load(std::memory_order_acquire);
    const bool a = (f & kPackedDescFAvail) != 0;
    const bool u = (f & kPackedDescFUsed) != 0;
    if (a != used_wrap || u != used_wrap) return std::nullopt;
    PackedUsed r{ring()[used_pos].id, ring()[used_pos].len, f};
    skip(descs_of_id[r.id]);
    return r;
  }
  void skip(std::uint32_t n) {
    for (std::uint32_t k = 0; k < n; ++k)
      if (++used_pos == size) {
        used_pos = 0;
        used_wrap = !used_wrap;
      }
  }

  EventSuppress* driver_evt() { return reinterpret_cast<EventSuppress*>(driver_evt_mem.get()); }
  EventSuppress* device_evt() { return reinterpret_cast<EventSuppress*>(device_evt_mem.get()); }
};

}  // namespace vpmd::model::test
