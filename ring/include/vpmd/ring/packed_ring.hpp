#pragma once
// Driver side of a packed virtqueue (virtio-v1.2 §2.8).
//
// One descriptor ring is shared both ways: the driver writes available
// descriptors with AVAIL = its wrap counter and USED = the inverse; the device
// overwrites them with used descriptors whose AVAIL = USED = its wrap counter
// (§2.8.1). The driver keeps the wrap counters, the flag pattern of the
// current lap (flipped by XOR on wrap, as Linux does) and each buffer's
// descriptor count in host memory, and polls one location: the next used
// position (§2.8.2).
//
// Publication: add_*() write every descriptor but the heads; publish() then
// writes the heads' flags, oldest first, each with a release store, so the
// device never sees a partial chain (§2.8.6: "the driver always makes the first
// descriptor in the list available after the rest of the list").
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "vpmd/mem/result.hpp"
#include "vpmd/ring/barrier.hpp"
#include "vpmd/ring/ring_idx.hpp"
#include "vpmd/ring/virtqueue.hpp"

namespace vpmd::ring {

template <RingPolicy P>
class PackedRing {
 public:
  template <class> friend struct RingInternals;  // simd/ring_state.hpp: batched access
  using Token = typename P::Token;
  static constexpr bool in_order = P::in_order;
  static constexpr RingKind kind = RingKind::packed;
  static constexpr uint16_t wrap_flags = desc_flag::avail | desc_flag::used;

  static Layout layout_for(const RingConfig& c) { return packed_layout(c.size, indirect_of(c)); }

  static Result<PackedRing> create(const RingConfig& c, RingMemory mem) {
    if (!valid_queue_size(RingKind::packed, c.size))
      return make_error(EINVAL, "packed ring size " + std::to_string(c.size) + " is not in 1..32768 (virtio-v1.2 §2.8)");
    if (c.layout != LayoutKind::modern)
      return make_error(EINVAL, "packed rings have no legacy layout (virtio-v1.2 §2.8 needs VERSION_1)");
    const Layout l = layout_for(c);
    if (auto r = check_ring_memory(l, mem); !r) return r.error();
    return PackedRing(c, mem, l);
  }

  PackedRing(PackedRing&&) noexcept = default;
  PackedRing& operator=(PackedRing&&) noexcept = default;

  uint16_t size() const { return size_; }
  uint16_t free_descriptors() const { return num_free_; }
  uint16_t in_flight() const { return inflight_; }
  Broken broken() const { return broken_; }
  RingAreas areas() const { return areas_; }
  bool indirect_enabled() const { return indirect_entries_ != 0; }
  // The buffer id the next add will use (see SplitRing::next_id).
  uint16_t next_id() const noexcept { return in_order ? next_avail_ : free_id_; }

  // One buffer of `segs` (readable first, then writable: virtio-v1.2 §2.8.4),
  // as a chain (§2.8.6) or, when indirect descriptors are negotiated and the
  // chain is longer than one, through this id's indirect table (§2.8.7).
  bool add_chain(std::span<const Segment> segs, Token tok) noexcept {
    const auto n = segs.size();
    if (broken_ != Broken::none || tok == nullptr || n == 0) return false;
    const bool indirect = n > 1 && n <= indirect_entries_;
    const size_t need = indirect ? 1 : n;
    if (need > num_free_) return false;

    const uint16_t id = take_id();
    const uint16_t head = next_avail_;
    uint64_t cap = 0;
    uint16_t head_flags = 0;
    if (indirect) {
      PackedDesc* table = indirect_table(id);
      for (size_t i = 0; i < n; ++i) {
        // §2.8.7: WRITE is the only valid flag in an indirect table; ids are ignored.
        table[i] = PackedDesc{segs[i].iova, segs[i].len, 0, flags_of(segs[i])};
        cap += segs[i].device_writable ? segs[i].len : 0;
      }
      head_flags = static_cast<uint16_t>(lap_flags_ | desc_flag::indirect);
      write_body(next_avail_, indirect_iova(id), static_cast<uint32_t>(n * sizeof(PackedDesc)), id);
      step_avail();
    } else {
      for (size_t i = 0; i < n; ++i) {
        const uint16_t f = static_cast<uint16_t>(lap_flags_ | flags_of(segs[i]) | (i + 1 < n ? desc_flag::next : 0));
        write_body(next_avail_, segs[i].iova, segs[i].len, id);  // §2.8.6: id in every descriptor, the last one counts
        if (i == 0) head_flags = f;
        else barrier::poke(desc_[next_avail_].flags, f);  // ordered before the head by publish()'s release
        cap += segs[i].device_writable ? segs[i].len : 0;
        step_avail();
      }
    }
    book(id, head, head_flags, static_cast<uint16_t>(need), static_cast<uint32_t>(std::min<uint64_t>(cap, UINT32_MAX)), tok);
    return true;
  }

