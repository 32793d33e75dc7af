#pragma once
// Driver side of a split virtqueue (virtio-v1.2 §2.7).
//
// Shadowing: everything the driver owns (avail idx, avail flags, the free
// descriptor list, chain lengths) lives in host memory here and is never read
// back from the shared ring, so a device scribbling on the driver area cannot
// steer the driver (Linux virtio_ring.c does the same). What the device writes
// (used idx, used ids and lengths) is validated before it is believed.
//
// Any order, the free descriptor list is a queue: a buffer's descriptors go
// back at its tail when the device returns it, and adds take them from its
// head. A device that completes in order (as every back end does for
// single-descriptor buffers) then gets descriptor d in the same avail slot
// lap after lap, the fixed slot-to-descriptor mapping DPDK's vector paths
// set up by trusting the device, kept here without trusting it: set_avail
// stores only the entries that change.
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
class SplitRing {
 public:
  template <class> friend struct RingInternals;  // simd/ring_state.hpp: batched access
  using Token = typename P::Token;
  static constexpr bool in_order = P::in_order;
  static constexpr RingKind kind = RingKind::split;

  static Layout layout_for(const RingConfig& c) { return split_layout(c.size, c.layout, indirect_of(c)); }

  // Lays the ring out in `mem` (zeroing it) and prepares the shadow state.
  static Result<SplitRing> create(const RingConfig& c, RingMemory mem) {
    if (!valid_queue_size(RingKind::split, c.size))
      return make_error(EINVAL, "split ring size " + std::to_string(c.size) +
                                    " is not a power of two in 1..32768 (virtio-v1.2 §2.7)");
    const Layout l = layout_for(c);
    if (auto r = check_ring_memory(l, mem); !r) return r.error();
    return SplitRing(c, mem, l);
  }

  SplitRing(SplitRing&&) noexcept = default;
  SplitRing& operator=(SplitRing&&) noexcept = default;

  uint16_t size() const { return size_; }
  uint16_t free_descriptors() const { return num_free_; }
  uint16_t in_flight() const { return inflight_; }
  Broken broken() const { return broken_; }
  RingAreas areas() const { return areas_; }
  bool indirect_enabled() const { return indirect_entries_ != 0; }
  // The head descriptor the next add will use: unique among buffers in
  // flight, so a caller can key per-buffer side data (a TX header slot) on it.
  // Meaningful only while a descriptor is free (any order, a full ring's is
  // the sentinel, size()).
  uint16_t next_id() const noexcept { return in_order ? next_desc_ : free_head_; }

  // Adds one buffer made of `segs` (device-readable segments first, then
  // device-writable ones: virtio-v1.2 §2.6.4.2). With indirect descriptors
  // negotiated and a chain longer than one, it takes one ring descriptor and
  // this head's indirect table (§2.7.5.3). False when the ring is full, broken
  // or the input is unusable; nothing is changed then.
  bool add_chain(std::span<const Segment> segs, Token tok) noexcept {
    const auto n = segs.size();
    if (broken_ != Broken::none || tok == nullptr || n == 0) return false;
    const bool indirect = n > 1 && n <= indirect_entries_;
    const size_t need = indirect ? 1 : n;
    if (need > num_free_) return false;

    const uint16_t head = in_order ? next_desc_ : free_head_;
    uint64_t cap = 0;
    uint16_t last = head;
    if (indirect) {
      SplitDesc* table = indirect_table(head);
      for (size_t i = 0; i < n; ++i) {
        const uint16_t f = flags_of(segs[i]) | (i + 1 < n ? desc_flag::next : 0);
        table[i] = SplitDesc{segs[i].iova, segs[i].len, f, static_cast<uint16_t>(i + 1)};
        cap += segs[i].device_writable ? segs[i].len : 0;
      }
      desc_[head] = SplitDesc{indirect_iova(head), static_cast<uint32_t>(n * sizeof(SplitDesc)), desc_flag::indirect, 0};
      advance_free(head);
    } else {
      uint16_t d = head;
      for (size_t i = 0; i < n; ++i) {
        const uint16_t nxt = following(d);
        const bool more = i + 1 < n;
        desc_[d] = SplitDesc{segs[i].iova, segs[i].len,
                             static_cast<uint16_t>(flags_of(segs[i]) | (more ? desc_flag::next : 0)), more ? nxt : uint16_t{0}};
        cap += segs[i].device_writable ? segs[i].len : 0;
        last = d;
        advance_free(d);
        d = nxt;
      }
    }
    book(head, last, static_cast<uint16_t>(need), static_cast<uint32_t>(std::min<uint64_t>(cap, UINT32_MAX)), tok);
    return true;
  }

