#pragma once
// Group<L>: loading and validating one group of used buffers for the
// kernels of level L (kernels_impl.hpp). Included only by the per-level
// translation units; every function here has L in its type (ODR, see
// vector_kernels.hpp). Plain pointers in, no ring state struct: stores the
// kernels make through these pointers cannot alias the shadows they keep
// in registers.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "vpmd/simd/net_header.hpp"
#include "vpmd/simd/vector_kernels.hpp"

namespace vpmd::simd {

// Offsets the loads below rely on (virtio-v1.2 §2.7.8, §2.8.13).
static_assert(sizeof(ring::SplitUsedElem) == 8 && offsetof(ring::SplitUsedElem, id) == 0 &&
              offsetof(ring::SplitUsedElem, len) == 4);
static_assert(sizeof(ring::PackedDesc) == 16 && offsetof(ring::PackedDesc, len) == 8);
static_assert(offsetof(ring::PackedDesc, id) == 12 && offsetof(ring::PackedDesc, flags) == 14);

// The device is untrusted (virtio-v1.2 §2.7.8.1, §2.8.13): a group is taken
// only when every id is in range, distinct, names a buffer in flight, and
// every len is within that buffer's writable bytes. A group failing any
// check is not taken: the scalar reap then takes it buffer by buffer, or
// marks the ring broken at the first bad value, exactly as it would have.
template <SimdLevel L>
struct Group {
  // 4 used elements (split) or 4 descriptors, one 64-byte line (packed,
  // §2.8.13), at every level. No gathers: AMD Zen 4 runs vpgatherdd/dq as
  // microcode, slower than the four plain loads they replace (bench_burst,
  // median of 5, driver-only: RX split b32 avx2 0.95x -> 1.05x of scalar,
  // avx512 with 8 lanes 0.94x -> 1.06x), and the wider level gains
  // nothing a 4-lane group needs.
  static constexpr uint16_t split_lanes = 4;
  static constexpr uint16_t packed_lanes = 4;

