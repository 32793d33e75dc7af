#pragma once
// Lean device sides of a split (virtio-v1.2 §2.7) and a packed (§2.8)
// virtqueue, for benchmarks: the least a real device does per buffer, as
// Linux's tools/virtio/ringtest host side or DPDK's vhost do, so that a
// benchmark measures the driver rather than the model's validation.
// SplitDevice / PackedDevice remain the devices that check everything.
//
// serve(max, written_len) pops up to `max` available buffers, completes them
// in the order they were made available and publishes them with one release
// store. No payload is touched; chains are followed only to count their
// descriptors and device-writable bytes. IOVA == VA is not assumed: the three
// areas go through QueueConfig::translate once, at construction, and
// descriptor addresses are never dereferenced.
//
// Shared memory is accessed as the model does: the field the driver publishes
// with (avail->idx, a head's flags) by an acquire load through
// std::atomic_ref, the field the device publishes with (used->idx, a used
// descriptor's flags) by a release store, everything they order by plain
// accesses, so TSan sees a driver that touches handed-over memory. No
// notifications: the driver finds used->flags / device event suppression as it
// left them (zero: "notify me"), and interrupts are never computed.
//
// A driver bug (head or next beyond the queue, a chain longer than the queue)
// stops the device with error() set rather than reading out of bounds; there
// are no other checks.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include <vpmd/model/access.hpp>
#include <vpmd/model/device_queue.hpp>
#include <vpmd/model/layout.hpp>

namespace vpmd::model {


// The shape both lean devices share: what a benchmark's device loop needs.
template <class D>
concept LeanDevice = requires(D d, const D cd, std::uint32_t n, bool b) {
  { d.serve(n, n) } -> std::same_as<std::uint32_t>;
  { d.set_in_order_batching(b) } -> std::same_as<void>;
  { cd.error() } -> std::same_as<const std::string&>;
  { cd.served() } -> std::same_as<std::uint64_t>;
};

class LeanSplitDevice {
 public:
  explicit LeanSplitDevice(const QueueConfig& cfg) : size_(cfg.size), mask_(static_cast<std::uint16_t>(cfg.size - 1)) {
    in_order_ = has_feature(cfg.features, kFeatureInOrder);
    if (has_feature(cfg.features, kFeatureRingPacked)) {
      error_ = "LeanSplitDevice given VIRTIO_F_RING_PACKED (bit 34): use LeanPackedDevice";
    } else if (has_feature(cfg.features, kFeatureIndirectDesc)) {
      error_ = "LeanSplitDevice does not follow indirect tables: do not negotiate VIRTIO_F_INDIRECT_DESC (bit 28)";
    } else if (size_ == 0 || (size_ & mask_) != 0) {
      error_ = "split queue size must be a power of two in 1..32768 (virtio-v1.2 §2.7)";
    } else if (!cfg.translate) {
      error_ = "QueueConfig::translate is empty: pass identity_translate() or window_translate()";
    } else {
      desc_ = cfg.translate(cfg.desc, static_cast<std::uint32_t>(sizeof(SplitDesc) * size_));
      avail_ = cfg.translate(cfg.driver, static_cast<std::uint32_t>(avail_area_bytes(size_)));
      used_ = cfg.translate(cfg.device, static_cast<std::uint32_t>(used_area_bytes(size_)));
      // §2.7 alignment table: descriptor table 16, available ring 2, used ring 4.
      if (!desc_ || !avail_ || !used_ || !detail::aligned(desc_, kSplitDescAlign) ||
          !detail::aligned(avail_, kSplitAvailAlign) || !detail::aligned(used_, kSplitUsedAlign)) {
        error_ = "a split ring area is unmapped or misaligned (virtio-v1.2 §2.7): hand over mapped, aligned IOVAs";
        desc_ = avail_ = used_ = nullptr;
      }
    }
  }

  // With IN_ORDER negotiated: one used element per serve() naming the last
  // buffer, used->idx advanced by the whole batch (virtio-v1.2 §2.7.9).
  void set_in_order_batching(bool on) { in_order_batching_ = on && in_order_; }

