#pragma once
// Take<L>: the group loops' (Kernels<L>::split_take, packed_take) fast case,
// groups of four used buffers whose ids run through consecutive ids, up or
// down, as a device completing buffers in the order they were made
// available returns the free list's runs (kernels_post.hpp: up on the split
// ring's free queue, both ways on the packed ring's id stack). Such a group
// needs only its lowest id checked for range (the four are then distinct
// and in range) and its tokens, descriptor counts and caps one load each,
// so the loop keeps little in registers: one loop per direction and mode.
// It stops at the first group that is not such a run or fails a check; the
// general group loop (kernel_groups.hpp) or the scalar reap takes it from
// there, as they would have. Included only by kernels_impl.hpp (its ODR
// rules hold).
#include "kernel_groups.hpp"

namespace vpmd::simd {

// What a loop takes groups for: TX reclaim (tokens and lengths out) or the
// fused RX (whole packets finished, MRG_RXBUF or not).
enum class TakeMode { reap, rx, rx_mrg };

template <SimdLevel L>
struct Take {
  // RxHead's fields as the loops keep them: locals (a store to a packet
  // could alias the RxHead for the compiler, which would reload it).
  struct Rx {
    __m128i hdr, pq;
    uint32_t post_off;
    bool guest_csum;
    explicit Rx(const RxHead* h) noexcept
        : hdr(_mm_set1_epi32(h != nullptr ? h->hdr : 0)),
          pq(_mm_set1_epi32(h != nullptr ? static_cast<int>(uint32_t{h->port} | uint32_t{h->queue} << 16) : 0)),
          post_off(h != nullptr ? h->post_off : 0),
          guest_csum(h != nullptr && h->guest_csum) {}
  };