  // Bulk add of single-descriptor buffers (RX refill, TX fast path). The
  // shadows live in locals for the loop: as in SplitRing, gcc would otherwise
  // reload every 16-bit member after each store into the 16-bit side arrays
  // (they may alias), and store them back each time.
  template <class SegOf>
  uint16_t add_singles(std::span<const Token> toks, bool device_writable, SegOf&& seg_of) noexcept {
    return add_each(count_of(toks.size()), device_writable, ArraySource<Token, SegOf>{toks.data(), seg_of});
  }

  // add_singles() with a source instead of an array (see SplitRing::add_each).
  template <class Make>
  uint16_t add_each(uint16_t max, bool device_writable, Make&& make) noexcept {
    if (broken_ != Broken::none) return 0;
    const uint16_t n = std::min(max, num_free_);
    const uint16_t wflag = device_writable ? desc_flag::write : 0;
    PackedDesc* const desc = desc_;
    Token* const tokens = tokens_.get();
    const uint16_t* const id_next = id_next_.get();
    uint16_t* const ndesc = ndesc_.get();
    uint32_t* const cap = cap_.get();
    uint16_t* const pending_head = pending_head_.get() + unpublished_;
    uint16_t* const pending_flags = pending_flags_.get() + unpublished_;
    const uint16_t size = size_;
    uint16_t next_avail = next_avail_, free_id = free_id_, lap_flags = lap_flags_;
    bool avail_wrap = avail_wrap_;
    uint16_t i = 0;
    for (; i < n; ++i) {
      Single s{};
      const Token tok = make(i, s);
      if (tok == nullptr) break;
      // In order the buffer id is its head position; otherwise the free list's head.
      const uint16_t id = in_order ? next_avail : free_id;
      if constexpr (!in_order) free_id = id_next[id];
      // Body only: the head's flags wait for publish() (§2.8.6).
      PackedDesc& d = desc[next_avail];
      d.addr = s.iova;
      d.len = s.len;
      d.id = id;
      tokens[id] = tok;
      ndesc[id] = 1;
      cap[id] = device_writable ? s.len : 0;
      pending_head[i] = next_avail;
      pending_flags[i] = static_cast<uint16_t>(lap_flags | wflag);
      if (++next_avail == size) {  // as step_avail()
        next_avail = 0;
        avail_wrap = !avail_wrap;
        lap_flags ^= wrap_flags;  // §2.8.1
      }
    }
    next_avail_ = next_avail;
    free_id_ = free_id;
    lap_flags_ = lap_flags;
    avail_wrap_ = avail_wrap;
    num_free_ = static_cast<uint16_t>(num_free_ - i);
    unpublished_desc_ = static_cast<uint16_t>(unpublished_desc_ + i);
    unpublished_ = static_cast<uint16_t>(unpublished_ + i);
    inflight_ = static_cast<uint16_t>(inflight_ + i);
    return i;
  }

