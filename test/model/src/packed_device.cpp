// Device side of the packed virtqueue, from virtio-v1.2 §2.8.
#include <vpmd/model/packed_device.hpp>

#include <atomic>
#include <utility>

#include <vpmd/model/access.hpp>

namespace vpmd::model {

using detail::cat;
using detail::read_plain;
using detail::shared16;
using detail::write_plain;

namespace {
constexpr std::size_t kFlagsOff = offsetof(PackedDesc, flags);
constexpr std::size_t kOffWrapOff = offsetof(EventSuppress, off_wrap);
constexpr std::size_t kEvtFlagsOff = offsetof(EventSuppress, flags);
}  // namespace

PackedDevice::PackedDevice(QueueConfig cfg) : cfg_(std::move(cfg)), size_(cfg_.size) {
  event_idx_ = has_feature(cfg_.features, kFeatureEventIdx);
  in_order_ = has_feature(cfg_.features, kFeatureInOrder);
  indirect_ = has_feature(cfg_.features, kFeatureIndirectDesc);
  if (!has_feature(cfg_.features, kFeatureRingPacked)) {
    fail("PackedDevice without VIRTIO_F_RING_PACKED (bit 34): negotiate it, or use SplitDevice");
    return;
  }
  // §2.8: any queue size 1..32768 (not necessarily a power of two).
  if (size_ == 0 || size_ > kMaxQueueSize) {
    fail(cat("packed queue size ", size_, " is outside 1..32768 (virtio-v1.2 §2.8)"));
    return;
  }
  if (!cfg_.translate) {
    fail("QueueConfig::translate is empty: pass identity_translate() or window_translate()");
    return;
  }
  ring_ = cfg_.translate(cfg_.desc, static_cast<std::uint32_t>(sizeof(PackedDesc) * size_));
  driver_evt_ = cfg_.translate(cfg_.driver, sizeof(EventSuppress));
  device_evt_ = cfg_.translate(cfg_.device, sizeof(EventSuppress));
  if (!ring_ || !driver_evt_ || !device_evt_) {
    fail(cat("a packed ring area is outside the device's IOVA window (desc 0x", std::hex, cfg_.desc, " driver 0x",
             cfg_.driver, " device 0x", cfg_.device, "): the driver must hand over IOVAs of mapped DMA memory"));
    return;
  }
  // §2.8: descriptor ring 16-byte aligned, event suppression areas 4.
  if (!detail::aligned(ring_, kPackedDescAlign) || !detail::aligned(driver_evt_, kPackedEventAlign) ||
      !detail::aligned(device_evt_, kPackedEventAlign)) {
    fail("packed ring area misaligned: descriptor ring needs 16, event suppression areas 4 bytes (virtio-v1.2 §2.8)");
    return;
  }
  id_in_flight_.assign(size_, 0);
  pending_.reserve(size_);
}

bool PackedDevice::fail(std::string msg) {
  if (driver_error_.empty()) driver_error_ = std::move(msg);
  return false;
}

void PackedDevice::advance(std::uint16_t& pos, bool& wrap, std::uint32_t by) const {
  // §2.8.1: passing the end of the ring flips the wrap counter.
  std::uint32_t p = pos + by;
  while (p >= size_) {
    p -= size_;
    wrap = !wrap;
  }
  pos = static_cast<std::uint16_t>(p);
}

std::optional<Chain> PackedDevice::pop_avail() {
  Chain c;
  if (!pop_avail(c)) return std::nullopt;
  return c;
}

bool PackedDevice::add_segment(Chain& out, const PackedDesc& d, const char* where, std::uint32_t index,
                               bool& seen_writable) {
  const bool writable = (d.flags & kDescFWrite) != 0;
  if (!writable && seen_writable)
    return fail(cat(where, "descriptor ", index, " is device-readable after a device-writable one: the driver must put "
                    "all readable elements before the writable ones (virtio-v1.2 §2.6.4.2)"));
  if (d.len == 0)
    return fail(cat(where, "descriptor ", index, " has len 0: a buffer element must hold at least one byte"));
  std::byte* p = cfg_.translate(d.addr, d.len);
  if (p == nullptr)
    return fail(cat(where, "descriptor ", index, " addr 0x", std::hex, d.addr, std::dec, " len ", d.len,
                    " is outside the device's IOVA window: the driver must only post mapped DMA memory"));
  seen_writable = seen_writable || writable;
  out.segs.push_back(Segment{p, d.len, writable});
  return true;
}

bool PackedDevice::walk_indirect(Chain& out, const PackedDesc& d, std::uint16_t at, bool& seen_writable) {
  // §2.8.7: the indirect table is len/16 consecutive descriptors (no next).
  if (!indirect_)
    return fail(cat("ring descriptor ", at, " has INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated (virtio-v1.2 §2.8.7)"));
  if ((d.flags & kDescFNext) != 0)
    return fail(cat("ring descriptor ", at, " sets both INDIRECT and NEXT: forbidden by virtio-v1.2 §2.8.7"));
  if (d.len == 0 || d.len % sizeof(PackedDesc) != 0)
    return fail(cat("indirect descriptor ", at, " len ", d.len, " is not a non-zero multiple of 16 (virtio-v1.2 §2.8.7)"));
  const std::byte* table = cfg_.translate(d.addr, d.len);
  if (table == nullptr)
    return fail(cat("indirect table of ring descriptor ", at, " (addr 0x", std::hex, d.addr, std::dec, " len ", d.len,
                    ") is outside the device's IOVA window"));
  const std::uint32_t n = d.len / static_cast<std::uint32_t>(sizeof(PackedDesc));
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto e = read_plain<PackedDesc>(table + sizeof(PackedDesc) * i);
    if ((e.flags & kDescFIndirect) != 0)
      return fail(cat("indirect table entry ", i, " (of ring descriptor ", at,
                      ") sets INDIRECT: an indirect table must not point at another (virtio-v1.2 §2.8.7)"));
    if (!add_segment(out, e, "indirect ", i, seen_writable)) return false;
  }
  return true;
}

