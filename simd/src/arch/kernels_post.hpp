#pragma once
// Kernels<L>::split_post / packed_post: the RX refill (rx_burst.hpp) on the
// any-order rings, and Post<L>, the loops behind them and behind
// Kernels<L>::split_tx's groups. Included only by kernels_impl.hpp (its ODR
// rules hold).
//
// A reap of buffers the device completed in order pushes their ids on the
// free list one by one, so the list then runs through consecutive ids, four
// at a time: up on the split ring's free queue (in the order they went out,
// so each lands in the avail slot it had a lap before and that store is
// skipped), down on the packed ring's id stack (a lap later, up). On a
// split ring such a run is booked as one group, one store per bookkeeping
// array, by a loop of its own per direction (Post::split_runs) that keeps
// only what a group needs in registers. Anything else (the list's ragged
// ends, a run that stops) goes one buffer at a time.
#include <algorithm>

#include "kernel_groups.hpp"

namespace vpmd::simd {

template <SimdLevel L>
struct Post {
  using Gr = Group<L>;
  // The split ring's arrays, as locals of each loop: the loops' stores
  // could alias `s` for the compiler, which would reload them per group.
  struct SplitArrays {
    ring::SplitDesc* desc;
    Packet** tokens;
    uint16_t* last;
    uint16_t* ndesc;
    uint32_t* cap;
    const uint16_t* next;
    uint16_t* avail_ring;
    uint16_t* avail_shadow;
    uint32_t mask;
  };
  static SplitArrays arrays(const SplitState& s) noexcept {
    return {s.desc, s.tokens, s.last, s.ndesc, s.cap, s.next, s.avail_ring, s.avail_shadow, s.mask};
  }