  // Bulk add of single-descriptor buffers, the RX refill and TX fast path:
  // seg_of(token) -> Single{iova, len}. Adds min(toks.size(), free) buffers
  // and returns how many.
  template <class SegOf>
  uint16_t add_singles(std::span<const Token> toks, bool device_writable, SegOf&& seg_of) noexcept {
    return add_each(count_of(toks.size()), device_writable, ArraySource<Token, SegOf>{toks.data(), seg_of});
  }

  // add_singles() with a source instead of an array: make(i, single) gives
  // the i-th buffer's token and fills its segment, or returns nullptr to end
  // the call there (simd::ScalarPath::tx: the leading plain packets of a TX
  // burst, each readied and added in one pass). Adds at most min(max, free).
  template <class Make>
  uint16_t add_each(uint16_t max, bool device_writable, Make&& make) noexcept {
    if (broken_ != Broken::none) return 0;
    const uint16_t n = std::min(max, num_free_);
    const uint16_t flags = device_writable ? desc_flag::write : 0;
    SplitDesc* const desc = desc_;
    uint16_t* const avail_ring = avail_ring_;
    Token* const tokens = tokens_.get();
    const uint16_t* const next = next_.get();
    uint16_t* const last = last_.get();
    uint16_t* const ndesc = ndesc_.get();
    uint32_t* const cap = cap_.get();
    const uint16_t mask = mask_;
    uint16_t d = in_order ? next_desc_ : free_head_;
    uint16_t avail = avail_idx_.value();
    uint16_t i = 0;
    for (; i < n; ++i) {
      Single s{};
      const Token tok = make(i, s);
      if (tok == nullptr) break;
      if (device_writable) set_desc(desc + d, SplitDesc{s.iova, s.len, flags, 0});
      else desc[d] = SplitDesc{s.iova, s.len, flags, 0};
      tokens[d] = tok;
      last[d] = d;
      ndesc[d] = 1;
      cap[d] = device_writable ? s.len : 0;
      set_avail(avail_ring, avail & mask, d);
      ++avail;
      d = in_order ? static_cast<uint16_t>((d + 1) & mask) : next[d];
    }
    if constexpr (in_order) next_desc_ = d; else free_head_ = d;
    num_free_ = static_cast<uint16_t>(num_free_ - i);
    inflight_ = static_cast<uint16_t>(inflight_ + i);
    avail_idx_ = RingIdx(avail);
    return i;
  }

  // Makes everything added so far visible to the device with one release
  // store of avail->idx; pairs with the device's acquire of avail->idx before
  // it reads ring entries and descriptors (virtio-v1.2 §2.7.13.3).
  void publish() noexcept {
    if (avail_idx_ == published_) return;
    barrier::publish(avail_->idx, avail_idx_.value());
    published_ = avail_idx_;
  }

  // Whether the device wants a notification for what was published since the
  // last call (virtio-v1.2 §2.7.10 without EVENT_IDX: used->flags
  // NO_NOTIFY; with it: avail_event and need_event over [old, new)).
  bool needs_notify() noexcept {
    const RingIdx old = kicked_, now = published_;
    kicked_ = now;
    if (old == now) return false;
    // Orders the avail->idx store above before the reads below; pairs with the
    // device's full barrier between writing avail_event/flags and re-reading
    // avail->idx (virtio-v1.2 §2.7.13.4).
    barrier::store_load_fence();
    if (event_idx_) return need_event(RingIdx(barrier::peek(*avail_event_)), now, old);
    return (barrier::peek(used_->flags) & used_f_no_notify) == 0;
  }