bool PackedDevice::pop_avail(Chain& out) {
  if (!driver_error_.empty()) return false;
  // Acquire pairs with the driver's release store of the first descriptor's
  // flags, written after the rest of the list (§2.8.6, §2.8.21): the list's
  // other fields, read plainly below, are then visible. seq_cst (a plain load
  // on x86) orders it after our seq_cst store of the device event suppression
  // in set_notifications(): the re-check after asking for kicks (§2.8.10).
  const std::uint16_t head_flags =
      shared16(ring_ + sizeof(PackedDesc) * next_avail_ + kFlagsOff).load(std::memory_order_seq_cst);
  const bool a = (head_flags & kPackedDescFAvail) != 0;
  const bool u = (head_flags & kPackedDescFUsed) != 0;
  if (!(a == avail_wrap_ && u != avail_wrap_)) {
    // Only (A == W, U != W) means "available". Every other pattern is some
    // earlier state of this slot: a used descriptor (A == U), or a previous
    // lap's available descriptor (A != W, U == W) whose buffer the device
    // already completed out of order, its used descriptor written at another
    // slot (§2.8.3: used descriptors go to the next used position, not to the
    // buffer's own slot). None of them is a driver error by itself.
    return false;
  }

  out.segs.clear();
  bool seen_writable = false;
  std::uint16_t pos = next_avail_;
  bool wrap = avail_wrap_;
  std::uint32_t count = 0;
  std::uint16_t id = 0;
  for (;;) {
    if (slots_in_flight_ + count >= size_)
      return fail(cat("descriptor list at slot ", next_avail_, " runs into slots the device still owns (", slots_in_flight_,
                      " in flight, queue size ", size_, "): the list is longer than the free ring"));
    auto d = read_plain<PackedDesc>(ring_ + sizeof(PackedDesc) * pos);
    if (count == 0) d.flags = head_flags;  // use the flags value we acquired
    ++count;
    if ((d.flags & kDescFIndirect) != 0) {
      if (!walk_indirect(out, d, pos, seen_writable)) return false;
    } else if (!add_segment(out, d, "", pos, seen_writable)) {
      return false;
    }
    id = d.id;  // §2.8.6: the Buffer ID is the one in the LAST descriptor of the list
    advance(pos, wrap, 1);
    if ((d.flags & kDescFNext) == 0) break;
  }
  if (id >= size_)
    return fail(cat("buffer id ", id, " at slot ", next_avail_, " is not below the queue size ", size_,
                    ": the model (like Linux and DPDK) needs ids 0..size-1"));
  if (id_in_flight_[id] != 0)
    return fail(cat("buffer id ", id, " made available again while the device still owns it (not yet used)"));
  id_in_flight_[id] = 1;
  out.id = id;
  out.descs = static_cast<std::uint16_t>(count);
  out.serial = next_serial_++;
  next_avail_ = pos;
  avail_wrap_ = wrap;
  slots_in_flight_ += count;
  ++in_flight_;
  ++counters_.consumed;
  if (event_idx_ && notify_enabled_) {
    // §2.8.10: "notify me when you make the descriptor at next_avail_ (with
    // this wrap) available". seq_cst pairs with the driver's full barrier
    // between writing descriptors and reading the device event suppression.
    shared16(device_evt_ + kOffWrapOff)
        .store(static_cast<std::uint16_t>(next_avail_ | (avail_wrap_ ? 0x8000u : 0u)), std::memory_order_seq_cst);
  }
  return true;
}