  std::uint32_t serve(std::uint32_t max, std::uint32_t written_len) {
    if (desc_ == nullptr || !error_.empty()) return 0;
    // Acquire pairs with the driver's release store of avail->idx, made after
    // it wrote the ring entries and descriptors (§2.7.13.3): they are visible
    // to the plain reads below.
    const std::uint16_t avail_idx = detail::shared16(avail_ + kAvailIdxOff).load(std::memory_order_acquire);
    const auto n = static_cast<std::uint16_t>(
        std::min<std::uint32_t>(static_cast<std::uint16_t>(avail_idx - last_avail_), std::min<std::uint32_t>(max, size_)));
    if (n == 0) return 0;
    // The loop works on locals: its stores into the shared areas go through
    // std::byte pointers, which may alias any member for the compiler, so
    // members read in the loop would be reloaded after every used element.
    const std::byte* const desc = desc_;
    const std::byte* const avail = avail_;
    std::byte* const used = used_;
    const std::uint32_t mask = mask_, size = size_, first_avail = last_avail_, first_used = used_idx_;
    const bool batching = in_order_batching_;
    UsedElem last{};
    // One loop per mode, so that neither tests the mode per buffer.
    const auto run = [&]<bool Batching>() __attribute__((always_inline)) -> std::uint16_t {
      for (std::uint32_t k = 0; k < n; ++k) {
        const auto head = detail::read_plain<le16>(avail + avail_ring_off((first_avail + k) & mask));
        std::uint32_t writable = 0;
        if (!walk(desc, size, head, writable)) [[unlikely]] return static_cast<std::uint16_t>(k);
        last = UsedElem{head, std::min(written_len, writable)};
        // §2.7.8: the used element at used->idx + k names the chain's head.
        if constexpr (!Batching) detail::write_plain(used + used_ring_off((first_used + k) & mask), last);
      }
      return n;
    };
    const std::uint16_t done = batching ? run.template operator()<true>() : run.template operator()<false>();
    if (done != n) error_ = "descriptor chain names an index beyond the queue size, or loops (virtio-v1.2 §2.7.5)";
    return publish(done, last);  // on a bad chain, what was completed before it
  }

  const std::string& error() const { return error_; }
  std::uint64_t served() const { return served_; }
  std::uint16_t size() const { return size_; }

 private:
  // Follows head's NEXT chain (§2.7.5) only to add up its device-writable
  // bytes; false when an index is beyond the queue or the chain loops.
  // Static, on what serve() passes: nothing it reads can be aliased by the
  // used elements serve() writes.
  static bool walk(const std::byte* desc, std::uint32_t size, std::uint16_t head, std::uint32_t& writable) {
    if (head >= size) return false;
    // The head alone first: a one-descriptor buffer (every RX buffer, most
    // TX packets) needs no loop.
    const std::byte* d = desc + sizeof(SplitDesc) * head;
    const auto flags = detail::read_plain<le16>(d + offsetof(SplitDesc, flags));
    if ((flags & kDescFWrite) != 0) writable = detail::read_plain<le32>(d + offsetof(SplitDesc, len));
    if ((flags & kDescFNext) == 0) [[likely]] return true;
    return walk_rest(desc, size, detail::read_plain<le16>(d + offsetof(SplitDesc, next)), writable);
  }

  // The descriptors after a chain's head (at most size - 1 more).
  static bool walk_rest(const std::byte* desc, std::uint32_t size, std::uint16_t i, std::uint32_t& writable) {
    for (std::uint32_t count = 1; count < size; ++count) {
      if (i >= size) break;
      const std::byte* d = desc + sizeof(SplitDesc) * i;
      const auto flags = detail::read_plain<le16>(d + offsetof(SplitDesc, flags));
      if ((flags & kDescFWrite) != 0) writable += detail::read_plain<le32>(d + offsetof(SplitDesc, len));
      if ((flags & kDescFNext) == 0) return true;
      i = detail::read_plain<le16>(d + offsetof(SplitDesc, next));
    }
    return false;
  }

  std::uint32_t publish(std::uint16_t n, const UsedElem& last) {
    if (n == 0) return 0;
    // §2.7.9: in order, a single element at the current used position for the whole batch.
    if (in_order_batching_) detail::write_plain(used_ + used_ring_off(used_idx_ & mask_), last);
    last_avail_ = static_cast<std::uint16_t>(last_avail_ + n);
    used_idx_ = static_cast<std::uint16_t>(used_idx_ + n);
    // Release pairs with the driver's acquire load of used->idx before it
    // reads the used elements written above (§2.7.8, §2.7.14).
    detail::shared16(used_ + kUsedIdxOff).store(used_idx_, std::memory_order_release);
    served_ += n;
    return n;
  }