  // tokens[base + k] for the four packets p[0..3] taken in list order.
  template <int Dir>
  [[gnu::always_inline]] static void tokens4(Packet** tok, Packet* const* p) noexcept {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2));
    if constexpr (Dir > 0) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(tok), lo);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(tok + 2), hi);
    } else {  // tok[k] = p[3 - k]
      _mm_storeu_si128(reinterpret_cast<__m128i*>(tok), _mm_shuffle_epi32(hi, _MM_SHUFFLE(1, 0, 3, 2)));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(tok + 2), _mm_shuffle_epi32(lo, _MM_SHUFFLE(1, 0, 3, 2)));
    }
  }

  // Split: what add_singles books for the four heads base..base+3 the
  // packets p[0..3] take in list order (token, last = itself, one
  // descriptor, cap), and the four avail slots naming them (stored only
  // when they change: Group::set_avail4).
  template <int Dir>
  [[gnu::always_inline]] static void book_split(const SplitArrays& a, uint32_t base, Packet* const* p, __m128i capv,
                                                uint32_t slot) noexcept {
    Packet** const tokens = a.tokens;
    uint16_t* const last = a.last;
    uint16_t* const ndesc = a.ndesc;
    uint32_t* const cap = a.cap;
    tokens4<Dir>(tokens + base, p);
    // last[base + k] = base + k, slot k = the k-th head in list order: one
    // broadcast of base, two adds.
    const __m128i b16 = _mm_set1_epi16(static_cast<short>(base));
    const __m128i lasts = _mm_add_epi16(b16, _mm_set_epi16(0, 0, 0, 0, 3, 2, 1, 0));
    const __m128i slots = Dir > 0 ? lasts : _mm_add_epi16(b16, _mm_set_epi16(0, 0, 0, 0, 0, 1, 2, 3));
    const uint64_t ones = 0x0001'0001'0001'0001u;
    _mm_storel_epi64(reinterpret_cast<__m128i*>(last + base), lasts);
    __builtin_memcpy(ndesc + base, &ones, sizeof ones);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(cap + base), capv);
    Gr::set_avail4(a.avail_ring, a.avail_shadow, slot, static_cast<uint64_t>(_mm_cvtsi128_si64(slots)));
  }

  // Split: up to `groups` groups while the list runs in direction Dir and
  // the slots do not wrap; each descriptor {buf_iova, 0} + body (§2.7.5),
  // a head's bookkeeping as add_singles books it (last = itself, one
  // descriptor, cap = len), its slot. Returns how many; d moves past them.
  template <int Dir>
  [[gnu::noinline]] static uint32_t split_runs(const SplitState& s, Packet* const* p, uint32_t groups, uint32_t& d_io,
                                               uint32_t slot, __m128i body, uint32_t len) noexcept {
    const SplitArrays a = arrays(s);
    ring::SplitDesc* const desc = a.desc;
    const uint16_t* const next = a.next;
    const uint32_t mask = a.mask;
    const __m128i capv = _mm_set1_epi32(static_cast<int>(len));
    uint32_t d = d_io, g = 0, base, after;
    for (; g < groups && Gr::template run4<Dir>(next, d, mask, base, after); ++g, p += 4, slot += 4) {
      ring::SplitDesc* const dg = desc + base;
      __m128i v[4], same = _mm_set1_epi32(-1);
      for (uint32_t k = 0; k < 4; ++k) {
        const Packet* q = p[Dir > 0 ? k : 3 - k];
        v[k] = _mm_add_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(&q->buf_iova)), body);
        same = _mm_and_si128(same, _mm_cmpeq_epi64(v[k], _mm_loadu_si128(reinterpret_cast<const __m128i*>(dg + k))));
      }
      // Stored only when one changes (SplitRing::set_desc: buffers that
      // came back to the descriptors they left keep those lines shared).
      if (!_mm_test_all_ones(same))
        for (uint32_t k = 0; k < 4; ++k) _mm_storeu_si128(reinterpret_cast<__m128i*>(dg + k), v[k]);
      book_split<Dir>(a, base, p, capv, slot);
      d = after;
    }
    d_io = d;
    return g;
  }

  // TX, split (Kernels<L>::split_tx): up to `groups` groups of four plain
  // packets (avail slots not wrapping) while the free list runs in
  // direction Dir: each header zeroed in the headroom and each descriptor
  // {addr, len, flags 0, next 0} written (Group::split_tx_desc), booked as
  // above (cap 0: device-readable). H: the header size as a constant (0:
  // hdr). Returns how many groups; d moves past them, bytes gains their
  // lengths with the header.
  template <int Dir, uint32_t H>
  [[gnu::noinline]] static uint32_t split_tx_runs(const SplitState& s, uint32_t hdr, Packet* const* p, uint32_t groups,
                                                  uint32_t& d_io, uint32_t slot, uint64_t& bytes) noexcept {
    const SplitArrays a = arrays(s);
    ring::SplitDesc* const desc = a.desc;
    const uint16_t* const next = a.next;
    const uint32_t mask = a.mask;
    const uint32_t hs = H != 0 ? H : hdr;
    uint64_t b = 0;
    uint32_t d = d_io, g = 0, base, after;
    const auto put = [&](ring::SplitDesc* to, Packet* q) __attribute__((always_inline)) { b += Gr::split_tx_desc(to, q, hs); };
    for (; g < groups; ++g, p += 4, slot += 4) {
      Packet* const p0 = p[0];
      Packet* const p1 = p[1];
      Packet* const p2 = p[2];
      Packet* const p3 = p[3];
      if (!Gr::tx_plain4(p0, p1, p2, p3, hs)) break;
      if (!Gr::template run4<Dir>(next, d, mask, base, after)) break;
      ring::SplitDesc* const dg = desc + base;
      put(dg + (Dir > 0 ? 0 : 3), p0);
      put(dg + (Dir > 0 ? 1 : 2), p1);
      put(dg + (Dir > 0 ? 2 : 1), p2);
      put(dg + (Dir > 0 ? 3 : 0), p3);
      book_split<Dir>(a, base, p, _mm_setzero_si128(), slot);
      d = after;
    }
    d_io = d;
    bytes += b;
    return g;
  }

  // TX, packed (Kernels<L>::packed_tx): up to `groups` groups of four plain
  // packets at ring positions pos, pos+1, ... (not reaching the ring's end)
  // while the free id list runs in direction Dir: each header zeroed, each
  // descriptor's addr, len and id written (Group::packed_tx_desc; the head
  // flags are published after the adds, §2.8.21), the ids booked as
  // add_singles books them (token, one descriptor, cap 0) and, when
  // pending_head is not null, each position pending for packed_publish
  // with the lap's head flags `f`. Returns how many groups; id moves past
  // them, bytes gains their lengths with the header.
  template <int Dir, uint32_t H>
  [[gnu::noinline]] static uint32_t packed_tx_runs(const PackedState& s, uint32_t hdr, Packet* const* p, uint32_t groups,
                                                   uint32_t& id_io, uint32_t pos, uint16_t* pending_head,
                                                   uint16_t* pending_flags, uint16_t f, uint64_t& bytes) noexcept {
    ring::PackedDesc* const desc = s.desc;  // locals: see SplitArrays
    Packet** const tokens = s.tokens;
    uint16_t* const ndesc = s.ndesc;
    uint32_t* const cap = s.cap;
    const uint16_t* const id_next = s.id_next;
    const uint32_t last_id = uint32_t{s.size} - 1u;
    const uint32_t hs = H != 0 ? H : hdr;
    uint64_t b = 0;
    uint32_t id = id_io, g = 0, base, after;
    const auto put = [&](ring::PackedDesc* to, uint32_t to_id, Packet* q) __attribute__((always_inline)) {
      b += Gr::packed_tx_desc(to, to_id, q, hs);
    };
    for (; g < groups; ++g, p += 4, pos += 4) {
      Packet* const p0 = p[0];
      Packet* const p1 = p[1];
      Packet* const p2 = p[2];
      Packet* const p3 = p[3];
      if (!Gr::tx_plain4(p0, p1, p2, p3, hs)) break;
      if (!Gr::template run4<Dir>(id_next, id, last_id, base, after)) break;
      ring::PackedDesc* const dg = desc + pos;  // positions take the ids in list order
      put(dg, Dir > 0 ? base : base + 3, p0);
      put(dg + 1, Dir > 0 ? base + 1 : base + 2, p1);
      put(dg + 2, Dir > 0 ? base + 2 : base + 1, p2);
      put(dg + 3, Dir > 0 ? base + 3 : base, p3);
      tokens4<Dir>(tokens + base, p);
      const uint64_t ones = 0x0001'0001'0001'0001u;
      __builtin_memcpy(ndesc + base, &ones, sizeof ones);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(cap + base), _mm_setzero_si128());  // device-readable
      if (pending_head != nullptr) {
        const uint64_t heads = pos * 0x0001'0001'0001'0001u + 0x0003'0002'0001'0000u;
        const uint64_t flags = f * 0x0001'0001'0001'0001u;
        __builtin_memcpy(pending_head + 4 * g, &heads, sizeof heads);
        __builtin_memcpy(pending_flags + 4 * g, &flags, sizeof flags);
      }
      id = after;
    }
    id_io = id;
    bytes += b;
    return g;
  }
};

