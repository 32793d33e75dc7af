#pragma once
// A deliberately tiny split-ring DRIVER written by hand in the tests, the way
// virtio-v1.2 §2.7.13 describes it, to exercise the model device. Single
// thread only; IOVA == VA.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include <vpmd/model/layout.hpp>
#include <vpmd/model/split_device.hpp>

namespace vpmd::model::test {

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};
using Mem = std::unique_ptr<std::byte[], FreeDeleter>;

inline Mem alloc_zeroed(std::size_t bytes, std::size_t align = 4096) {
  const std::size_t rounded = (bytes + align - 1) / align * align;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(align, rounded));
  std::memset(p, 0, rounded);
  return Mem(p);
}

inline std::uint64_t iova(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

struct SplitDriver {
  std::uint16_t size;
  Mem desc_mem, avail_mem, used_mem, bufs;
  std::uint16_t avail_idx = 0;
  std::uint16_t last_used = 0;
  static constexpr std::size_t kBufBytes = 256;

  explicit SplitDriver(std::uint16_t n)
      : size(n),
        desc_mem(alloc_zeroed(16u * n)),
        avail_mem(alloc_zeroed(avail_area_bytes(n))),
        used_mem(alloc_zeroed(used_area_bytes(n))),
        bufs(alloc_zeroed(kBufBytes * (n + 1u) * 8u)) {}

  QueueConfig config(std::uint64_t features) const {
    return QueueConfig{size, iova(desc_mem.get()), iova(avail_mem.get()), iova(used_mem.get()), features,
                       identity_translate()};
  }
  SplitDesc* desc() { return reinterpret_cast<SplitDesc*>(desc_mem.get()); }
  std::byte* buf(std::size_t k) { return bufs.get() + kBufBytes * k; }

  void set_desc(std::uint16_t i, const void* addr, std::uint32_t len, std::uint16_t flags, std::uint16_t next = 0) {
    desc()[i] = SplitDesc{iova(addr), len, flags, next};
  }
  // §2.7.13.2: put the head in the next ring slot; §2.7.13.3: then release idx.
  void add(std::uint16_t head) {
    std::memcpy(avail_mem.get() + avail_ring_off(avail_idx & (size - 1u)), &head, 2);
    ++avail_idx;
    std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(avail_mem.get() + kAvailIdxOff))
        .store(avail_idx, std::memory_order_seq_cst);  // release + the §2.7.13.4 full barrier before reading suppression
  }
  // Fields the device reads at any time: atomic (seq_cst, the Dekker pair
  // with the device's barrier in should_interrupt()).
  static std::atomic_ref<std::uint16_t> field(std::byte* p) {
    return std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(p));
  }
  void set_avail_flags(std::uint16_t f) { field(avail_mem.get() + kAvailFlagsOff).store(f); }
  void set_used_event(std::uint16_t v) { field(avail_mem.get() + avail_used_event_off(size)).store(v); }
  void set_avail_idx_raw(std::uint16_t v) {
    avail_idx = v;
    std::memcpy(avail_mem.get() + kAvailIdxOff, &v, 2);
  }

  std::uint16_t used_idx() const {
    return std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(used_mem.get() + kUsedIdxOff))
        .load(std::memory_order_acquire);
  }
  std::uint16_t used_flags() const { return field(used_mem.get() + kUsedFlagsOff).load(); }
  std::uint16_t avail_event() const { return field(used_mem.get() + used_avail_event_off(size)).load(); }
  UsedElem used_elem(std::uint16_t at) const {
    UsedElem e;
    std::memcpy(&e, used_mem.get() + used_ring_off(at & (size - 1u)), sizeof e);
    return e;
  }
};

}  // namespace vpmd::model::test