  // The value for VIRTIO_F_NOTIFICATION_DATA (virtio-v1.2 §2.7.23): next avail idx.
  uint16_t notification_data() const { return avail_idx_.value(); }

  // Takes up to min(toks, lens) used buffers, oldest first, with the lengths
  // the device wrote. Returns how many. Validates everything the device wrote;
  // a bad value marks the ring broken and stops before it.
  [[gnu::always_inline]] uint16_t reap(std::span<Token> toks, std::span<uint32_t> lens) noexcept {
    return reap_each(count_of(std::min(toks.size(), lens.size())), ArraySink<Token>{toks.data(), lens.data()});
  }

  // reap() with a sink instead of arrays: up to `max` used buffers, oldest
  // first, each offered to take(i, token, len) (i counts from 0) before the
  // ring lets it go. A sink that returns false leaves that buffer used and
  // ends the call, so a caller can finish each buffer in the same pass and
  // leave to a later reap() whatever it will not finish here (simd::
  // ScalarPath::rx: the RX body's whole-packet first buffers).
  template <class Take>
  [[gnu::always_inline]] uint16_t reap_each(uint16_t max, Take&& take) noexcept {
    if (broken_ != Broken::none || max == 0) return 0;
    // Pairs with the device's release store of used->idx after it wrote the
    // used elements (virtio-v1.2 §2.7.8, §2.7.14).
    const RingIdx used_idx(barrier::observe(used_->idx));
    const uint16_t pending = used_idx - last_used_;
    if (pending > inflight_ - ready_) return fail(Broken::used_idx_overrun), 0;
    if constexpr (in_order) return reap_in_order(max, used_idx, take);
    const uint16_t n = std::min(pending, max);
    Token* const tokens = tokens_.get();
    const uint32_t* const cap = cap_.get();
    uint16_t* const next = next_.get();
    const uint16_t* const last = last_.get();
    const uint16_t* const ndesc = ndesc_.get();
    const SplitUsedElem* const used = used_ring_;
    const uint16_t mask = mask_, size = size_, first = last_used_.value();
    // The queue's tail, or the sentinel (next_[size]) when it is empty, so
    // every push is the same link store (see the members).
    uint16_t tail = num_free_ == 0 ? size : free_tail_, freed = 0, done = 0;
    for (; done < n; ++done) {
      const SplitUsedElem& e = used[(first + done) & mask];
      const uint32_t id = e.id, len = e.len;
      if (id >= size || tokens[id] == nullptr) { fail(Broken::bad_id); break; }
      // A buffer with no device-writable part has no length to report:
      // whatever the device wrote there is ignored, as Linux does.
      if (len > cap[id] && cap[id] != 0) { fail(Broken::bad_len); break; }
      if (!take(done, tokens[id], cap[id] != 0 ? len : 0)) break;
      tokens[id] = nullptr;
      freed = static_cast<uint16_t>(freed + ndesc[id]);
      next[tail] = static_cast<uint16_t>(id);
      tail = last[id];
    }
    if (done != 0) {
      next[tail] = size;  // the end, as the vector kernels leave it (Group::queue_links)
      if (num_free_ == 0) free_head_ = next[size];
      free_tail_ = tail;
    }
    num_free_ = static_cast<uint16_t>(num_free_ + freed);
    inflight_ = static_cast<uint16_t>(inflight_ - done);
    last_used_ += done;
    if (done && irq_enabled_ && event_idx_) barrier::poke(*used_event_, last_used_.value());
    return done;
  }

  bool has_used() const noexcept {
    return ready_ != 0 || RingIdx(barrier::observe(used_->idx)) != last_used_;
  }