  // 4 lanes of ids and lens. Out: ids, tokens, reported lens (0 for a
  // buffer without writable bytes), and dir: 1 when the ids are base,
  // base+1, base+2, base+3, -1 when base+3 .. base (buffers completed in
  // the order a run of the free list was added: their tokens and caps then
  // come with one load each), 0 otherwise. A reported len under min_len
  // fails the group too (RX: no room for the header).
  static bool check4(__m128i ids, __m128i lens, uint32_t max_id, Packet* const* tokens, const uint32_t* cap,
                     uint32_t* id_out, Packet** tok_out, uint32_t* len_out, uint32_t min_len, int& dir) noexcept {
    const __m128i ones = _mm_set1_epi32(-1);
    const __m128i maxv = _mm_set1_epi32(static_cast<int>(max_id));
    // ids <= max_id (unsigned): max(ids, max_id) == max_id in every lane.
    __m128i bad = _mm_xor_si128(_mm_cmpeq_epi32(_mm_max_epu32(ids, maxv), maxv), ones);
    const __m128i first = _mm_shuffle_epi32(ids, _MM_SHUFFLE(0, 0, 0, 0));
    const __m128i iota = _mm_set_epi32(3, 2, 1, 0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(id_out), ids);
    __m128i capv;
    if (_mm_test_all_ones(_mm_cmpeq_epi32(ids, _mm_add_epi32(first, iota))) ||
        _mm_test_all_ones(_mm_cmpeq_epi32(ids, _mm_sub_epi32(first, iota)))) {
      // A run: distinct, and in range when its ends are.
      if (!_mm_testz_si128(bad, bad)) return false;
      dir = id_out[1] > id_out[0] ? 1 : -1;
      const uint32_t base = dir > 0 ? id_out[0] : id_out[3];
      const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(tokens + base));
      const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(tokens + base + 2));
      const __m128i zero = _mm_setzero_si128();
      const __m128i null = _mm_or_si128(_mm_cmpeq_epi64(lo, zero), _mm_cmpeq_epi64(hi, zero));
      if (!_mm_testz_si128(null, null)) return false;  // not in flight
      capv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(cap + base));
      if (dir > 0) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(tok_out), lo);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(tok_out + 2), hi);
      } else {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(tok_out), _mm_shuffle_epi32(hi, _MM_SHUFFLE(1, 0, 3, 2)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(tok_out + 2), _mm_shuffle_epi32(lo, _MM_SHUFFLE(1, 0, 3, 2)));
        capv = _mm_shuffle_epi32(capv, _MM_SHUFFLE(0, 1, 2, 3));
      }
    } else {
      dir = 0;
      // Distinct: each lane against the lanes 1 and 2 places on covers all 6 pairs.
      bad = _mm_or_si128(bad, _mm_cmpeq_epi32(ids, _mm_shuffle_epi32(ids, _MM_SHUFFLE(0, 3, 2, 1))));
      bad = _mm_or_si128(bad, _mm_cmpeq_epi32(ids, _mm_shuffle_epi32(ids, _MM_SHUFFLE(1, 0, 3, 2))));
      if (!_mm_testz_si128(bad, bad)) return false;  // only now are the ids safe to index with
      Packet* const t0 = tokens[id_out[0]];
      Packet* const t1 = tokens[id_out[1]];
      Packet* const t2 = tokens[id_out[2]];
      Packet* const t3 = tokens[id_out[3]];
      if ((t0 == nullptr) | (t1 == nullptr) | (t2 == nullptr) | (t3 == nullptr)) return false;  // not in flight
      tok_out[0] = t0, tok_out[1] = t1, tok_out[2] = t2, tok_out[3] = t3;
      capv = _mm_set_epi32(static_cast<int>(cap[id_out[3]]), static_cast<int>(cap[id_out[2]]),
                           static_cast<int>(cap[id_out[1]]), static_cast<int>(cap[id_out[0]]));
    }
    // §2.7.8.1: more than the buffer's writable bytes is a device error; a
    // buffer without writable bytes (cap 0) reports 0 whatever was written.
    const __m128i cap0 = _mm_cmpeq_epi32(capv, _mm_setzero_si128());
    const __m128i fits = _mm_cmpeq_epi32(_mm_max_epu32(lens, capv), capv);
    const __m128i rep = _mm_andnot_si128(cap0, lens);
    const __m128i minv = _mm_set1_epi32(static_cast<int>(min_len));
    const __m128i long_enough = _mm_cmpeq_epi32(_mm_max_epu32(rep, minv), rep);
    if (!_mm_test_all_ones(_mm_and_si128(_mm_or_si128(cap0, fits), long_enough))) return false;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(len_out), rep);
    return true;
  }

  // The split group of 4 used elements at `e` (not crossing the ring's
  // end; the used ring is only 4-aligned, §2.7.8). Each field loaded as the
  // device stored it: a wide load over fields the device stored one by one
  // just before cannot be forwarded from its store buffer when both run on
  // one core (the lean device).
  static bool split(const std::byte* e, uint32_t max_id, Packet* const* tokens, const uint32_t* cap, uint32_t* id,
                    Packet** tok, uint32_t* len, uint32_t min_len, int& dir) noexcept {
    const auto* u = reinterpret_cast<const ring::SplitUsedElem*>(e);
    return check4(_mm_set_epi32(static_cast<int>(u[3].id), static_cast<int>(u[2].id), static_cast<int>(u[1].id), static_cast<int>(u[0].id)),
                  _mm_set_epi32(static_cast<int>(u[3].len), static_cast<int>(u[2].len), static_cast<int>(u[1].len), static_cast<int>(u[0].len)),
                  max_id, tokens, cap, id, tok, len, min_len, dir);
  }

  // The packed group of 4 descriptors at `d` (not crossing the ring's end).
  // Each head's flags are acquired first, one by one: each pairs with the
  // device's release store of that descriptor's flags after it wrote id and
  // len (§2.8.22), so the body loads below read what the device wrote.
  static bool packed(ring::PackedDesc* d, bool used_wrap, uint32_t max_id, Packet* const* tokens, const uint32_t* cap,
                     uint32_t* id, Packet** tok, uint32_t* len, uint32_t min_len, int& dir) noexcept {
    constexpr uint16_t wrap_bits = ring::desc_flag::avail | ring::desc_flag::used;
    const uint16_t want = used_wrap ? wrap_bits : 0;  // §2.8.1: used means AVAIL == USED == the used wrap counter
    const uint16_t diff = static_cast<uint16_t>((__atomic_load_n(&d[0].flags, __ATOMIC_ACQUIRE) ^ want) |
                                                (__atomic_load_n(&d[1].flags, __ATOMIC_ACQUIRE) ^ want) |
                                                (__atomic_load_n(&d[2].flags, __ATOMIC_ACQUIRE) ^ want) |
                                                (__atomic_load_n(&d[3].flags, __ATOMIC_ACQUIRE) ^ want));
    if (diff & wrap_bits) return false;  // not all used (or odd flags): the scalar reap decides
    // id and len loaded as the device stored them, field by field (see split()).
    const __m128i ids = _mm_set_epi32(d[3].id, d[2].id, d[1].id, d[0].id);
    const __m128i lens = _mm_set_epi32(static_cast<int>(d[3].len), static_cast<int>(d[2].len), static_cast<int>(d[1].len),
                                       static_cast<int>(d[0].len));
    return check4(ids, lens, max_id, tokens, cap, id, tok, len, min_len, dir);
  }

  // Whether the free list (split: next, packed: id_next) from d on runs
  // through four consecutive descriptors, d, d+1, d+2, d+3 (Dir 1) or d,
  // d-1, d-2, d-3 (Dir -1), as a reap of buffers the device completed in
  // order leaves it (each pushed on the list in turn), read with one load
  // of their links: base is the lowest of the four, after the list's entry
  // after them; mask, the highest id. The add loops keep to the direction
  // a lap's runs all go (kernels_post.hpp).
  template <int Dir>
  [[gnu::always_inline]] static bool run4(const uint16_t* next, uint32_t d, uint32_t mask, uint32_t& base,
                                          uint32_t& after) noexcept {
    uint64_t w;
    if constexpr (Dir > 0) {
      if (d + 3 > mask) return false;
      __builtin_memcpy(&w, next + d, sizeof w);  // next[d .. d+3] = d+1, d+2, d+3, after
      if ((w & 0xFFFF'FFFF'FFFFu) != d * 0x1'0001'0001u + 0x3'0002'0001u) return false;
      base = d, after = static_cast<uint32_t>(w >> 48);
    } else {
      if (d < 3) return false;
      __builtin_memcpy(&w, next + d - 3, sizeof w);  // next[d-3 .. d] = after, d-3, d-2, d-1
      if ((w >> 16) != (d - 3) * 0x1'0001'0001u + 0x2'0001'0000u) return false;
      base = d - 3, after = static_cast<uint32_t>(w & 0xFFFF);
    }
    return true;
  }

  // Which way a run of the free list from d would go (run4's Dir): up
  // when d links to d+1, else down. One load instead of a call of the
  // run loop that fails at its first group: on the packed ring's id stack
  // the direction changes once a lap, and a guess from the last call was
  // wrong every other burst.
  [[gnu::always_inline]] static int list_dir(const uint16_t* next, uint32_t d) noexcept {
    return next[d] == d + 1 ? 1 : -1;
  }

  // The free-list pushes of a run's four ids in group order (dir as in
  // check4), as the per-id loop makes them: tokens cleared, each id linked
  // to the previous head. Returns the new head.
  [[gnu::always_inline]] static uint32_t push4(Packet** tokens, uint16_t* next, uint32_t base, int dir,
                                               uint32_t head) noexcept {
    const __m128i zero = _mm_setzero_si128();
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tokens + base), zero);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tokens + base + 2), zero);
    uint64_t links;
    if (dir > 0) {  // next[base..base+3] = head, base, base+1, base+2
      links = uint64_t{head} + base * 0x0001'0001'0001'0000u + 0x0002'0001'0000'0000u;
    } else {  // next[base..base+3] = base+1, base+2, base+3, head
      links = (uint64_t{head} << 48) + base * 0x0000'0001'0001'0001u + 0x0000'0003'0002'0001u;
    }
    __builtin_memcpy(next + base, &links, sizeof links);
    return dir > 0 ? base + 3 : base;
  }

  // Split, the free queue (split_ring.hpp): the same pushes as the per-id
  // loop makes them, in group order: tokens cleared, the tail (or the
  // sentinel, `end`, when the queue is empty) linked to the first, each to
  // the next, the last marked the end. Returns the new tail.
  [[gnu::always_inline]] static uint32_t push4_queue(Packet** tokens, uint16_t* next, uint32_t base, int dir,
                                                     uint32_t tail, uint32_t end) noexcept {
    const __m128i zero = _mm_setzero_si128();
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tokens + base), zero);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tokens + base + 2), zero);
    next[tail] = static_cast<uint16_t>(dir > 0 ? base : base + 3);
    const uint64_t links = queue_links(base, dir, end);
    __builtin_memcpy(next + base, &links, sizeof links);
    return dir > 0 ? base + 3 : base;
  }
  // next[base..base+3] for the pushes above: up, base+1, base+2, base+3,
  // end; down (base+3 first), end, base, base+1, base+2.
  [[gnu::always_inline]] static uint64_t queue_links(uint32_t base, int dir, uint32_t end) noexcept {
    return dir > 0 ? base * 0x0000'0001'0001'0001u + 0x0000'0003'0002'0001u + (uint64_t{end} << 48)
                   : base * 0x0001'0001'0001'0000u + 0x0002'0001'0000'0000u + end;
  }

  // Split: avail slots slot..slot+3 name the four heads in `heads` (16-bit
  // lanes), stored only when they change (SplitRing::set_avail: the
  // driver's own copy decides, never the shared ring).
  [[gnu::always_inline]] static void set_avail4(uint16_t* avail_ring, uint16_t* shadow, uint32_t slot,
                                                uint64_t heads) noexcept {
    uint64_t was;
    __builtin_memcpy(&was, shadow + slot, sizeof was);
    if (was == heads) return;
    __builtin_memcpy(shadow + slot, &heads, sizeof heads);
    __builtin_memcpy(avail_ring + slot, &heads, sizeof heads);
  }
  [[gnu::always_inline]] static void set_avail1(uint16_t* avail_ring, uint16_t* shadow, uint32_t slot,
                                                uint32_t head) noexcept {
    if (shadow[slot] == head) return;
    shadow[slot] = static_cast<uint16_t>(head);
    avail_ring[slot] = static_cast<uint16_t>(head);
  }

  // Packed: the head flags of n single descriptors added at positions
  // first, first+1, ... (wrapping at most once, at `size`), stored newest
  // first: f0 before the ring's end, the next lap's flags after it (§2.8.1).
  // Each is a release store pairing with the device's acquire of those
  // flags before it reads the descriptor (§2.8.21, §2.8.22); the device
  // polls the oldest, so it finds all n together. Pointer loops: gcc
  // rebuilds an indexed address per store (8 instructions, not 4).
  [[gnu::always_inline]] static void publish_heads(ring::PackedDesc* desc, uint32_t first, uint32_t n, uint32_t size,
                                                   uint16_t f0) noexcept {
    const uint32_t run1 = n < size - first ? n : size - first;
    const auto f1 = static_cast<uint16_t>(f0 ^ (ring::desc_flag::avail | ring::desc_flag::used));
    for (ring::PackedDesc* d = desc + (n - run1); d != desc;) __atomic_store_n(&(--d)->flags, f1, __ATOMIC_RELEASE);
    for (ring::PackedDesc* d = desc + first + run1; d != desc + first;) __atomic_store_n(&(--d)->flags, f0, __ATOMIC_RELEASE);
  }

  // Whether every buffer of the group is one descriptor: chains are left to
  // the scalar reap (their used position moves by more than one).
  static bool singles(const uint16_t* ndesc, const uint32_t* id, uint16_t n, int dir) noexcept {
    if (dir != 0) {  // a run: one load
      uint64_t w;
      __builtin_memcpy(&w, ndesc + (dir > 0 ? id[0] : id[3]), sizeof w);
      return w == 0x0001'0001'0001'0001u;
    }
    uint32_t other = 0;
    for (uint16_t k = 0; k < n; ++k) other |= ndesc[id[k]] ^ 1u;
    return other == 0;
  }

  // RX: what rx_burst's body needs per queue, as plain values the loops
  // keep in registers (stores to packets cannot alias them).
  struct Rx {
    uint32_t hdr = 0, post_off = 0, port_queue = 0;
    bool mergeable = false, guest_csum = false;
    static Rx of(const RxHead* h) noexcept {
      if (h == nullptr) return {};
      return {h->hdr, h->post_off, uint32_t{h->port} | (uint32_t{h->queue} << 16), h->mergeable, h->guest_csum};
    }
  };

  // RX: four whole packets' first buffers finished as rx_burst's body
  // finishes them (§5.1.6.4): data_len from its lane of dl (len - hdr),
  // {port, queue, pkt_len} built as four 8-byte values (two unpacks of pq,
  // port | queue << 16, with dl) and stored whole, DATA_VALID as a flag with
  // GUEST_CSUM (see RxQueue::guest_csum); sum gains the four data lengths.
  [[gnu::always_inline]] static void finish4(Packet* p0, Packet* p1, Packet* p2, Packet* p3, __m128i dl, __m128i pq,
                                             bool guest_csum, uint32_t post_off, __m128i& sum) noexcept {
    const __m128i lo = _mm_unpacklo_epi32(pq, dl);  // lanes 0, 1: port | queue << 16 | pkt_len << 32
    const __m128i hi = _mm_unpackhi_epi32(pq, dl);  // lanes 2, 3
    // &p->port is only 4-aligned: 8-byte stores of the unaligned kind (movq).
    _mm_storel_epi64(reinterpret_cast<__m128i*>(&p0->port), lo);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(&p1->port), _mm_unpackhi_epi64(lo, lo));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(&p2->port), hi);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(&p3->port), _mm_unpackhi_epi64(hi, hi));
    p0->data_len = static_cast<uint16_t>(_mm_extract_epi16(dl, 0));
    p1->data_len = static_cast<uint16_t>(_mm_extract_epi16(dl, 2));
    p2->data_len = static_cast<uint16_t>(_mm_extract_epi16(dl, 4));
    p3->data_len = static_cast<uint16_t>(_mm_extract_epi16(dl, 6));
    if (guest_csum) [[unlikely]]  // DATA_VALID (§5.1.6.4.1)
      for (Packet* p : {p0, p1, p2, p3}) {
        const auto flags = static_cast<uint64_t>(p->buf_addr[post_off + hdr_flags_off]);
        p->ol_flags |= ((flags >> 1) & 1u) * ol::rx_csum_good;
      }
    sum = _mm_add_epi64(sum, _mm_add_epi64(_mm_cvtepu32_epi64(dl), _mm_cvtepu32_epi64(_mm_srli_si128(dl, 8))));
  }

  // RX: whether rx_burst's body would deliver every buffer of the group as
  // a whole packet (MRG_RXBUF: num_buffers == 1, §5.1.6.4; the group
  // check already saw every len hold the header) and, if so, writes on each the fields the body writes on a
  // first buffer (data_len, pkt_len, port, queue, the checksum flag of
  // VIRTIO_NET_HDR_F_DATA_VALID) and adds their bytes to `bytes`. Nothing
  // is written when not: a buffer that turns out to continue a chain gets
  // only what the body gives it.
  static bool rx_finish(const Rx& rx, Packet* const* tok, const uint32_t* len, uint16_t n, uint64_t& bytes) noexcept {
    if (rx.mergeable) {
      uint32_t other = 0;
      for (uint16_t k = 0; k < n; ++k) {
        uint16_t nb;
        __builtin_memcpy(&nb, tok[k]->buf_addr + rx.post_off + hdr_num_buffers_off, sizeof nb);
        other |= nb ^ 1u;
      }
      if (other != 0) return false;
    }
    // Four lanes at a time (n is 4 or 8): data_len = len - hdr for all four
    // in one subtraction, then finish4.
    const __m128i pq = _mm_set1_epi32(static_cast<int>(rx.port_queue));
    const __m128i hdr = _mm_set1_epi32(static_cast<int>(rx.hdr));
    __m128i sum = _mm_setzero_si128();
    for (uint16_t j = 0; j < n; j += 4)
      finish4(tok[j], tok[j + 1], tok[j + 2], tok[j + 3],
              _mm_sub_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(len + j)), hdr), pq, rx.guest_csum, rx.post_off,
              sum);
    bytes += static_cast<uint64_t>(_mm_cvtsi128_si64(sum)) + static_cast<uint64_t>(_mm_extract_epi64(sum, 1));
    return true;
  }

  // TX: the virtio-net header in the headroom, zeroed: no offloads asked,
  // flags 0, gso NONE (virtio-v1.2 §5.1.6.2), stored only when not zero yet
  // (net_header.hpp). Overlapping loads cover any size from 8 to 32 bytes
  // (10, 12, 20 in virtio-net) without a loop; the add loops instantiate it
  // for 12 and 10, where the store is inline too (a call would spill every
  // pointer they keep in registers).
  static constexpr uint32_t min_zeroed = inline_hdr_min, max_zeroed = inline_hdr_max;
  [[gnu::always_inline]] static void zero_header(std::byte* h, uint32_t hdr) noexcept { clear_net_header(h, hdr); }

  // TX: plain packet q as one descriptor with its header zeroed in the
  // headroom (§5.1.6.2); returns the descriptor's len (data plus header).
  // Split: {addr} and {len, flags 0, next 0} as two 8-byte stores (a
  // 16-byte one costs two more instructions to build). Packed: addr, len
  // and id; the head flags are published later (§2.8.21).
  [[gnu::always_inline]] static uint32_t split_tx_desc(ring::SplitDesc* to, Packet* q, uint32_t hs) noexcept {
    const uint32_t off = q->data_off - hs, len = uint32_t{q->data_len} + hs;
    zero_header(q->buf_addr + off, hs);
    const uint64_t addr = q->buf_iova + off, rest = len;
    __builtin_memcpy(reinterpret_cast<std::byte*>(to), &addr, sizeof addr);
    __builtin_memcpy(reinterpret_cast<std::byte*>(to) + offsetof(ring::SplitDesc, len), &rest, sizeof rest);
    return len;
  }
  [[gnu::always_inline]] static uint32_t packed_tx_desc(ring::PackedDesc* to, uint32_t id, Packet* q, uint32_t hs) noexcept {
    const uint32_t off = q->data_off - hs, len = uint32_t{q->data_len} + hs;
    zero_header(q->buf_addr + off, hs);
    to->addr = q->buf_iova + off;
    to->len = len;
    to->id = static_cast<uint16_t>(id);
    return len;
  }

  // TX: whether a packet goes in as one descriptor with its header in the
  // headroom (tx_burst's run rule: one segment, headroom for the header),
  // with one load: data_off and nb_segs sit side by side.
  // As one range: nb_segs == 1 and data_off >= hdr is
  // 0x1'0000 + hdr <= w <= 0x1'FFFF for w = data_off | nb_segs << 16.
  static uint32_t tx_word(const Packet* p) noexcept {
    uint32_t w;
    __builtin_memcpy(&w, &p->data_off, sizeof w);
    return w;
  }
  [[gnu::always_inline]] static bool tx_plain(const Packet* p, uint32_t hdr) noexcept {
    return tx_word(p) - (0x1'0000u + hdr) <= 0xFFFFu - hdr;
  }
  // The same for four packets at once, one branch for the run loops.
  [[gnu::always_inline]] static bool tx_plain4(const Packet* p0, const Packet* p1, const Packet* p2, const Packet* p3,
                                               uint32_t hdr) noexcept {
    const __m128i w = _mm_set_epi32(static_cast<int>(tx_word(p3)), static_cast<int>(tx_word(p2)),
                                    static_cast<int>(tx_word(p1)), static_cast<int>(tx_word(p0)));
    const __m128i x = _mm_sub_epi32(w, _mm_set1_epi32(static_cast<int>(0x1'0000u + hdr)));
    return _mm_test_all_ones(_mm_cmpeq_epi32(_mm_min_epu32(x, _mm_set1_epi32(static_cast<int>(0xFFFFu - hdr))), x));
  }

  // Split: used elements past ours as the device's used->idx says, more
  // than in flight when it overran.
  static uint16_t split_used(const SplitState& s) noexcept {
    // Pairs with the device's release store of used->idx after it wrote the
    // used elements (virtio-v1.2 §2.7.8, §2.7.14): they are stable below.
    const uint16_t used_idx = __atomic_load_n(&s.used->idx, __ATOMIC_ACQUIRE);
    return static_cast<uint16_t>(used_idx - s.last_used);
  }
  // Split: used buffers the device has for us, or 0 when it overran (the
  // scalar reap then marks the ring broken, §2.7.8).
  static uint16_t split_pending(const SplitState& s) noexcept {
    const uint16_t n = split_used(s);
    return n > s.inflight ? 0 : n;
  }

};

static_assert(offsetof(Packet, queue) == offsetof(Packet, port) + 2, "port and queue are stamped with one store");
static_assert(offsetof(Packet, ol_flags) == 32);
static_assert(offsetof(Packet, nb_segs) == offsetof(Packet, data_off) + 2, "Group::tx_plain loads both at once");

}  // namespace vpmd::simd