  // Makes every added buffer available: head flags, oldest first, each a
  // release store that pairs with the device's acquire of the same flags
  // before it reads the descriptor (virtio-v1.2 §2.8.21, §2.8.22).
  void publish() noexcept {
    PackedDesc* const desc = desc_;
    const uint16_t* const pending_head = pending_head_.get();
    const uint16_t* const pending_flags = pending_flags_.get();
    const uint16_t count = unpublished_;
    for (uint16_t i = 0; i < count; ++i) barrier::publish(desc[pending_head[i]].flags, pending_flags[i]);
    added_ = static_cast<uint16_t>(added_ + unpublished_desc_);
    unpublished_ = unpublished_desc_ = 0;
  }

  // Whether the device wants an available-buffer notification for what was
  // published since the last call (virtio-v1.2 §2.8.10: device event
  // suppression ENABLE / DISABLE / DESC with offset and wrap counter).
  bool needs_notify() noexcept {
    const uint16_t added = std::exchange(added_, uint16_t{0});
    if (added == 0) return false;
    // Orders the head-flag stores before reading the device's suppression
    // structure; pairs with the device's full barrier between writing it and
    // re-checking the ring (virtio-v1.2 §2.8.21.1; Linux virtio_mb).
    barrier::store_load_fence();
    const uint16_t flags = barrier::peek(device_event_->flags);
    if (flags != event_flag::desc || !event_idx_) return flags != event_flag::disable;
    const uint16_t off_wrap = barrier::peek(device_event_->off_wrap);
    uint16_t event = off_wrap & 0x7FFF;
    // An event offset from the previous lap sits `size` positions behind.
    if ((off_wrap >> 15) != avail_wrap_) event = static_cast<uint16_t>(event - size_);
    const RingIdx now(next_avail_);
    return need_event(RingIdx(event), now, now - added);
  }

  // VIRTIO_F_NOTIFICATION_DATA (virtio-v1.2 §4.1.5.2): next_off | next_wrap << 15.
  uint16_t notification_data() const { return static_cast<uint16_t>(next_avail_ | (avail_wrap_ << 15)); }

  // Takes up to min(toks, lens) used buffers, in the order the device
  // wrote them, validating everything it wrote. The hot shadows are locals
  // for the loop (see add_singles) and written back once.
  [[gnu::always_inline]] uint16_t reap(std::span<Token> toks, std::span<uint32_t> lens) noexcept {
    return reap_each(count_of(std::min(toks.size(), lens.size())), ArraySink<Token>{toks.data(), lens.data()});
  }