  // Starts loading the used elements the next reap of up to n buffers will
  // read: those the device has published (a peek of used->idx: the reap
  // acquires it again before it believes any of them), so that lines the
  // device is still writing are not pulled over to this core early.
  void prefetch_used(uint16_t n) const noexcept {
    const uint16_t pending = RingIdx(barrier::peek(used_->idx)) - last_used_;
    const uint32_t first = last_used_.slot(mask_), end = first + std::min(pending, n);
    const auto lines = [](const SplitUsedElem* from, const SplitUsedElem* to) {
      for (auto* p = reinterpret_cast<const char*>(from); p < reinterpret_cast<const char*>(to); p += 64)
        __builtin_prefetch(p);
    };
    lines(used_ring_ + first, used_ring_ + std::min<uint32_t>(end, size_));
    if (end > size_) lines(used_ring_, used_ring_ + (end - size_));  // the rest from the ring's start
  }

  // Device-to-driver notifications (virtio-v1.2 §2.7.7, §2.7.10). A polling
  // driver keeps them off; RX interrupt mode turns them on.
  void disable_interrupts() noexcept {
    irq_enabled_ = false;
    if (event_idx_) {
      // Already passed: the device's [old, new) window reaches it only after
      // 2^16 - 1 more completions (the spec has no "never" value with EVENT_IDX).
      barrier::poke(*used_event_, (last_used_ - 1).value());
    } else {
      barrier::poke(avail_->flags, avail_f_no_interrupt);
    }
  }

  // Re-enables them and says whether used buffers are already pending, so the
  // caller polls once more before sleeping (the classic lost-wakeup race).
  bool enable_interrupts() noexcept {
    irq_enabled_ = true;
    if (event_idx_) barrier::poke(*used_event_, last_used_.value());
    else barrier::poke(avail_->flags, uint16_t{0});
    // Orders the store above before re-reading used->idx; pairs with the
    // device's barrier between writing used->idx and reading used_event/flags.
    barrier::store_load_fence();
    return has_used();
  }

  // Diagnostics (cold): the shared indices and suppression fields as they
  // are now, beside the driver's shadows, for a stalled queue's report.
  std::string shared_state() const {
    const auto n = [](uint16_t v) { return std::to_string(v); };
    return "avail.idx=" + n(barrier::peek(avail_->idx)) + " avail.flags=" + n(barrier::peek(avail_->flags)) +
           " used_event=" + n(barrier::peek(*used_event_)) + " used.idx=" + n(barrier::peek(used_->idx)) +
           " used.flags=" + n(barrier::peek(used_->flags)) + " avail_event=" + n(barrier::peek(*avail_event_)) +
           " | published=" + n(published_.value()) + " kicked=" + n(kicked_.value()) + " last_used=" + n(last_used_.value());
  }

  // Teardown after the device is reset: hands every outstanding token to f
  // exactly once and returns the ring to its initial state.
  template <class F>
  void detach_all(F&& f) {
    for (uint32_t h = 0; h < size_; ++h)
      if (tokens_[h] != nullptr) f(std::exchange(tokens_[h], nullptr));
    reset_state();
  }

 private:
  static uint16_t indirect_of(const RingConfig& c) {
    return (c.features & feature::indirect_desc) ? c.indirect_entries : 0;
  }
  static uint16_t flags_of(const Segment& s) { return s.device_writable ? desc_flag::write : 0; }