// RX refill, split ring, any order: n device-writable single buffers
// {buf_iova + off, len} from the free list (n <= free descriptors), booked
// as the ring's add_singles books them; the ring's publish() then makes
// them available (one release store of avail->idx, §2.7.13.3: the device
// reads neither descriptors nor avail slots before it).
template <SimdLevel L>
void Kernels<L>::split_post(SplitState& s, Packet* const* pkts, uint16_t n, uint32_t off, uint32_t len) noexcept {
  using P = Post<L>;
  const uint32_t mask = s.mask;
  // A descriptor is {buf_iova, 0} + {off, len | WRITE << 32 | next 0 << 48}
  // (virtio-v1.2 §2.7.5): one load, one add, one 16-byte store.
  const __m128i body = _mm_set_epi64x(static_cast<long long>(len | uint64_t{ring::desc_flag::write} << 32), off);
  uint32_t d = s.free_head, slot = s.avail_idx & mask, i = 0;
  while (i < n) {
    if (n - i >= 4 && slot + 3 <= mask) {
      const uint32_t groups = std::min((n - i) / 4, (mask + 1 - slot) / 4);
      const uint32_t g = Group<L>::list_dir(s.next, d) < 0
                             ? P::template split_runs<-1>(s, pkts + i, groups, d, slot, body, len)
                             : P::template split_runs<1>(s, pkts + i, groups, d, slot, body, len);
      if (g != 0) {
        i += 4 * g;
        slot = (slot + 4 * g) & mask;
        continue;
      }
    }
    Packet* const q = pkts[i];
    const __m128i v = _mm_add_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(&q->buf_iova)), body);
    __m128i* const to = reinterpret_cast<__m128i*>(s.desc + d);
    if (!_mm_test_all_ones(_mm_cmpeq_epi64(v, _mm_loadu_si128(to)))) _mm_storeu_si128(to, v);  // as above
    s.tokens[d] = q;
    s.last[d] = static_cast<uint16_t>(d);
    s.ndesc[d] = 1;
    s.cap[d] = len;
    Group<L>::set_avail1(s.avail_ring, s.avail_shadow, slot, d);
    d = s.next[d];
    slot = (slot + 1) & mask;
    ++i;
  }
  s.free_head = static_cast<uint16_t>(d);
  s.avail_idx = static_cast<uint16_t>(s.avail_idx + n);
  s.num_free = static_cast<uint16_t>(s.num_free - n);
  s.inflight = static_cast<uint16_t>(s.inflight + n);
}