  // reap() with a sink instead of arrays: each used buffer is offered to
  // take(i, token, len) before the ring lets it go; a sink that returns
  // false leaves it used and ends the call (see SplitRing::reap_each).
  template <class Take>
  [[gnu::always_inline]] uint16_t reap_each(uint16_t max, Take&& take) noexcept {
    if (broken_ != Broken::none) return 0;
    PackedDesc* const desc = desc_;
    Token* const tokens = tokens_.get();
    const uint16_t* const ndesc = ndesc_.get();
    const uint32_t* const cap = cap_.get();
    uint16_t* const id_next = id_next_.get();
    const uint16_t size = size_, unpublished = unpublished_;
    uint16_t next_used = next_used_, free_id = free_id_, num_free = num_free_, inflight = inflight_;
    uint16_t ready = ready_, chains = chains_;
    uint32_t ready_len = ready_len_;
    bool used_wrap = used_wrap_;
    // Takes buffer `id` back and moves the used position past its descriptors.
    const auto take_back = [&](uint16_t id) {
      const uint16_t nd = ndesc[id];
      tokens[id] = nullptr;
      num_free = static_cast<uint16_t>(num_free + nd);
      --inflight;
      if constexpr (in_order) {
        chains = static_cast<uint16_t>(chains - (nd > 1));
      } else {
        id_next[id] = free_id;
        free_id = id;
      }
      next_used = static_cast<uint16_t>(next_used + nd);
      if (next_used >= size) {
        next_used = static_cast<uint16_t>(next_used - size);
        used_wrap = !used_wrap;
      }
    };
    uint16_t out = 0;
    while (out < max) {
      if constexpr (in_order) {
        if (ready != 0) {  // the rest of a batch completed by one used descriptor
          const uint16_t h = next_used;
          if (!take(out, tokens[h], ready == 1 ? ready_len : cap[h])) break;  // stays ready
          ++out;
          --ready;
          take_back(h);
          continue;
        }
      }
      if (inflight - unpublished == 0) break;
      PackedDesc& d = desc[next_used];
      // Pairs with the device's release store of these flags after it wrote
      // id and len (virtio-v1.2 §2.8.22).
      const uint16_t flags = barrier::observe(d.flags);
      const bool avail = (flags & desc_flag::avail) != 0, used = (flags & desc_flag::used) != 0;
      if (avail != used_wrap) { fail(Broken::bad_flags); break; }  // neither ours nor a used one of this lap
      if (used != used_wrap) break;                                 // still available: not used yet
      const uint16_t id = d.id;
      // §2.8.4 marks used descriptors that carry data with WRITE, but QEMU
      // (virtqueue_packed_fill_desc) never sets it and Linux reads len
      // regardless: take len as written, validated below.
      const uint32_t len = d.len;
      if constexpr (in_order) {
        if (id == next_used && chains == 0) {  // a batch of one, as RX completes: emitted here, not via `ready`
          if (len > cap[id] && cap[id] != 0) { fail(Broken::bad_len); break; }  // see below
          if (!take(out, tokens[id], cap[id] != 0 ? len : 0)) break;
          ++out;
          take_back(id);
          continue;
        }
        const uint16_t k = batch_length(id, next_used, static_cast<uint16_t>(inflight - unpublished), chains);
        if (k == 0) { fail(Broken::bad_id); break; }
        // A device-readable buffer (TX) has nothing to report: DPDK's vhost
        // leaves our own len in the descriptor it returns. Ignore it there.
        if (len > cap[id] && cap[id] != 0) { fail(Broken::bad_len); break; }
        ready = k;
        ready_len = cap[id] != 0 ? len : 0;
        continue;  // emitted by the branch above
      } else {
        if (id >= size || tokens[id] == nullptr) { fail(Broken::bad_id); break; }
        if (len > cap[id] && cap[id] != 0) { fail(Broken::bad_len); break; }  // see split_ring.hpp
        if (!take(out, tokens[id], cap[id] != 0 ? len : 0)) break;
        ++out;
        take_back(id);
      }
    }
    next_used_ = next_used;
    used_wrap_ = used_wrap;
    free_id_ = free_id;
    num_free_ = num_free;
    inflight_ = inflight;
    ready_ = ready;
    ready_len_ = ready_len;
    chains_ = chains;
    if (out && event_flags_ == event_flag::desc) arm_used_event();
    return out;
  }

  bool has_used() const noexcept {
    if (ready_ != 0) return true;
    if (inflight_ - unpublished_ == 0) return false;
    const uint16_t flags = barrier::observe(desc_[next_used_].flags);
    return ((flags & desc_flag::used) != 0) == used_wrap_ && ((flags & desc_flag::avail) != 0) == used_wrap_;
  }

  // Driver event suppression (virtio-v1.2 §2.8.10), shadowed so that the
  // shared structure is written only on change.
  void disable_interrupts() noexcept { set_event_flags(event_flag::disable); }

  bool enable_interrupts() noexcept {
    if (event_idx_) {
      arm_used_event();
      set_event_flags(event_flag::desc);
    } else {
      set_event_flags(event_flag::enable);
    }
    // Orders the suppression store before re-checking the ring; pairs with
    // the device's barrier between marking used and reading the structure.
    barrier::store_load_fence();
    return has_used();
  }

  // Diagnostics (cold): the event suppression structures and the next
  // used descriptor's flags as they are now, beside the driver's shadows.
  std::string shared_state() const {
    const auto n = [](unsigned v) { return std::to_string(v); };
    return "driver_event=" + n(barrier::peek(driver_event_->flags)) + "/" + n(barrier::peek(driver_event_->off_wrap)) +
           " device_event=" + n(barrier::peek(device_event_->flags)) + "/" + n(barrier::peek(device_event_->off_wrap)) +
           " desc[next_used].flags=" + n(barrier::peek(desc_[next_used_].flags)) + " | next_avail=" + n(next_avail_) +
           " avail_wrap=" + n(avail_wrap_) + " next_used=" + n(next_used_) + " used_wrap=" + n(used_wrap_);
  }