  // One group whose ids are base..base+3 (lane k: the buffer the device
  // returned k-th, id base + k for Dir 1, base + 3 - k for Dir -1), lens
  // as load_lens() loads them. Checks every token in flight, every buffer
  // one descriptor, every len within its buffer's writable bytes
  // (§2.7.8.1, §2.8.13; a buffer without any reports 0) and, RX, holding
  // the header. Then RX finishes
  // each as rx_burst's body finishes a whole packet's first buffer
  // (§5.1.6.4: data_len, pkt_len, port, queue, DATA_VALID with GUEST_CSUM,
  // bytes), reap stores the reported lens; both put the tokens in return
  // order to `out` and push the ids on the free list in that order, as the
  // scalar reap does: split at the free queue's tail `fh` (end: the
  // sentinel, Group::push4_queue), packed (end 0) on the id list's head.
  // Returns false, having written nothing, when the group does not qualify. The lens are loaded only when they matter: a reap of
  // buffers that are all device-readable (TX) reports 0 for each whatever
  // the device wrote, without reading it.
  template <int Dir, TakeMode M, bool Queue, class LoadLens>
  [[gnu::always_inline]] static bool group(const Rx& rx, Packet** tokens, const uint32_t* cap, const uint16_t* ndesc,
                                           uint16_t* next, uint32_t base, const LoadLens& load_lens, Packet** out,
                                           uint32_t* lens, uint32_t& fh, uint32_t end, __m128i& sum) noexcept {
    const __m128i zero = _mm_setzero_si128();
    const __m128i t01 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(tokens + base));
    const __m128i t23 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(tokens + base + 2));
    const __m128i null = _mm_or_si128(_mm_cmpeq_epi64(t01, zero), _mm_cmpeq_epi64(t23, zero));
    if (!_mm_testz_si128(null, null)) return false;  // not in flight
    uint64_t nd;
    __builtin_memcpy(&nd, ndesc + base, sizeof nd);
    if (nd != 0x0001'0001'0001'0001u) return false;  // a chain: the scalar reap
    __m128i capv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(cap + base));
    __m128i rep = zero, lv = zero;  // a reap of device-readable buffers only (TX): all report 0
    if (M != TakeMode::reap || !_mm_testz_si128(capv, capv)) {
      lv = load_lens();
      if constexpr (Dir < 0) capv = _mm_shuffle_epi32(capv, _MM_SHUFFLE(0, 1, 2, 3));
      const __m128i fits = _mm_cmpeq_epi32(_mm_max_epu32(lv, capv), capv);
      if constexpr (M == TakeMode::reap) {
        // A buffer without writable bytes (TX) reports 0 whatever was written.
        const __m128i cap0 = _mm_cmpeq_epi32(capv, zero);
        if (!_mm_test_all_ones(_mm_or_si128(fits, cap0))) return false;
        rep = _mm_andnot_si128(cap0, lv);
      } else {
        // len <= cap (cap 0 passes only 0, reported the same) and >= hdr.
        if (!_mm_test_all_ones(_mm_and_si128(fits, _mm_cmpeq_epi32(_mm_max_epu32(lv, rx.hdr), lv)))) return false;
      }
    }
    const __m128i o01 = Dir > 0 ? t01 : _mm_shuffle_epi32(t23, _MM_SHUFFLE(1, 0, 3, 2));
    const __m128i o23 = Dir > 0 ? t23 : _mm_shuffle_epi32(t01, _MM_SHUFFLE(1, 0, 3, 2));
    if constexpr (M != TakeMode::reap) {
      Packet* const p0 = reinterpret_cast<Packet*>(_mm_cvtsi128_si64(o01));
      Packet* const p1 = reinterpret_cast<Packet*>(_mm_extract_epi64(o01, 1));
      Packet* const p2 = reinterpret_cast<Packet*>(_mm_cvtsi128_si64(o23));
      Packet* const p3 = reinterpret_cast<Packet*>(_mm_extract_epi64(o23, 1));
      if constexpr (M == TakeMode::rx_mrg) {  // §5.1.6.4: only num_buffers == 1 is a whole packet
        uint32_t other = 0;
        for (const Packet* p : {p0, p1, p2, p3}) {
          uint16_t nb;
          __builtin_memcpy(&nb, p->buf_addr + rx.post_off + hdr_num_buffers_off, sizeof nb);
          other |= nb ^ 1u;
        }
        if (other != 0) return false;
      }
      Group<L>::finish4(p0, p1, p2, p3, _mm_sub_epi32(lv, rx.hdr), rx.pq, rx.guest_csum, rx.post_off, sum);
    } else {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(lens), rep);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), o01);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2), o23);
    // The free-list pushes in return order, as the general group loop makes them.
    fh = Queue ? Group<L>::push4_queue(tokens, next, base, Dir, fh, end) : Group<L>::push4(tokens, next, base, Dir, fh);
    return true;
  }

  // Whether ids i0..i3 (return order) run base..base+3 in direction Dir
  // with base <= last_base (then all four are distinct and in range).
  template <int Dir>
  [[gnu::always_inline]] static bool run_ids(uint32_t i0, uint32_t i1, uint32_t i2, uint32_t i3, uint32_t last_base,
                                             uint32_t& base) noexcept {
    base = Dir > 0 ? i0 : i3;
    if (base > last_base) return false;  // the sums below then do not wrap
    return Dir > 0 ? ((i1 ^ (base + 1)) | (i2 ^ (base + 2)) | (i3 ^ (base + 3))) == 0
                   : ((i2 ^ (base + 1)) | (i1 ^ (base + 2)) | (i0 ^ (base + 3))) == 0;
  }

  static uint64_t hsum(__m128i sum) noexcept {
    return static_cast<uint64_t>(_mm_cvtsi128_si64(sum)) + static_cast<uint64_t>(_mm_extract_epi64(sum, 1));
  }

  // Split: up to `groups` groups of used elements from used_ring[slot] on
  // (not wrapping), read after split_pending()'s acquire of used->idx
  // (§2.7.8). Returns how many were taken; fh is the free queue's tail (or
  // its sentinel, s.size, when it was empty).
  template <int Dir, TakeMode M>
  [[gnu::noinline]] static uint32_t split_runs(const SplitState& s, const RxHead* h, Packet** out, uint32_t* lens,
                                               uint32_t groups, uint32_t slot, uint32_t& fh, uint64_t& bytes) noexcept {
    const ring::SplitUsedElem* const u0 = s.used_ring + slot;
    Packet** const tokens = s.tokens;
    const uint32_t* const cap = s.cap;
    const uint16_t* const ndesc = s.ndesc;
    uint16_t* const next = s.next;
    const uint32_t last_base = s.mask - 3u;  // groups > 0 implies a ring of at least 4
    const uint32_t end = s.size;
    const Rx rx(h);
    __m128i sum = _mm_setzero_si128();
    uint32_t head = fh, g = 0, base;
    for (; g < groups; ++g) {
      const ring::SplitUsedElem* const u = u0 + 4 * g;
      if (!run_ids<Dir>(u[0].id, u[1].id, u[2].id, u[3].id, last_base, base)) break;
      const auto lv = [u] {
        return _mm_set_epi32(static_cast<int>(u[3].len), static_cast<int>(u[2].len), static_cast<int>(u[1].len),
                             static_cast<int>(u[0].len));
      };
      if (!group<Dir, M, true>(rx, tokens, cap, ndesc, next, base, lv, out + 4 * g,
                               M == TakeMode::reap ? lens + 4 * g : nullptr, head, end, sum)) break;
    }
    fh = head;
    bytes += hsum(sum);
    return g;
  }

  // Packed: up to `groups` groups of descriptors from ring position pos on
  // (not wrapping), each head's flags acquired first (as Group::packed).
  template <int Dir, TakeMode M>
  [[gnu::noinline]] static uint32_t packed_runs(const PackedState& s, const RxHead* h, Packet** out, uint32_t* lens,
                                                uint32_t groups, uint32_t pos, bool used_wrap, uint32_t& fh,
                                                uint64_t& bytes) noexcept {
    ring::PackedDesc* const d0 = s.desc + pos;
    Packet** const tokens = s.tokens;
    const uint32_t* const cap = s.cap;
    const uint16_t* const ndesc = s.ndesc;
    uint16_t* const next = s.id_next;
    const uint32_t last_base = uint32_t{s.size} - 4u;  // ids run below size
    constexpr uint16_t wrap_bits = ring::desc_flag::avail | ring::desc_flag::used;
    const uint16_t want = used_wrap ? wrap_bits : 0;  // §2.8.1: used means AVAIL == USED == the used wrap counter
    const Rx rx(h);
    __m128i sum = _mm_setzero_si128();
    uint32_t head = fh, g = 0, base;
    for (; g < groups; ++g) {
      ring::PackedDesc* const d = d0 + 4 * g;
      // Each pairs with the device's release store of that descriptor's
      // flags after it wrote id and len (§2.8.22).
      const auto diff = static_cast<uint16_t>((__atomic_load_n(&d[0].flags, __ATOMIC_ACQUIRE) ^ want) |
                                              (__atomic_load_n(&d[1].flags, __ATOMIC_ACQUIRE) ^ want) |
                                              (__atomic_load_n(&d[2].flags, __ATOMIC_ACQUIRE) ^ want) |
                                              (__atomic_load_n(&d[3].flags, __ATOMIC_ACQUIRE) ^ want));
      if (diff & wrap_bits) break;  // not all used
      if (!run_ids<Dir>(d[0].id, d[1].id, d[2].id, d[3].id, last_base, base)) break;
      const auto lv = [d] {
        return _mm_set_epi32(static_cast<int>(d[3].len), static_cast<int>(d[2].len), static_cast<int>(d[1].len),
                             static_cast<int>(d[0].len));
      };
      if (!group<Dir, M, false>(rx, tokens, cap, ndesc, next, base, lv, out + 4 * g,
                                M == TakeMode::reap ? lens + 4 * g : nullptr, head, 0, sum)) break;
    }
    fh = head;
    bytes += hsum(sum);
    return g;
  }
};

}  // namespace vpmd::simd