  SplitRing(const RingConfig& c, RingMemory mem, const Layout& l)
      : tokens_(std::make_unique<Token[]>(c.size)), cap_(std::make_unique<uint32_t[]>(c.size)),
        ndesc_(std::make_unique<uint16_t[]>(c.size)), last_(std::make_unique<uint16_t[]>(c.size)),
        next_(std::make_unique<uint16_t[]>(size_t{c.size} + 1)), avail_shadow_(std::make_unique<uint16_t[]>(c.size)),
        size_(c.size), mask_(static_cast<uint16_t>(c.size - 1)), mem_(mem), layout_(l),
        event_idx_((c.features & feature::event_idx) != 0), indirect_entries_(indirect_of(c)) {
    // The areas are plain structs in DMA memory; the device accesses them
    // concurrently, hence every shared access goes through barrier::.
    desc_ = reinterpret_cast<SplitDesc*>(mem.va + l.desc);
    avail_ = reinterpret_cast<SplitAvailHeader*>(mem.va + l.driver);
    avail_ring_ = reinterpret_cast<uint16_t*>(mem.va + l.driver + sizeof(SplitAvailHeader));
    used_event_ = avail_ring_ + size_;
    used_ = reinterpret_cast<SplitUsedHeader*>(mem.va + l.device);
    used_ring_ = reinterpret_cast<SplitUsedElem*>(mem.va + l.device + sizeof(SplitUsedHeader));
    avail_event_ = reinterpret_cast<uint16_t*>(used_ring_ + size_);
    areas_ = RingAreas{mem.iova + l.desc, mem.iova + l.driver, mem.iova + l.device};
    reset_state();
  }

  void reset_state() {
    std::memset(mem_.va, 0, layout_.total);
    for (uint32_t i = 0; i <= size_; ++i) next_[i] = static_cast<uint16_t>(i + 1);  // 0, 1, ..., size - 1: the end
    for (uint32_t i = 0; i < size_; ++i) {
      tokens_[i] = nullptr;
      avail_shadow_[i] = avail_ring_[i] = static_cast<uint16_t>(i);  // what a first lap stores
    }
    free_head_ = next_desc_ = inorder_head_ = 0;
    free_tail_ = static_cast<uint16_t>(size_ - 1);
    num_free_ = size_;
    inflight_ = ready_ = chains_ = 0;
    avail_idx_ = published_ = kicked_ = last_used_ = RingIdx(0);
    broken_ = Broken::none;
    irq_enabled_ = true;
  }

  SplitDesc* indirect_table(uint16_t head) const {
    return reinterpret_cast<SplitDesc*>(mem_.va + layout_.indirect) + size_t{head} * indirect_entries_;
  }
  uint64_t indirect_iova(uint16_t head) const {
    return mem_.iova + layout_.indirect + size_t{head} * indirect_entries_ * sizeof(SplitDesc);
  }

  // The descriptor after d in allocation order: the free list, or ring order when in order.
  uint16_t following(uint16_t d) const { return in_order ? static_cast<uint16_t>((d + 1) & mask_) : next_[d]; }
  void advance_free(uint16_t d) {
    --num_free_;
    if constexpr (in_order) next_desc_ = static_cast<uint16_t>((d + 1) & mask_);
    else free_head_ = next_[d];
  }

  void book(uint16_t head, uint16_t last, uint16_t ndesc, uint32_t cap, Token tok) {
    tokens_[head] = tok;
    last_[head] = last;
    ndesc_[head] = ndesc;
    cap_[head] = cap;
    if constexpr (in_order) chains_ = static_cast<uint16_t>(chains_ + (ndesc > 1));
    ++inflight_;
    // The driver area slot; read by the device only after it observes the
    // avail->idx published past it (see publish()).
    set_avail(avail_ring_, avail_idx_.slot(mask_), head);
    ++avail_idx_;
  }

  // Single-descriptor buffers completed in order keep avail slot i naming
  // the same descriptor lap after lap (in order: descriptor i; any order: the
  // free queue's doing, see the top). Storing only an entry that changes
  // (checked against the driver's private copy, never read back from the
  // shared ring) leaves that cache line shared with the device's core
  // instead of pulling it back to ours on every burst.
  void set_avail(uint16_t* avail_ring, uint16_t slot, uint16_t d) {
    if (avail_shadow_[slot] == d) return;
    avail_shadow_[slot] = d;
    avail_ring[slot] = d;
  }