  template <class F>
  void detach_all(F&& f) {
    for (uint32_t i = 0; i < size_; ++i)
      if (tokens_[i] != nullptr) f(std::exchange(tokens_[i], nullptr));
    reset_state();
  }

 private:
  static uint16_t indirect_of(const RingConfig& c) {
    return (c.features & feature::indirect_desc) ? c.indirect_entries : 0;
  }
  static uint16_t flags_of(const Segment& s) { return s.device_writable ? desc_flag::write : 0; }

  PackedRing(const RingConfig& c, RingMemory mem, const Layout& l)
      : tokens_(std::make_unique<Token[]>(c.size)), cap_(std::make_unique<uint32_t[]>(c.size)),
        ndesc_(std::make_unique<uint16_t[]>(c.size)), id_next_(std::make_unique<uint16_t[]>(c.size)),
        pending_head_(std::make_unique<uint16_t[]>(c.size)), pending_flags_(std::make_unique<uint16_t[]>(c.size)),
        size_(c.size), mem_(mem), layout_(l), event_idx_((c.features & feature::event_idx) != 0),
        indirect_entries_(indirect_of(c)) {
    desc_ = reinterpret_cast<PackedDesc*>(mem.va + l.desc);
    driver_event_ = reinterpret_cast<PackedEvent*>(mem.va + l.driver);
    device_event_ = reinterpret_cast<PackedEvent*>(mem.va + l.device);
    areas_ = RingAreas{mem.iova + l.desc, mem.iova + l.driver, mem.iova + l.device};
    reset_state();
  }

  void reset_state() {
    std::memset(mem_.va, 0, layout_.total);
    for (uint32_t i = 0; i < size_; ++i) {
      id_next_[i] = static_cast<uint16_t>(i + 1);
      tokens_[i] = nullptr;
    }
    free_id_ = 0;
    num_free_ = size_;
    inflight_ = unpublished_ = unpublished_desc_ = added_ = ready_ = chains_ = 0;
    next_avail_ = next_used_ = 0;
    avail_wrap_ = used_wrap_ = true;           // §2.8.1: both wrap counters start at 1
    lap_flags_ = desc_flag::avail;             // AVAIL = 1, USED = 0 for the first lap
    event_flags_ = event_flag::enable;         // the structure is zero = ENABLE after reset
    broken_ = Broken::none;
  }

  PackedDesc* indirect_table(uint16_t id) const {
    return reinterpret_cast<PackedDesc*>(mem_.va + layout_.indirect) + size_t{id} * indirect_entries_;
  }
  uint64_t indirect_iova(uint16_t id) const {
    return mem_.iova + layout_.indirect + size_t{id} * indirect_entries_ * sizeof(PackedDesc);
  }

  // In order, the buffer id is its head position, so a batch's extent follows
  // from the ids; otherwise ids come from a free list.
  uint16_t take_id() {
    if constexpr (in_order) return next_avail_;
    const uint16_t id = free_id_;
    free_id_ = id_next_[id];
    return id;
  }

  void write_body(uint16_t slot, uint64_t iova, uint32_t len, uint16_t id) {
    PackedDesc& d = desc_[slot];
    d.addr = iova;
    d.len = len;
    d.id = id;
  }

  void step_avail() {
    --num_free_;
    ++unpublished_desc_;
    if (++next_avail_ == size_) {
      next_avail_ = 0;
      avail_wrap_ = !avail_wrap_;
      lap_flags_ ^= wrap_flags;  // §2.8.1: AVAIL and USED both flip with the driver's wrap counter
    }
  }