// RX refill, packed ring, any order, nothing unpublished: n device-writable
// single buffers {buf_iova + off, len} (n <= free descriptors) added and
// made available, as add_singles and publish() leave them: every body
// (addr, len, id: §2.8.13) first, then the head flags newest first
// (Group::publish_heads: release stores; the device polls the oldest, so
// it finds all n together, §2.8.21.1: the first descriptor made available
// last). Against DPDK's vhost back end on another core this order costs
// the front end the fewest cycles per packet: whole descriptors written
// with their flags in ring order, the oldest's flags last, cost 40% more
// (vpmd-fwd rxonly, 62-65 against 41-45 cycles per packet), publishing
// oldest first about 10% more, though both run fewer instructions; so the
// packed refill has no group path (groups pay off on split rings, whose
// descriptors the device reads only after avail->idx).
template <SimdLevel L>
void Kernels<L>::packed_post(PackedState& s, Packet* const* pkts, uint16_t n, uint32_t off, uint32_t len) noexcept {
  ring::PackedDesc* const desc = s.desc;  // locals: see split_post
  Packet** const tokens = s.tokens;
  uint16_t* const ndesc = s.ndesc;
  uint32_t* const cap = s.cap;
  const uint16_t* const id_next = s.id_next;
  const uint32_t size = s.size, first = s.next_avail;
  constexpr uint16_t wrap_bits = ring::desc_flag::avail | ring::desc_flag::used;
  uint32_t free_id = s.free_id;
  // At most two runs, split at the ring's end: no wrap test per buffer.
  const uint32_t to_end = size - first;
  const uint32_t run1 = n < to_end ? n : to_end;
  const auto bodies = [&](uint32_t pos, Packet* const* p, uint32_t count) __attribute__((always_inline)) {
    ring::PackedDesc* const d = desc + pos;
    for (uint32_t i = 0; i < count; ++i) {
      Packet* const q = p[i];
      const uint32_t id = free_id;
      free_id = id_next[id];
      d[i].addr = q->buf_iova + off;
      d[i].len = len;
      d[i].id = static_cast<uint16_t>(id);
      tokens[id] = q;
      ndesc[id] = 1;
      cap[id] = len;
    }
  };
  bodies(first, pkts, run1);
  bodies(0, pkts + run1, n - run1);
  Group<L>::publish_heads(desc, first, n, size, static_cast<uint16_t>(s.lap_flags | ring::desc_flag::write));
  const uint32_t next_avail = first + n < size ? first + n : first + n - size;
  if (first + n >= size) s.lap_flags ^= wrap_bits;
  s.free_id = static_cast<uint16_t>(free_id);
  s.next_avail = static_cast<uint16_t>(next_avail);
  s.avail_wrap = (s.lap_flags & ring::desc_flag::avail) != 0;
  s.inflight = static_cast<uint16_t>(s.inflight + n);
  s.num_free = static_cast<uint16_t>(s.num_free - n);
  s.added = static_cast<uint16_t>(s.added + n);
}

}  // namespace vpmd::simd