  // An RX descriptor is stored only when it changes. A receiver that frees
  // each burst before the next refill (a drop, a sink, testpmd's rxonly)
  // gets its buffers back from the pool's cache in the order it freed them,
  // and the free queue hands back their descriptors in that same order: each
  // buffer returns to the descriptor it left, which then already holds it.
  // Not storing it leaves the descriptor's cache line shared with the
  // device's core, which reads it again next lap without a transfer. The
  // compare reads the descriptor itself: the device only reads the split
  // descriptor table (virtio-v1.2 §2.7.5), and whatever it wrote there,
  // after this call the descriptor holds v. A skipped store was made before
  // an earlier avail->idx release, so the device sees v (§2.7.13.3).
  static void set_desc(SplitDesc* to, const SplitDesc& v) noexcept {
    uint64_t now[2], want[2];
    std::memcpy(now, to, sizeof now);
    std::memcpy(want, &v, sizeof want);
    if (((now[0] ^ want[0]) | (now[1] ^ want[1])) == 0) return;
    std::memcpy(to, want, sizeof want);
  }

  // In order: how many buffers in flight, from the oldest, end with buffer
  // `id` (virtio-v1.2 §2.7.9); 0 when id is none of them. With no chain in
  // flight every buffer holds one descriptor, so that is the distance from
  // the oldest head, O(1): DPDK's vhost returns a TX batch of up to 32 with
  // one used element. With chains, their descriptor counts are walked.
  uint16_t batch_length(uint32_t id) const {
    if (chains_ != 0) [[unlikely]] return walk_batch(id);
    const uint16_t dist = static_cast<uint16_t>((id - inorder_head_) & mask_);
    return id < size_ && dist < inflight_ ? static_cast<uint16_t>(dist + 1) : 0;
  }
  // Out of line, so that reap stays small enough to inline into the bursts.
  [[gnu::noinline, gnu::cold]] uint16_t walk_batch(uint32_t id) const {
    uint16_t h = inorder_head_;
    for (uint16_t j = 0; j < inflight_; ++j) {
      if (h == id) return static_cast<uint16_t>(j + 1);
      h = static_cast<uint16_t>((h + ndesc_[h]) & mask_);
    }
    return 0;
  }

  void release(uint16_t head) {
    if constexpr (in_order) chains_ = static_cast<uint16_t>(chains_ - (ndesc_[head] > 1));
    tokens_[head] = nullptr;
    num_free_ = static_cast<uint16_t>(num_free_ + ndesc_[head]);
    --inflight_;
  }

  void fail(Broken why) { if (broken_ == Broken::none) broken_ = why; }

  // IN_ORDER (virtio-v1.2 §2.7.9): buffers complete in the order they were
  // made available, and the device may write one used element for a whole
  // batch, naming only its last buffer, and advance used->idx by the batch. Earlier buffers of such a batch "are
  // assumed to have been used (read or written) by the device completely"
  // (virtio-v1.2 §2.8.20, the same rule for split), so they report their
  // full device-writable length.
  template <class Take>
  [[gnu::always_inline]] uint16_t reap_in_order(uint16_t max, RingIdx used_idx, Take& take) noexcept {
    uint16_t out = ready_ == 0 && chains_ == 0 ? reap_in_order_singles(max, used_idx, take) : 0;
    while (out < max) {
      if (ready_ == 0) {
        if (last_used_ == used_idx) break;
        const SplitUsedElem& e = used_ring_[last_used_.slot(mask_)];
        const uint32_t id = e.id, len = e.len;
        const uint16_t k = batch_length(id);
        // used->idx counts buffers, so a batch of k moves it by k while only
        // its first slot holds an element (as Linux vhost writes it).
        if (k == 0 || k > used_idx - last_used_) { fail(Broken::bad_id); break; }
        if (len > cap_[id] && cap_[id] != 0) { fail(Broken::bad_len); break; }  // see reap()
        ready_ = k;
        ready_len_ = cap_[id] != 0 ? len : 0;
        last_used_ += k;
      }
      const uint16_t h = inorder_head_;
      if (!take(out, tokens_[h], ready_ == 1 ? ready_len_ : cap_[h])) break;  // stays ready
      ++out;
      --ready_;
      inorder_head_ = static_cast<uint16_t>((h + ndesc_[h]) & mask_);
      release(h);
    }
    if (out && irq_enabled_ && event_idx_) barrier::poke(*used_event_, last_used_.value());
    return out;
  }