  void book(uint16_t id, uint16_t head, uint16_t head_flags, uint16_t ndesc, uint32_t cap, Token tok) {
    tokens_[id] = tok;
    ndesc_[id] = ndesc;
    cap_[id] = cap;
    if constexpr (in_order) chains_ = static_cast<uint16_t>(chains_ + (ndesc > 1));
    pending_head_[unpublished_] = head;
    pending_flags_[unpublished_] = head_flags;
    ++unpublished_;
    ++inflight_;
  }

  // In order: how many published buffers, from the oldest, end with buffer
  // `id` (virtio-v1.2 §2.8.20); 0 when id is none of them.
  // `next_used`, `published` (in flight minus unpublished) and `chains` as
  // the caller holds them. With no chain in flight every buffer holds one
  // descriptor, so that is the distance from the oldest, O(1): DPDK's vhost
  // returns a TX batch of up to 32 with one used descriptor. With chains,
  // their descriptor counts are walked.
  uint16_t batch_length(uint16_t id, uint16_t next_used, uint16_t published, uint16_t chains) const {
    if (chains != 0) [[unlikely]] return walk_batch(id, next_used, published);
    if (id >= size_) return 0;
    const uint16_t dist = static_cast<uint16_t>(id >= next_used ? id - next_used : id + size_ - next_used);
    return dist < published ? static_cast<uint16_t>(dist + 1) : 0;
  }
  // Out of line, so that reap stays small enough to inline into the bursts.
  [[gnu::noinline, gnu::cold]] uint16_t walk_batch(uint16_t id, uint16_t next_used, uint16_t published) const {
    uint16_t h = next_used;
    for (uint16_t j = 0; j < published; ++j) {
      if (h == id) return static_cast<uint16_t>(j + 1);
      h = static_cast<uint16_t>(h + ndesc_[h]);
      if (h >= size_) h = static_cast<uint16_t>(h - size_);
    }
    return 0;
  }

  void set_event_flags(uint16_t f) {
    if (event_flags_ == f) return;
    event_flags_ = f;
    barrier::poke(driver_event_->flags, f);
  }
  // Ask for a used-buffer notification when the next used position is written.
  void arm_used_event() {
    barrier::poke(driver_event_->off_wrap, static_cast<uint16_t>(next_used_ | (used_wrap_ << 15)));
  }

  void fail(Broken why) { if (broken_ == Broken::none) broken_ = why; }

  // hot, first: what the any-order vector kernels work on, in the order of
  // simd::PackedState (simd/ring_state.hpp), so that RingInternals copies
  // it in a few wide moves rather than field by field.
  PackedDesc* desc_ = nullptr;
  std::unique_ptr<Token[]> tokens_;          // per buffer id
  std::unique_ptr<uint32_t[]> cap_;          // per id: device-writable bytes
  std::unique_ptr<uint16_t[]> ndesc_;        // per id: ring descriptors it holds
  std::unique_ptr<uint16_t[]> id_next_;      // free buffer ids (any order)
  std::unique_ptr<uint16_t[]> pending_head_; // added, not yet published heads (ring order)
  std::unique_ptr<uint16_t[]> pending_flags_;
  uint16_t size_ = 0;
  // the driver's shadows
  uint16_t next_avail_ = 0, next_used_ = 0;
  bool avail_wrap_ = true, used_wrap_ = true;
  uint16_t lap_flags_ = desc_flag::avail;
  uint16_t free_id_ = 0, num_free_ = 0, inflight_ = 0;
  uint16_t unpublished_ = 0, unpublished_desc_ = 0, added_ = 0;
  uint16_t ready_ = 0;
  uint16_t chains_ = 0;  // in order: buffers in flight holding more than one descriptor
  uint32_t ready_len_ = 0;
  uint16_t event_flags_ = event_flag::enable;
  Broken broken_ = Broken::none;

  // cold
  RingMemory mem_;
  Layout layout_;
  RingAreas areas_;
  PackedEvent* driver_event_ = nullptr;
  PackedEvent* device_event_ = nullptr;
  bool event_idx_ = false;
  uint16_t indirect_entries_ = 0;
};

}  // namespace vpmd::ring
