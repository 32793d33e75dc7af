// Device side of the split virtqueue, from virtio-v1.2 §2.7.
#include <vpmd/model/split_device.hpp>

#include <atomic>
#include <utility>

#include <vpmd/model/access.hpp>

namespace vpmd::model {

using detail::cat;
using detail::read_plain;
using detail::shared16;
using detail::write_plain;

SplitDevice::SplitDevice(QueueConfig cfg) : cfg_(std::move(cfg)), size_(cfg_.size) {
  event_idx_ = has_feature(cfg_.features, kFeatureEventIdx);
  in_order_ = has_feature(cfg_.features, kFeatureInOrder);
  indirect_ = has_feature(cfg_.features, kFeatureIndirectDesc);
  if (has_feature(cfg_.features, kFeatureRingPacked)) {
    fail("SplitDevice given VIRTIO_F_RING_PACKED (bit 34): use PackedDevice for packed rings");
    return;
  }
  // §2.7 "Queue Size ... is always a power of 2", at most 32768.
  if (size_ == 0 || (size_ & (size_ - 1)) != 0 || size_ > kMaxQueueSize) {
    fail(cat("split queue size ", size_, " is not a power of two in 1..32768 (virtio-v1.2 §2.7): fix the size the driver configures"));
    return;
  }
  if (!cfg_.translate) {
    fail("QueueConfig::translate is empty: pass identity_translate() or window_translate()");
    return;
  }
  desc_ = cfg_.translate(cfg_.desc, static_cast<std::uint32_t>(sizeof(SplitDesc) * size_));
  avail_ = cfg_.translate(cfg_.driver, static_cast<std::uint32_t>(avail_area_bytes(size_)));
  used_ = cfg_.translate(cfg_.device, static_cast<std::uint32_t>(used_area_bytes(size_)));
  if (!desc_ || !avail_ || !used_) {
    fail(cat("a split ring area is outside the device's IOVA window (desc 0x", std::hex, cfg_.desc, " avail 0x",
             cfg_.driver, " used 0x", cfg_.device, "): the driver must hand over IOVAs of mapped DMA memory"));
    return;
  }
  // §2.7 alignment table: descriptor table 16, available ring 2, used ring 4.
  if (!detail::aligned(desc_, kSplitDescAlign) || !detail::aligned(avail_, kSplitAvailAlign) ||
      !detail::aligned(used_, kSplitUsedAlign)) {
    fail("split ring area misaligned: descriptor table needs 16, available ring 2, used ring 4 bytes (virtio-v1.2 §2.7)");
    return;
  }
  head_in_flight_.assign(size_, 0);
  desc_owned_.assign(size_, 0);
  chain_of_.resize(size_);
  walk_.reserve(size_);
  pending_.reserve(size_);
}

bool SplitDevice::fail(std::string msg) {
  if (driver_error_.empty()) driver_error_ = std::move(msg);
  return false;
}

std::uint16_t SplitDevice::load_avail_idx() const {
  // Acquire pairs with the driver's release store of avail->idx, made after it
  // wrote the ring entry and the descriptors (§2.7.13.3 "Updating idx" needs
  // a write barrier before idx): everything read below is then visible.
  // seq_cst (a plain load on x86) also orders it after our seq_cst store of
  // avail_event / used->flags, the device half of the §2.7.10 Dekker pair:
  // after asking for kicks, the re-check cannot miss a concurrent publish.
  return shared16(avail_ + kAvailIdxOff).load(std::memory_order_seq_cst);
}

std::optional<Chain> SplitDevice::pop_avail() {
  Chain c;
  if (!pop_avail(c)) return std::nullopt;
  return c;
}

bool SplitDevice::add_segment(Chain& out, const SplitDesc& d, const char* where, std::uint32_t index,
                              bool& seen_writable) {
  const bool writable = (d.flags & kDescFWrite) != 0;
  // §2.7.4.2 / §2.6.4: device-readable elements precede device-writable ones.
  if (!writable && seen_writable)
    return fail(cat(where, " descriptor ", index, " is device-readable after a device-writable one: the driver must put "
                    "all readable descriptors before the writable ones (virtio-v1.2 §2.7.4.2)"));
  if (d.len == 0)
    return fail(cat(where, " descriptor ", index, " has len 0: a buffer element must hold at least one byte"));
  std::byte* p = cfg_.translate(d.addr, d.len);
  if (p == nullptr)
    return fail(cat(where, " descriptor ", index, " addr 0x", std::hex, d.addr, std::dec, " len ", d.len,
                    " is outside the device's IOVA window: the driver must only post mapped DMA memory"));
  seen_writable = seen_writable || writable;
  out.segs.push_back(Segment{p, d.len, writable});
  return true;
}

bool SplitDevice::walk_indirect(Chain& out, const SplitDesc& d, std::uint16_t at, bool& seen_writable) {
  // §2.7.5.3: an indirect descriptor points at a table of len/16 descriptors.
  if (!indirect_)
    return fail(cat("descriptor ", at, " has VIRTQ_DESC_F_INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated (virtio-v1.2 §2.7.5.3.1)"));
  if ((d.flags & kDescFNext) != 0)
    return fail(cat("descriptor ", at, " sets both INDIRECT and NEXT: forbidden by virtio-v1.2 §2.7.5.3.1"));
  if (d.len == 0 || d.len % sizeof(SplitDesc) != 0)
    return fail(cat("indirect descriptor ", at, " len ", d.len, " is not a non-zero multiple of 16 (virtio-v1.2 §2.7.5.3)"));
  const std::byte* table = cfg_.translate(d.addr, d.len);
  if (table == nullptr)
    return fail(cat("indirect table of descriptor ", at, " (addr 0x", std::hex, d.addr, std::dec, " len ", d.len,
                    ") is outside the device's IOVA window"));
  const std::uint32_t n = d.len / static_cast<std::uint32_t>(sizeof(SplitDesc));
  std::uint32_t i = 0;
  for (std::uint32_t count = 0;; ++count) {
    if (count >= n)
      return fail(cat("indirect table of descriptor ", at, " loops: its next chain is longer than its ", n, " entries"));
    const auto e = read_plain<SplitDesc>(table + sizeof(SplitDesc) * i);
    if ((e.flags & kDescFIndirect) != 0)
      return fail(cat("indirect table entry ", i, " (of descriptor ", at,
                      ") sets INDIRECT: an indirect table must not point at another (virtio-v1.2 §2.7.5.3.1)"));
    if (!add_segment(out, e, "indirect", i, seen_writable)) return false;
    if ((e.flags & kDescFNext) == 0) return true;
    if (e.next >= n)
      return fail(cat("indirect table entry ", i, " next ", e.next, " is beyond the table's ", n, " entries"));
    i = e.next;
  }
}

bool SplitDevice::pop_avail(Chain& out) {
  if (!driver_error_.empty()) return false;
  const std::uint16_t avail_idx = load_avail_idx();
  const auto waiting = static_cast<std::uint16_t>(avail_idx - last_avail_);
  if (waiting == 0) return false;
  if (waiting > size_)
    return fail(cat("avail->idx ", avail_idx, " is ", waiting, " entries ahead of the device's ", last_avail_,
                    ", more than the queue size ", size_,
                    ": the driver published entries it has no room for, or moved idx backwards"));
  // The ring entry was written before the release store of idx (acquired above).
  const auto head = read_plain<le16>(avail_ + avail_ring_off(last_avail_ & (size_ - 1u)));
  if (head >= size_)
    return fail(cat("avail ring entry ", last_avail_, " names head descriptor ", head, ", beyond queue size ", size_));
  if (head_in_flight_[head] != 0)
    return fail(cat("head descriptor ", head, " made available again while the device still owns it (not yet used)"));

  out.segs.clear();
  out.id = head;
  walk_.clear();
  bool seen_writable = false;
  std::uint16_t i = head;
  for (;;) {
    if (walk_.size() >= size_)
      return fail(cat("descriptor chain from head ", head, " is longer than the queue size ", size_, " (a loop?)"));
    if (desc_owned_[i] != 0)
      return fail(cat("descriptor ", i, " (chain of head ", head, ") is already in a chain the device owns, or the chain loops"));
    desc_owned_[i] = 1;
    walk_.push_back(i);
    const auto d = read_plain<SplitDesc>(desc_ + sizeof(SplitDesc) * i);
    if ((d.flags & kDescFIndirect) != 0) {
      if (!walk_indirect(out, d, i, seen_writable)) return false;
      break;  // INDIRECT never carries NEXT (checked in walk_indirect)
    }
    if (!add_segment(out, d, "", i, seen_writable)) return false;
    if ((d.flags & kDescFNext) == 0) break;
    if (d.next >= size_)
      return fail(cat("descriptor ", i, " next ", d.next, " is beyond queue size ", size_));
    i = d.next;
  }
  out.descs = static_cast<std::uint16_t>(walk_.size());
  out.serial = next_serial_++;
  chain_of_[head].assign(walk_.begin(), walk_.end());
  head_in_flight_[head] = 1;
  ++in_flight_;
  ++last_avail_;
  ++counters_.consumed;
  if (event_idx_ && notify_enabled_) {
    // §2.7.10: avail_event = "notify me when you publish entry last_avail_".
    // seq_cst: the driver reads it after its full barrier following the
    // avail->idx store (the two sides' Dekker pair, §2.7.10 driver requirement).
    shared16(used_ + used_avail_event_off(size_)).store(last_avail_, std::memory_order_seq_cst);
  }
  return true;
}

void SplitDevice::push_used(const Chain& chain, std::uint32_t written_len) {
  if (chain.id >= size_ || head_in_flight_[chain.id] == 0) {
    if (model_error_.empty()) model_error_ = cat("push_used of head ", chain.id, " which is not in flight");
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
  head_in_flight_[chain.id] = 0;
  for (std::uint16_t d : chain_of_[chain.id]) desc_owned_[d] = 0;
  chain_of_[chain.id].clear();
  --in_flight_;
  ++counters_.used;
  pending_.push_back(PendingUsed{chain.id, written_len});
}

void SplitDevice::publish() {
  if (pending_.empty() || used_ == nullptr) return;
  const auto n = static_cast<std::uint16_t>(pending_.size());
  auto write_elem = [&](std::uint16_t at, const PendingUsed& p) {
    write_plain(used_ + used_ring_off(at & (size_ - 1u)), UsedElem{p.id, p.len});
  };
  if (in_order_ && in_order_batching_) {
    // §2.7.9: one entry, at the current used position, carrying the id of the
    // head of the LAST buffer in the batch; idx then skips the whole batch.
    write_elem(used_idx_, pending_.back());
  } else {
    for (std::uint16_t k = 0; k < n; ++k) write_elem(static_cast<std::uint16_t>(used_idx_ + k), pending_[k]);
  }
  used_idx_ = static_cast<std::uint16_t>(used_idx_ + n);
  // Release pairs with the driver's acquire load of used->idx before it reads
  // the used elements (§2.7.8; §2.7.14 the device updates idx after the ring).
  // seq_cst rather than release: it is also the full barrier §2.7.7.2 wants
  // between publishing idx and reading used_event / flags in
  // should_interrupt() (a seq_cst store/load pair instead of a fence, which
  // TSan does not model).
  shared16(used_ + kUsedIdxOff).store(used_idx_, std::memory_order_seq_cst);
  pending_.clear();
  ++counters_.published;
}

bool SplitDevice::should_interrupt() {
  if (avail_ == nullptr) return false;
  const std::uint16_t old = signalled_;
  signalled_ = used_idx_;
  if (old == used_idx_) return false;
  // The seq_cst store of used->idx in publish() and the seq_cst loads below
  // form the device half of a Dekker pair with the driver, which writes
  // used_event / flags and then re-reads used->idx with a full barrier between
  // (§2.7.7.2, §2.7.10): one side always sees the other, no interrupt is lost.
  bool fire;
  if (event_idx_) {
    const std::uint16_t used_event = shared16(avail_ + avail_used_event_off(size_)).load(std::memory_order_seq_cst);
    fire = need_event(used_event, used_idx_, old);
  } else {
    const std::uint16_t flags = shared16(avail_ + kAvailFlagsOff).load(std::memory_order_seq_cst);
    fire = (flags & kAvailFNoInterrupt) == 0;
  }
  if (fire) ++counters_.interrupts;
  return fire;
}

void SplitDevice::set_notifications(bool enabled) {
  notify_enabled_ = enabled;
  if (used_ == nullptr) return;
  if (event_idx_) {
    // §2.7.10: with EVENT_IDX the device ignores NO_NOTIFY and asks instead
    // for a kick when the driver publishes entry last_avail_. Disabling leaves
    // the old avail_event behind, as real devices do (the driver may still kick).
    if (enabled) shared16(used_ + used_avail_event_off(size_)).store(last_avail_, std::memory_order_seq_cst);
  } else {
    shared16(used_ + kUsedFlagsOff).store(enabled ? 0 : kUsedFNoNotify, std::memory_order_seq_cst);
  }
}

}  // namespace vpmd::model