  // The common in-order case, as a device writes RX completions: one used
  // element per single-descriptor buffer, each naming the oldest head. A
  // run of them in one tight loop, the shadows in locals and written back
  // once; it stops at the first element that names any other id (a batch,
  // or a device error) and leaves it to the general loop, which decides
  // exactly as it always did. Call only with nothing ready and no chain in
  // flight (every head then holds one descriptor).
  template <class Take>
  [[gnu::always_inline]] uint16_t reap_in_order_singles(uint16_t max, RingIdx used_idx, Take& take) noexcept {
    const uint16_t pending = used_idx - last_used_;
    const uint16_t n = std::min(pending, max);
    Token* const tokens = tokens_.get();
    const uint32_t* const cap = cap_.get();
    const SplitUsedElem* const used = used_ring_;
    const uint16_t mask = mask_, first = last_used_.value();
    uint16_t h = inorder_head_, out = 0;
    for (; out < n; ++out) {
      const SplitUsedElem& e = used[(first + out) & mask];
      const uint32_t id = e.id, len = e.len;
      if (id != h || (len > cap[h] && cap[h] != 0)) break;  // the general loop decides (see reap())
      if (!take(out, tokens[h], cap[h] != 0 ? len : 0)) break;
      tokens[h] = nullptr;
      h = static_cast<uint16_t>((h + 1) & mask);
    }
    inorder_head_ = h;
    num_free_ = static_cast<uint16_t>(num_free_ + out);
    inflight_ = static_cast<uint16_t>(inflight_ - out);
    last_used_ += out;
    return out;
  }

  // hot, first: what the any-order vector kernels work on, in the order of
  // simd::SplitState (simd/ring_state.hpp), so that RingInternals copies it
  // in a few wide moves rather than field by field.
  SplitDesc* desc_ = nullptr;
  uint16_t* avail_ring_ = nullptr;
  SplitUsedHeader* used_ = nullptr;
  SplitUsedElem* used_ring_ = nullptr;
  std::unique_ptr<Token[]> tokens_;    // per head: the caller's token, nullptr when not in flight
  std::unique_ptr<uint32_t[]> cap_;    // per head: device-writable bytes
  std::unique_ptr<uint16_t[]> ndesc_;  // per head: ring descriptors it holds
  std::unique_ptr<uint16_t[]> last_;   // per head: last descriptor of its chain
  // Free queue links (shadow of desc.next) and, at [size], the sentinel: a
  // push links the tail (or, when the queue is empty, the sentinel) to what
  // it frees, and marks its last descriptor the end with `size`.
  std::unique_ptr<uint16_t[]> next_;
  std::unique_ptr<uint16_t[]> avail_shadow_;  // what each avail slot holds (see set_avail)
  uint16_t size_ = 0, mask_ = 0;
  // the driver's shadows
  RingIdx avail_idx_, last_used_;
  uint16_t free_head_ = 0, num_free_ = 0, inflight_ = 0;
  uint16_t free_tail_ = 0;  // the free queue's last descriptor (stale when num_free_ == 0)
  RingIdx published_, kicked_;
  uint16_t next_desc_ = 0, inorder_head_ = 0;
  uint16_t ready_ = 0;        // in-order: buffers known used, not yet returned
  uint16_t chains_ = 0;       // in-order: buffers in flight holding more than one descriptor
  uint32_t ready_len_ = 0;    // in-order: length for the last of them
  Broken broken_ = Broken::none;
  bool irq_enabled_ = true;

  // cold: where things are
  RingMemory mem_;
  Layout layout_;
  RingAreas areas_;
  SplitAvailHeader* avail_ = nullptr;
  uint16_t* used_event_ = nullptr;
  uint16_t* avail_event_ = nullptr;
  bool event_idx_ = false;
  uint16_t indirect_entries_ = 0;
};

}  // namespace vpmd::ring