void PackedDevice::push_used(const Chain& chain, std::uint32_t written_len) {
  if (chain.id >= size_ || id_in_flight_[chain.id] == 0) {
    if (model_error_.empty()) model_error_ = cat("push_used of buffer id ", chain.id, " which is not in flight");
    return;
  }
  if (written_len > chain.writable_bytes()) {
    if (model_error_.empty())
      model_error_ = cat("push_used len ", written_len, " exceeds the chain's writable ", chain.writable_bytes(), " bytes");
    return;
  }
  if (in_order_ && chain.serial != next_used_serial_) {
    if (model_error_.empty())
      model_error_ = cat("IN_ORDER negotiated but push_used got serial ", chain.serial, ", expected ", next_used_serial_);
    return;
  }
  ++next_used_serial_;
  id_in_flight_[chain.id] = 0;
  --in_flight_;
  ++counters_.used;
  pending_.push_back(PendingUsed{chain.id, chain.descs, written_len, chain.writable_bytes() > 0});
}

void PackedDevice::publish() {
  if (pending_.empty() || ring_ == nullptr) return;
  auto used_flags = [](bool wrap, bool writable) -> std::uint16_t {
    // §2.8.1: a used descriptor has AVAIL == USED == the device's used wrap
    // counter; WRITE tells the driver len is meaningful (§2.8.4).
    return static_cast<std::uint16_t>((wrap ? (kPackedDescFAvail | kPackedDescFUsed) : 0) | (writable ? kDescFWrite : 0));
  };
  auto write_id_len = [&](std::uint16_t pos, const PendingUsed& p) {
    std::byte* d = ring_ + sizeof(PackedDesc) * pos;
    write_plain(d + offsetof(PackedDesc, id), p.id);
    write_plain(d + offsetof(PackedDesc, len), p.len);
  };
  auto release_flags = [&](std::uint16_t pos, std::uint16_t flags, std::memory_order mo = std::memory_order_release) {
    // Release pairs with the driver's acquire load of these flags before it
    // reads id/len (§2.8.6: flags are written last).
    shared16(ring_ + sizeof(PackedDesc) * pos + kFlagsOff).store(flags, mo);
  };
  // The batch's LAST store is seq_cst: it doubles as the full barrier
  // §2.8.10 wants before should_interrupt() reads the driver's event
  // suppression (seq_cst store/load pair instead of a fence TSan cannot see).
  constexpr auto kLast = std::memory_order_seq_cst;

  std::uint32_t total = 0;
  for (const PendingUsed& p : pending_) total += p.descs;
  const std::uint16_t first_pos = next_used_;
  const bool first_wrap = used_wrap_;
  if (in_order_ && in_order_batching_) {
    // §2.8.9: a single used descriptor at the current position with the LAST
    // buffer's id; the device then skips the whole batch's slots.
    const PendingUsed& last = pending_.back();
    write_id_len(first_pos, last);
    release_flags(first_pos, used_flags(first_wrap, last.writable), kLast);
    advance(next_used_, used_wrap_, total);
  } else {
    // Write every element but the first's flags, then the first's flags: the
    // driver reaps in ring order, so the batch appears at once.
    std::uint16_t pos = next_used_;
    bool wrap = used_wrap_;
    for (std::size_t k = 0; k < pending_.size(); ++k) {
      write_id_len(pos, pending_[k]);
      if (k != 0) release_flags(pos, used_flags(wrap, pending_[k].writable));
      advance(pos, wrap, pending_[k].descs);
    }
    release_flags(first_pos, used_flags(first_wrap, pending_.front().writable), kLast);
    next_used_ = pos;
    used_wrap_ = wrap;
  }
  slots_in_flight_ -= total;
  unsignalled_ += total;
  pending_.clear();
  ++counters_.published;
}

