#pragma once
// Kernels<L>: included only by simd/src/arch/kernels_<level>.cpp, each built
// with its own -m flags. Rules that keep AVX code out of baseline code (ODR):
// no ring or pool member function, no std:: function template, no inline
// helper without the level in its type: only the plain state structs of
// ring_state.hpp, __atomic builtins, intrinsics, and Group<L>.
//
// Every loop keeps the ring's shadows in locals and writes them back once:
// the stores the loops make (descriptors, tokens, packets) could alias the
// state struct for the compiler, which would otherwise reload it per buffer.
#include "kernel_groups.hpp"
#include "kernels_post.hpp"
#include "kernels_take.hpp"

namespace vpmd::simd {

// Split ring, any order: whole groups of used elements, validated at once
// (kernel_groups.hpp), then retired in ring order exactly as
// SplitRing::reap does: the same pushes at the free queue's tail in the
// same order (last[id] == id for a single), the same counters.

template <SimdLevel L>
template <int Mode>
uint16_t Kernels<L>::split_take(SplitState& s, const RxHead* h, Packet** out, uint32_t* lens, uint16_t max,
                                uint64_t& bytes) noexcept {
  constexpr uint16_t G = Group<L>::split_lanes;
  constexpr bool Rx = Mode != reap_mode;
  constexpr TakeMode M = Mode == reap_mode ? TakeMode::reap : Mode == rx_mode ? TakeMode::rx : TakeMode::rx_mrg;
  const uint16_t pending = Group<L>::split_pending(s);
  const uint16_t avail = pending < max ? pending : max;
  const uint16_t mask = s.mask;
  uint64_t b = 0;  // a local: `bytes` could alias the packets written
  uint16_t done = 0;
  // The free queue's tail, or its sentinel when empty (SplitRing::reap_each).
  const bool was_empty = s.num_free == 0;
  uint32_t tail = was_empty ? s.size : s.free_tail;
  while (avail - done >= G) {
    const auto slot = static_cast<uint16_t>(s.last_used & mask);
    if (slot + (G - 1) > mask) break;  // the group wraps the used ring: left to the scalar reap
    // Runs of ids (kernels_take.hpp), in the way the first two ids go
    // (stable after split_pending's acquire): the other way's loop would
    // fail at once.
    const uint32_t groups = std::min<uint32_t>((avail - done) / G, (mask + 1u - slot) / G);
    const ring::SplitUsedElem* const u = s.used_ring + slot;
    const uint32_t g =
        u[1].id == u[0].id + 1
            ? Take<L>::template split_runs<1, M>(s, h, out + done, Rx ? nullptr : lens + done, groups, slot, tail, b)
            : Take<L>::template split_runs<-1, M>(s, h, out + done, Rx ? nullptr : lens + done, groups, slot, tail, b);
    if (g != 0) {
      s.last_used = static_cast<uint16_t>(s.last_used + G * g);
      done = static_cast<uint16_t>(done + G * g);
      continue;
    }
    if (!split_group<Mode>(s, h, out + done, Rx ? nullptr : lens + done, b, tail)) break;
    done = static_cast<uint16_t>(done + G);
  }
  if (done != 0) {
    if (was_empty) s.free_head = s.next[s.size];
    s.free_tail = static_cast<uint16_t>(tail);
  }
  bytes += b;
  s.num_free = static_cast<uint16_t>(s.num_free + done);
  s.inflight = static_cast<uint16_t>(s.inflight - done);
  return done;
}

// One group that is not a run (ids in any order), out of line: it keeps
// split_take's loop, which the runs take nearly always, short of registers.
template <SimdLevel L>
template <int Mode>
bool Kernels<L>::split_group(SplitState& s, const RxHead* h, Packet** out, uint32_t* lens, uint64_t& bytes,
                             uint32_t& tail) noexcept {
  using Gr = Group<L>;
  constexpr uint16_t G = Gr::split_lanes;
  constexpr bool Rx = Mode != reap_mode;
  auto rx = Gr::Rx::of(h);
  rx.mergeable = Mode == rx_mrg_mode;  // a constant in each instantiation
  Packet** const tokens = s.tokens;
  uint16_t* const next = s.next;
  alignas(16) uint32_t id[G];
  alignas(16) uint32_t rx_len[G];
  uint32_t* const len = Rx ? rx_len : lens;
  const auto* used = reinterpret_cast<const std::byte*>(s.used_ring);
  int dir;
  const uint32_t slot = s.last_used & s.mask;
  if (!Gr::split(used + size_t{slot} * 8, s.mask, tokens, s.cap, id, out, len, rx.hdr, dir)) return false;
  if (!Gr::singles(s.ndesc, id, G, dir)) return false;  // chains: the scalar reap
  if constexpr (Rx) {
    if (!Gr::rx_finish(rx, out, len, G, bytes)) return false;
  }
  if (dir != 0) {
    tail = Gr::push4_queue(tokens, next, dir > 0 ? id[0] : id[3], dir, tail, s.size);
  } else {
    for (uint16_t k = 0; k < G; ++k) {
      const uint32_t d = id[k];
      tokens[d] = nullptr;
      next[tail] = static_cast<uint16_t>(d);
      tail = d;
    }
    next[tail] = s.size;
  }
  s.last_used = static_cast<uint16_t>(s.last_used + G);
  return true;
}

template <SimdLevel L>
uint16_t Kernels<L>::split_reap(SplitState& s, Packet** toks, uint32_t* lens, uint16_t max) noexcept {
  uint64_t unused = 0;
  return split_take<reap_mode>(s, nullptr, toks, lens, max, unused);
}

template <SimdLevel L>
uint16_t Kernels<L>::split_rx(SplitState& s, const RxHead& h, Packet** out, uint16_t max, uint64_t& bytes) noexcept {
  return h.mergeable ? split_take<rx_mrg_mode>(s, &h, out, nullptr, max, bytes)
                     : split_take<rx_mode>(s, &h, out, nullptr, max, bytes);
}

// TX fused: tx_burst's run of plain packets (one segment, headroom for the
// header) in one pass: header zeroed in the headroom, one descriptor
// {addr, len, flags 0, next 0} per packet written with one 16-byte store,
// booked as add_singles books it. Stops at the first packet that is not
// plain or when the ring is full; tx_burst's body takes it from there.
template <SimdLevel L>
uint16_t Kernels<L>::split_tx(SplitState& s, uint32_t hdr, Packet* const* pkts, uint16_t n, uint64_t& bytes) noexcept {
  using Gr = Group<L>;
  // A header size zero_header does not cover: tx_burst's body does it all.
  if (hdr < Gr::min_zeroed || hdr > Gr::max_zeroed) return 0;
  const uint32_t room = n < s.num_free ? n : s.num_free;
  const uint32_t mask = s.mask;
  uint64_t b = 0;  // a local: `bytes` could alias the packets' stores for the compiler
  uint32_t i = 0;
  while (i < room) {
    // Groups of four plain packets onto four free descriptors in a row,
    // their avail slots not wrapping (Post::split_tx_runs), one loop per
    // direction and usual header size (12, 10; 0: any other).
    const uint32_t slot = s.avail_idx & mask;
    if (room - i >= 4 && slot + 3u <= mask) {
      const uint32_t groups = std::min((room - i) / 4u, (mask + 1u - slot) / 4u);
      uint32_t d = s.free_head;
      const auto runs = [&]<uint32_t H>() __attribute__((always_inline)) {
        return Gr::list_dir(s.next, d) > 0
                   ? Post<L>::template split_tx_runs<1, H>(s, hdr, pkts + i, groups, d, slot, b)
                   : Post<L>::template split_tx_runs<-1, H>(s, hdr, pkts + i, groups, d, slot, b);
      };
      const uint32_t g = hdr == 12   ? runs.template operator()<12>()
                         : hdr == 10 ? runs.template operator()<10>()
                                     : runs.template operator()<0>();
      if (g != 0) {
        const auto k = static_cast<uint16_t>(4 * g);
        s.free_head = static_cast<uint16_t>(d);
        s.avail_idx = static_cast<uint16_t>(s.avail_idx + k);
        s.num_free = static_cast<uint16_t>(s.num_free - k);
        s.inflight = static_cast<uint16_t>(s.inflight + k);
        i += 4 * g;
        continue;
      }
    }
    // Otherwise one packet at a time up to the next group's chance (the
    // ragged ends of a burst or of the free list's runs, a slot wrap).
    const uint32_t want = std::min(room - i, 4u);
    const uint32_t k = split_tx_singles(s, hdr, pkts + i, want, b);
    i += k;
    if (k < want) break;  // a packet that is not plain
  }
  bytes += b - uint64_t{i} * hdr;  // b counts each descriptor's len: the headers come off
  return static_cast<uint16_t>(i);
}

// Up to n plain packets one at a time, booked as add_singles books them;
// stops at the first that is not plain. Out of line, as split_group: it
// keeps split_tx, which the runs take nearly always, short of registers.
template <SimdLevel L>
uint32_t Kernels<L>::split_tx_singles(SplitState& s, uint32_t hdr, Packet* const* pkts, uint32_t n, uint64_t& bytes) noexcept {
  using Gr = Group<L>;
  const uint32_t mask = s.mask;
  uint32_t d = s.free_head, avail = s.avail_idx, i = 0;
  uint64_t b = 0;
  for (; i < n; ++i) {
    Packet* p = pkts[i];
    if (!Gr::tx_plain(p, hdr)) break;
    b += Gr::split_tx_desc(s.desc + d, p, hdr);
    s.tokens[d] = p;
    s.last[d] = static_cast<uint16_t>(d);
    s.ndesc[d] = 1;
    s.cap[d] = 0;  // device-readable: no length to report
    Gr::set_avail1(s.avail_ring, s.avail_shadow, avail & mask, d);
    ++avail;
    d = s.next[d];
  }
  s.free_head = static_cast<uint16_t>(d);
  s.avail_idx = static_cast<uint16_t>(avail);
  s.num_free = static_cast<uint16_t>(s.num_free - i);
  s.inflight = static_cast<uint16_t>(s.inflight + i);
  bytes += b;
  return i;
}

// TX reclaim + add, split ring: one call, one copy of the ring state in and
// out, where tx_burst otherwise makes two (the reap, then split_tx). The reap
// must take exactly what VectorPath::reap would, or the add would find other
// free descriptors: everything used up to reap_max, all of it in whole groups
// the kernel validates. Anything less (a remainder under a group, a group
// across the ring's end, one failing a check, an overrun the scalar reap
// must mark) returns before the add, for the caller to finish both the
// usual way.
template <SimdLevel L>
ReclaimTx Kernels<L>::split_reclaim_tx(SplitState& s, Packet** done, uint32_t* lens, uint16_t reap_max, uint32_t hdr,
                                       Packet* const* pkts, uint16_t n, uint64_t& bytes) noexcept {
  // split_take acquires used->idx again: a device that added more since
  // leaves them to the next burst, as a reap that had looked here would.
  const uint16_t used = Group<L>::split_used(s);
  if (used > s.inflight) return {};  // overrun: the scalar reap marks the ring broken
  const uint16_t want = used < reap_max ? used : reap_max;
  uint64_t unused = 0;
  const uint16_t k = want >= Group<L>::split_lanes ? split_take<reap_mode>(s, nullptr, done, lens, want, unused) : 0;
  if (k != want) return {k, 0, false};
  return {k, split_tx(s, hdr, pkts, n, bytes), true};
}

template <SimdLevel L>
uint16_t Kernels<L>::packed_tx(PackedState& s, uint32_t hdr, Packet* const* pkts, uint16_t n, uint64_t& bytes) noexcept {
  using Gr = Group<L>;
  ring::PackedDesc* const desc = s.desc;  // locals: see split_post (kernels_post.hpp)
  Packet** const tokens = s.tokens;
  uint16_t* const ndesc = s.ndesc;
  uint32_t* const cap = s.cap;
  const uint16_t* const id_next = s.id_next;
  // With nothing added before waiting to be published, this call publishes
  // its adds itself (below) and keeps no pending entries; otherwise they
  // wait for packed_publish, behind the older ones. Pending entries from
  // the first unpublished one on, indexed by the loop counter: one live
  // value fewer than a separate `unpublished` count.
  const bool publish_here = s.unpublished == 0;
  uint16_t* const pending_head = publish_here ? nullptr : s.pending_head + s.unpublished;
  uint16_t* const pending_flags = publish_here ? nullptr : s.pending_flags + s.unpublished;
  const uint16_t size = s.size;
  // A header size zero_header does not cover: tx_burst's body does it all.
  if (hdr < Gr::min_zeroed || hdr > Gr::max_zeroed) return 0;
  const uint16_t room = n < s.num_free ? n : s.num_free;
  // The avail wrap counter is not kept in the loop: lap_flags carries it
  // (AVAIL set iff the counter is 1, §2.8.1) and it is read back at the end.
  uint16_t free_id = s.free_id, next_avail = s.next_avail, lap_flags = s.lap_flags, i = 0;
  uint64_t b = 0;
  const auto run = [&]<uint32_t H>() __attribute__((always_inline)) {  // one loop per header size: see split_tx
    const uint32_t hs = H != 0 ? H : hdr;
    // addr, len, id now; the flags after the adds (§2.8.21).
    const auto put = [&](uint16_t pos, uint32_t id, Packet* p) __attribute__((always_inline)) {
      b += Gr::packed_tx_desc(desc + pos, id, p, hs);  // see split_tx
    };
    for (; i < room;) {
      // Groups of four plain packets onto four free ids in a row, their
      // positions not reaching the ring's end (Post::packed_tx_runs).
      if (room - i >= 4 && next_avail + 4u <= size) {
        const uint32_t groups = std::min<uint32_t>((room - i) / 4u, (uint32_t{size} - next_avail) / 4u);
        uint32_t id = free_id;
        const auto runs = [&](int dir) {
          uint16_t* const ph = publish_here ? nullptr : pending_head + i;
          uint16_t* const pf = publish_here ? nullptr : pending_flags + i;
          return dir > 0 ? Post<L>::template packed_tx_runs<1, H>(s, hdr, pkts + i, groups, id, next_avail, ph, pf, lap_flags, b)
                         : Post<L>::template packed_tx_runs<-1, H>(s, hdr, pkts + i, groups, id, next_avail, ph, pf, lap_flags, b);
        };
        const uint32_t g = runs(Gr::list_dir(id_next, free_id));
        if (g != 0) {
          free_id = static_cast<uint16_t>(id);
          i = static_cast<uint16_t>(i + 4 * g);
          next_avail = static_cast<uint16_t>(next_avail + 4 * g);
          if (next_avail == size) {
            next_avail = 0;
            lap_flags ^= ring::desc_flag::avail | ring::desc_flag::used;  // §2.8.1
          }
          continue;
        }
      }
      Packet* p = pkts[i];
      if (!Gr::tx_plain(p, hs)) break;
      const uint16_t id = free_id;
      free_id = id_next[id];
      put(next_avail, id, p);
      tokens[id] = p;
      ndesc[id] = 1;
      cap[id] = 0;
      if (!publish_here) {
        pending_head[i] = next_avail;
        pending_flags[i] = lap_flags;
      }
      if (++next_avail == size) [[unlikely]] {
        next_avail = 0;
        lap_flags ^= ring::desc_flag::avail | ring::desc_flag::used;  // §2.8.1
      }
      ++i;
    }
    b -= uint64_t{i} * hs;
  };
  if (hdr == 12) run.template operator()<12>();
  else if (hdr == 10) run.template operator()<10>();
  else run.template operator()<0>();
  if (publish_here) {
    // These i are published as packed_publish would (Group::publish_heads).
    Gr::publish_heads(desc, s.next_avail, i, size, s.lap_flags);
    s.added = static_cast<uint16_t>(s.added + i);
  } else {
    s.unpublished = static_cast<uint16_t>(s.unpublished + i);
    s.unpublished_desc = static_cast<uint16_t>(s.unpublished_desc + i);
  }
  s.free_id = free_id;
  s.next_avail = next_avail;
  s.avail_wrap = (lap_flags & ring::desc_flag::avail) != 0;
  s.lap_flags = lap_flags;
  s.inflight = static_cast<uint16_t>(s.inflight + i);
  s.num_free = static_cast<uint16_t>(s.num_free - i);
  bytes += b;
  return i;
}

// Packed ring, any order: a group is 4 consecutive descriptors, one 64-byte
// line (virtio-v1.2 §2.8.13): flags acquired and checked at once, ids and
// lengths loaded field by field, tokens and caps loaded by id, all checked
// as one group, retired in ring order exactly as
// PackedRing::reap does (free ids pushed in the same order).
template <SimdLevel L>
template <int Mode>
uint16_t Kernels<L>::packed_take(PackedState& s, const RxHead* h, Packet** out, uint32_t* lens, uint16_t max,
                                 uint64_t& bytes) noexcept {
  using Gr = Group<L>;
  ring::PackedDesc* const desc = s.desc;
  Packet** const tokens = s.tokens;
  const uint32_t* const cap = s.cap;
  const uint16_t* const ndesc = s.ndesc;
  uint16_t* const id_next = s.id_next;
  const uint16_t size = s.size;
  const auto published = static_cast<uint16_t>(s.inflight - s.unpublished);
  constexpr bool Rx = Mode != reap_mode;
  auto rx = Gr::Rx::of(h);
  rx.mergeable = Mode == rx_mrg_mode;  // a constant in each instantiation
  uint64_t b = 0;  // a local: `bytes` could alias the packets written
  uint16_t next_used = s.next_used, free_id = s.free_id, done = 0;
  bool used_wrap = s.used_wrap;
  alignas(64) uint32_t id[4];
  alignas(64) uint32_t rx_len[4];
  constexpr TakeMode M = Mode == reap_mode ? TakeMode::reap : Mode == rx_mode ? TakeMode::rx : TakeMode::rx_mrg;
  while (max - done >= 4 && published - done >= 4) {
    if (next_used + 4 > size) break;  // the group wraps the ring: left to the scalar reap
    // Runs of ids first (kernels_take.hpp), for TX reclaim only: on the
    // fused RX the run loop cost the front end more cycles per packet
    // against DPDK's vhost back end than this general loop (vpmd-fwd
    // rxonly, A/B in one go, 2 x 4 rounds: 44-51 against 38-43), though it
    // runs fewer instructions and is on par in-process; likely it reads
    // each group sooner after the device wrote it, while its lines still
    // move between the cores.
    if constexpr (!Rx) {
      const uint32_t groups = std::min<uint32_t>(std::min(max - done, published - done) / 4u, (size - next_used) / 4u);
      uint32_t head = free_id;
      const auto runs = [&](int dir) {
        return dir > 0 ? Take<L>::template packed_runs<1, M>(s, h, out + done, Rx ? nullptr : lens + done, groups, next_used, used_wrap, head, b)
                       : Take<L>::template packed_runs<-1, M>(s, h, out + done, Rx ? nullptr : lens + done, groups, next_used, used_wrap, head, b);
      };
      // The way the ids go, from the first two descriptors once their
      // flags say used (each acquire pairs with the device's release store
      // of those flags after it wrote id and len, §2.8.22): the other way's
      // loop would fail at once, and so would both when they are not used.
      const ring::PackedDesc* const d = desc + next_used;
      constexpr uint16_t wrap_bits = ring::desc_flag::avail | ring::desc_flag::used;
      const uint16_t want = used_wrap ? wrap_bits : 0;  // §2.8.1
      const bool both_used = (((__atomic_load_n(&d[0].flags, __ATOMIC_ACQUIRE) ^ want) |
                               (__atomic_load_n(&d[1].flags, __ATOMIC_ACQUIRE) ^ want)) & wrap_bits) == 0;
      const uint32_t g = runs(both_used && d[1].id == d[0].id + 1 ? 1 : -1);
      if (g != 0) {
        free_id = static_cast<uint16_t>(head);
        next_used = static_cast<uint16_t>(next_used + 4 * g);
        if (next_used == size) {
          next_used = 0;
          used_wrap = !used_wrap;
        }
        done = static_cast<uint16_t>(done + 4 * g);
        continue;
      }
    }
    uint32_t* const len = Rx ? rx_len : lens + done;
    int dir;
    if (!Gr::packed(desc + next_used, used_wrap, uint32_t{size} - 1u, tokens, cap, id, out + done, len, rx.hdr, dir)) break;
    if (!Gr::singles(ndesc, id, 4, dir)) break;  // chains: the scalar reap
    if constexpr (Rx) {
      if (!Gr::rx_finish(rx, out + done, len, 4, b)) break;
    }
    if (dir != 0) {
      free_id = static_cast<uint16_t>(Gr::push4(tokens, id_next, dir > 0 ? id[0] : id[3], dir, free_id));
    } else {
      for (uint16_t k = 0; k < 4; ++k) {
        const uint32_t d = id[k];
        tokens[d] = nullptr;
        id_next[d] = free_id;
        free_id = static_cast<uint16_t>(d);
      }
    }
    next_used = static_cast<uint16_t>(next_used + 4);
    if (next_used == size) {
      next_used = 0;
      used_wrap = !used_wrap;
    }
    done = static_cast<uint16_t>(done + 4);
  }
  bytes += b;
  s.next_used = next_used;
  s.used_wrap = used_wrap;
  s.free_id = free_id;
  s.num_free = static_cast<uint16_t>(s.num_free + done);
  s.inflight = static_cast<uint16_t>(s.inflight - done);
  return done;
}

template <SimdLevel L>
uint16_t Kernels<L>::packed_reap(PackedState& s, Packet** toks, uint32_t* lens, uint16_t max) noexcept {
  uint64_t unused = 0;
  return packed_take<reap_mode>(s, nullptr, toks, lens, max, unused);
}

template <SimdLevel L>
uint16_t Kernels<L>::packed_rx(PackedState& s, const RxHead& h, Packet** out, uint16_t max, uint64_t& bytes) noexcept {
  return h.mergeable ? packed_take<rx_mrg_mode>(s, &h, out, nullptr, max, bytes)
                     : packed_take<rx_mode>(s, &h, out, nullptr, max, bytes);
}

// Everything added becomes available at once: head flags newest first, the
// oldest last. Each is a release store pairing with the device's acquire of
// the same flags before it reads the descriptor (§2.8.21, §2.8.22); the
// device polls the oldest position, so it finds the whole batch together
// (§2.8.21.1: the first descriptor made available last).
template <SimdLevel L>
void Kernels<L>::packed_publish(PackedState& s) noexcept {
  // Locals: gcc reloads members of `s` after every atomic store.
  ring::PackedDesc* const desc = s.desc;
  const uint16_t* const pending_head = s.pending_head;
  const uint16_t* const pending_flags = s.pending_flags;
  for (uint16_t i = s.unpublished; i-- != 0;)
    __atomic_store_n(&desc[pending_head[i]].flags, pending_flags[i], __ATOMIC_RELEASE);
  s.added = static_cast<uint16_t>(s.added + s.unpublished_desc);
  s.unpublished = s.unpublished_desc = 0;
}

}  // namespace vpmd::simd