  std::byte* desc_ = nullptr;
  std::byte* avail_ = nullptr;
  std::byte* used_ = nullptr;
  std::uint16_t size_ = 0, mask_ = 0;
  std::uint16_t last_avail_ = 0;  // next avail ring entry to read
  std::uint16_t used_idx_ = 0;    // used->idx as published
  bool in_order_ = false, in_order_batching_ = false;
  std::uint64_t served_ = 0;
  std::string error_;
};

class LeanPackedDevice {
 public:
  explicit LeanPackedDevice(const QueueConfig& cfg) : size_(cfg.size) {
    in_order_ = has_feature(cfg.features, kFeatureInOrder);
    if (!has_feature(cfg.features, kFeatureRingPacked)) {
      error_ = "LeanPackedDevice without VIRTIO_F_RING_PACKED (bit 34): negotiate it, or use LeanSplitDevice";
    } else if (has_feature(cfg.features, kFeatureIndirectDesc)) {
      error_ = "LeanPackedDevice does not follow indirect tables: do not negotiate VIRTIO_F_INDIRECT_DESC (bit 28)";
    } else if (size_ == 0) {
      error_ = "packed queue size must be in 1..32768 (virtio-v1.2 §2.8)";
    } else if (!cfg.translate) {
      error_ = "QueueConfig::translate is empty: pass identity_translate() or window_translate()";
    } else {
      ring_ = cfg.translate(cfg.desc, static_cast<std::uint32_t>(sizeof(PackedDesc) * size_));
      if (!ring_ || !detail::aligned(ring_, kPackedDescAlign)) {
        error_ = "the packed descriptor ring is unmapped or not 16-byte aligned (virtio-v1.2 §2.8)";
        ring_ = nullptr;
      }
    }
  }

  // With IN_ORDER negotiated: one used descriptor per serve() carrying the
  // last buffer's id, the batch's other slots skipped (virtio-v1.2 §2.8.9).
  void set_in_order_batching(bool on) { in_order_batching_ = on && in_order_; }

  std::uint32_t serve(std::uint32_t max, std::uint32_t written_len) {
    if (ring_ == nullptr || !error_.empty()) return 0;
    // The device completes every buffer it pops, in order, before returning,
    // so between calls its used position and used wrap counter equal the
    // available ones (§2.8.3): one (pos, lap) pair serves as both. Locals
    // for the loop: its stores into the ring (std::byte, 16-bit flags) may
    // alias any member for the compiler, which would reload them after each.
    std::byte* const ring = ring_;
    const std::uint16_t size = size_;
    const bool batching = in_order_batching_;
    std::uint16_t pos = pos_, lap = lap_;
    const std::uint16_t first = pos;
    const std::uint16_t first_lap = lap;
    std::uint16_t first_flags = 0;
    std::uint16_t last_id = 0, last_flags = 0;
    std::uint32_t last_len = 0;
    // One loop per mode (as LeanSplitDevice), so that neither tests it per buffer.
    const auto run = [&]<bool Batching>() __attribute__((always_inline)) -> std::uint32_t {
      std::uint32_t n = 0;
      for (; n < max; ++n) {
        std::byte* head = slot(ring, pos);
        // Acquire pairs with the driver's release store of this head's flags,
        // written after the rest of its list (§2.8.6, §2.8.21): the list's
        // other fields are visible to the plain reads below.
        const std::uint16_t flags = detail::shared16(head + kFlagsOff).load(std::memory_order_acquire);
        // §2.8.1: available means AVAIL == the avail wrap counter, USED != it.
        if ((flags & kWrapBits) != lap) break;
        std::uint16_t id = 0;
        std::uint32_t writable = 0;
        const std::uint16_t start_lap = lap;
        if (!walk(ring, size, flags, pos, lap, id, writable)) [[unlikely]] {
          error_ = "packed descriptor list is longer than the ring (virtio-v1.2 §2.8.6)";
          break;
        }
        // WRITE says len is meaningful (§2.8.4), set for a buffer with writable elements.
        last_id = id;
        last_len = std::min(written_len, writable);
        last_flags = static_cast<std::uint16_t>(used_bits(start_lap) | (writable != 0 ? kDescFWrite : 0));
        if (n == 0) first_flags = last_flags;
        if constexpr (!Batching) {
          write_id_len(head, last_id, last_len);
          // Release pairs with the driver's acquire of these flags before it
          // reads id/len. The batch's first flags wait for the end (below).
          if (n != 0) detail::shared16(head + kFlagsOff).store(last_flags, std::memory_order_release);
        }
      }
      return n;
    };
    const std::uint32_t n = batching ? run.template operator()<true>() : run.template operator()<false>();
    pos_ = pos;
    lap_ = lap;
    if (n == 0) return 0;
    if (batching) {
      // §2.8.9: one used descriptor at the batch's first position, with the
      // last buffer's id; the driver skips the whole batch's slots.
      write_id_len(slot(ring, first), last_id, last_len);
      first_flags = static_cast<std::uint16_t>(used_bits(first_lap) | (last_flags & kDescFWrite));
    }
    // The batch's first flags last, with release: the driver reaps in ring
    // order, so it sees the whole batch at once (pairs with its acquire).
    detail::shared16(slot(ring, first) + kFlagsOff).store(first_flags, std::memory_order_release);
    served_ += n;
    return n;
  }