bool PackedDevice::should_interrupt() {
  if (driver_evt_ == nullptr || unsignalled_ == 0) return false;
  const std::uint32_t passed = unsignalled_;
  unsignalled_ = 0;
  // publish()'s last seq_cst flags store and the seq_cst loads below are the
  // device half of a Dekker pair with the driver, which writes its event
  // suppression and then re-checks the next used descriptor with a full
  // barrier between (§2.8.10 / §2.8.22): no interrupt is lost.
  const std::uint16_t flags = shared16(driver_evt_ + kEvtFlagsOff).load(std::memory_order_seq_cst);
  bool fire = false;
  if (flags == kRingEventFlagsEnable) {
    fire = true;
  } else if (flags == kRingEventFlagsDisable) {
    fire = false;
  } else if (flags == kRingEventFlagsDesc) {
    if (!event_idx_) {
      fail("driver event suppression flags = DESC without VIRTIO_F_EVENT_IDX negotiated (virtio-v1.2 §2.8.10)");
      return false;
    }
    const std::uint16_t off_wrap = shared16(driver_evt_ + kOffWrapOff).load(std::memory_order_seq_cst);
    const auto off = static_cast<std::uint16_t>(off_wrap & 0x7FFF);
    const bool wrap = (off_wrap & 0x8000) != 0;
    if (passed >= size_) {
      fire = true;  // every slot was made used since the last check: off was passed
    } else {
      // Unroll the ring onto 16-bit positions relative to the current lap: an
      // event in the previous lap sits size_ below its offset.
      const std::uint16_t now = next_used_;
      const auto old = static_cast<std::uint16_t>(now - passed);
      const auto event = static_cast<std::uint16_t>(wrap == used_wrap_ ? off : off - size_);
      fire = need_event(event, now, old);
    }
  } else {
    fail(cat("driver event suppression flags = ", flags, " is reserved (virtio-v1.2 §2.8.10)"));
    return false;
  }
  if (fire) ++counters_.interrupts;
  return fire;
}

void PackedDevice::set_notifications(bool enabled) {
  notify_enabled_ = enabled;
  if (device_evt_ == nullptr) return;
  if (!enabled) {
    shared16(device_evt_ + kEvtFlagsOff).store(kRingEventFlagsDisable, std::memory_order_seq_cst);
  } else if (event_idx_) {
    // off_wrap first, then flags: a driver that sees DESC sees the offset.
    shared16(device_evt_ + kOffWrapOff)
        .store(static_cast<std::uint16_t>(next_avail_ | (avail_wrap_ ? 0x8000u : 0u)), std::memory_order_seq_cst);
    shared16(device_evt_ + kEvtFlagsOff).store(kRingEventFlagsDesc, std::memory_order_seq_cst);
  } else {
    shared16(device_evt_ + kEvtFlagsOff).store(kRingEventFlagsEnable, std::memory_order_seq_cst);
  }
}

}  // namespace vpmd::model