  const std::string& error() const { return error_; }
  std::uint64_t served() const { return served_; }
  std::uint16_t size() const { return size_; }

 private:
  static constexpr std::size_t kFlagsOff = offsetof(PackedDesc, flags);
  static constexpr std::uint16_t kWrapBits = kPackedDescFAvail | kPackedDescFUsed;

  // §2.8.1: a used descriptor has AVAIL == USED == the wrap counter, i.e. the
  // available pattern of that lap (AVAIL = w, USED = !w) with USED flipped.
  static std::uint16_t used_bits(std::uint16_t lap) { return static_cast<std::uint16_t>(lap ^ kPackedDescFUsed); }

  static std::byte* slot(std::byte* ring, std::uint16_t pos) { return ring + sizeof(PackedDesc) * pos; }

  // One descriptor on; §2.8.1: passing the end of the ring flips the wrap counter.
  static void step(std::uint16_t size, std::uint16_t& pos, std::uint16_t& lap) {
    if (++pos == size) {
      pos = 0;
      lap ^= kWrapBits;
    }
  }

  // Steps over one available descriptor list (§2.8.6) starting at pos, whose
  // head flags were acquired: counts its device-writable bytes and reads the
  // Buffer ID from its last descriptor, moving pos (and lap: step) past it.
  // False (pos, lap unchanged) when the list is longer than the ring.
  static bool walk(std::byte* ring, std::uint16_t size, std::uint16_t flags, std::uint16_t& pos, std::uint16_t& lap,
                   std::uint16_t& id, std::uint32_t& writable) {
    // A one-descriptor list (every RX buffer, most TX packets): no loop.
    if ((flags & kDescFNext) == 0) [[likely]] {
      const std::byte* d = slot(ring, pos);
      if ((flags & kDescFWrite) != 0) writable = detail::read_plain<le32>(d + offsetof(PackedDesc, len));
      id = detail::read_plain<le16>(d + offsetof(PackedDesc, id));
      step(size, pos, lap);
      return true;
    }
    return walk_list(ring, size, flags, pos, lap, id, writable);
  }

  static bool walk_list(std::byte* ring, std::uint16_t size, std::uint16_t flags, std::uint16_t& pos, std::uint16_t& lap,
                        std::uint16_t& id, std::uint32_t& writable) {
    const std::uint16_t start = pos;
    const std::uint16_t start_lap = lap;
    for (std::uint32_t count = 0; count < size; ++count) {
      const std::byte* d = slot(ring, pos);
      if (count != 0) flags = detail::read_plain<le16>(d + kFlagsOff);
      if ((flags & kDescFWrite) != 0) writable += detail::read_plain<le32>(d + offsetof(PackedDesc, len));
      step(size, pos, lap);
      if ((flags & kDescFNext) == 0) {
        id = detail::read_plain<le16>(d + offsetof(PackedDesc, id));
        return true;
      }
    }
    pos = start;
    lap = start_lap;
    return false;
  }

  static void write_id_len(std::byte* d, std::uint16_t id, std::uint32_t len) {
    detail::write_plain(d + offsetof(PackedDesc, id), id);
    detail::write_plain(d + offsetof(PackedDesc, len), len);
  }

  std::byte* ring_ = nullptr;
  std::uint16_t size_ = 0;
  std::uint16_t pos_ = 0;  // next available (= next used) position
  // AVAIL/USED bits an available descriptor carries in this lap: AVAIL = the
  // wrap counter, USED = its inverse (§2.8.1); both counters start at 1.
  std::uint16_t lap_ = kPackedDescFAvail;
  bool in_order_ = false, in_order_batching_ = false;
  std::uint64_t served_ = 0;
  std::string error_;
};

static_assert(LeanDevice<LeanSplitDevice>);
static_assert(LeanDevice<LeanPackedDevice>);

}  // namespace vpmd::model
