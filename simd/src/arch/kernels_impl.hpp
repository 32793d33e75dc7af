#pragma once
// Kernels<L>: included only by simd/src/arch/kernels_<level>.cpp, each built
// with its own -m flags. Rules that keep AVX code out of baseline code (ODR):
// no ring or pool member function, no std:: function template, no inline
// helper without the level in its type: only the plain state structs of
// ring_state.hpp, __atomic builtins, and xsimd batches of ArchOf<L>.
#include <xsimd/xsimd.hpp>

#include "vpmd/simd/vector_kernels.hpp"

namespace vpmd::simd {

template <SimdLevel L>
struct ArchOf;
template <>
struct ArchOf<SimdLevel::sse42> {
  using type = xsimd::sse4_2;
};
template <>
struct ArchOf<SimdLevel::avx2> {
  using type = xsimd::avx2;
};
template <>
struct ArchOf<SimdLevel::avx512> {
  using type = xsimd::avx512bw;
};

// Offsets the gathers below rely on (virtio-v1.2 §2.7.8, §2.8.13).
static_assert(sizeof(ring::SplitUsedElem) == 8 && offsetof(ring::SplitUsedElem, id) == 0);
static_assert(sizeof(ring::PackedDesc) == 16 && offsetof(ring::PackedDesc, len) == 8);
static_assert(offsetof(ring::PackedDesc, id) == 12 && offsetof(ring::PackedDesc, flags) == 14);
static_assert(offsetof(Packet, buf_iova) == 8 && offsetof(Packet, data_off) == 16 && offsetof(Packet, data_len) == 28);

// Split ring, any order: a group is G consecutive used elements, one vector
// load (they are 8 bytes each, le32 id + le32 len), ids and lengths checked
// for the whole group at once; then each buffer is retired in ring order,
// exactly as SplitRing::reap does (free-list pushes in the same order).
template <SimdLevel L>
uint16_t Kernels<L>::split_reap(SplitState& s, Packet** toks, uint32_t* lens, uint16_t max) noexcept {
  using A = typename ArchOf<L>::type;
  using U64 = xsimd::batch<uint64_t, A>;
  constexpr uint16_t G = U64::size;
  // Pairs with the device's release store of used->idx after it wrote the
  // used elements (virtio-v1.2 §2.7.8, §2.7.14): they are stable below.
  const uint16_t used_idx = __atomic_load_n(&s.used->idx, __ATOMIC_ACQUIRE);
  const auto pending = static_cast<uint16_t>(used_idx - s.last_used);
  if (pending > s.inflight) return 0;  // device overran: the scalar reap marks the ring broken
  const uint16_t avail = pending < max ? pending : max;
  const auto* used64 = reinterpret_cast<const uint64_t*>(s.used_ring);
  const U64 size_v(uint64_t{s.size}), low32(uint64_t{0xFFFFFFFF}), zero(uint64_t{0});
  alignas(64) uint64_t idv[G];
  alignas(64) uint64_t lenv[G];
  uint16_t out = 0, freed = 0, free_head = s.free_head;
  while (avail - out >= G) {
    const auto slot = static_cast<uint16_t>((s.last_used + out) & s.mask);
    if (slot + G > s.size) break;  // the group wraps the used ring: left to the scalar reap
    const U64 e = U64::load_unaligned(used64 + slot);  // the used ring is only 4-aligned (§2.7.8)
    const U64 id = e & low32, len = e >> 32;
    if (xsimd::any(id >= size_v)) break;
    const U64 cap = U64::gather(s.cap, id);
    // §2.7.8.1: more than the buffer's writable bytes is a device error; a
    // buffer without writable bytes reports 0 whatever was written.
    if (xsimd::any((len > cap) & (cap != zero))) break;
    id.store_aligned(idv);
    xsimd::select(cap != zero, len, zero).store_aligned(lenv);
    uint16_t k = 0;
    for (; k < G; ++k) {
      const uint64_t d = idv[k];
      Packet* t = s.tokens[d];
      if (t == nullptr) break;  // not in flight, or twice in this group: the scalar reap says so
      toks[out + k] = t;
      lens[out + k] = static_cast<uint32_t>(lenv[k]);
      s.tokens[d] = nullptr;
      freed = static_cast<uint16_t>(freed + s.ndesc[d]);
      s.next[s.last[d]] = free_head;
      free_head = static_cast<uint16_t>(d);
    }
    out = static_cast<uint16_t>(out + k);
    if (k != G) break;
  }
  s.free_head = free_head;
  s.num_free = static_cast<uint16_t>(s.num_free + freed);
  s.inflight = static_cast<uint16_t>(s.inflight - out);
  s.last_used = static_cast<uint16_t>(s.last_used + out);
  return out;
}

// Split ring, any order: n single descriptors from the free list, each
// descriptor written whole (addr, len, flags, next) with one 16-byte store
// where the level has it; the avail slots follow. The device reads neither
// before publish()'s release of avail->idx (§2.7.13.3).
template <SimdLevel L>
void Kernels<L>::split_add(SplitState& s, Packet* const* pkts, uint16_t n, SegRule rule) noexcept {
  const uint16_t flags = rule.writable ? ring::desc_flag::write : 0;
  uint16_t d = s.free_head, avail = s.avail_idx;
  for (uint16_t i = 0; i < n; ++i) {
    Packet* p = pkts[i];
    const uint64_t iova = rule.from_data ? p->buf_iova + p->data_off - rule.off : p->buf_iova + rule.off;
    const uint32_t len = rule.from_data ? uint32_t{p->data_len} + rule.off : rule.len;
    const __m128i body = _mm_set_epi64x(static_cast<long long>(len | (uint64_t{flags} << 32)), static_cast<long long>(iova));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(s.desc + d), body);  // {addr, len, flags, next = 0}
    s.tokens[d] = p;
    s.last[d] = d;
    s.ndesc[d] = 1;
    s.cap[d] = rule.writable ? len : 0;
    s.avail_ring[avail & s.mask] = d;
    ++avail;
    d = s.next[d];
  }
  s.free_head = d;
  s.avail_idx = avail;
  s.num_free = static_cast<uint16_t>(s.num_free - n);
  s.inflight = static_cast<uint16_t>(s.inflight + n);
}

// Packed ring, any order: a group is G consecutive descriptors (G = 4 on
// AVX2: one 64-byte line). Their flags are acquired one by one (each pairs
// with the device's release store of that descriptor's flags, §2.8.22) and
// checked at once; ids and lengths are then gathered and validated as a
// group, and the buffers retired in ring order as PackedRing::reap does.
template <SimdLevel L>
uint16_t Kernels<L>::packed_reap(PackedState& s, Packet** toks, uint32_t* lens, uint16_t max) noexcept {
  using A = typename ArchOf<L>::type;
  using U64 = xsimd::batch<uint64_t, A>;
  using I64 = xsimd::batch<int64_t, A>;
  constexpr uint16_t G = U64::size;
  constexpr uint16_t wrap_bits = ring::desc_flag::avail | ring::desc_flag::used;
  const auto* words = reinterpret_cast<const uint64_t*>(s.desc);
  alignas(64) int64_t second[G];  // lane k: the second 8 bytes of descriptor k (len, id, flags)
  for (uint16_t k = 0; k < G; ++k) second[k] = 2 * k + 1;
  const I64 second_word = I64::load_aligned(second);
  const U64 size_v(uint64_t{s.size}), low16(uint64_t{0xFFFF}), low32(uint64_t{0xFFFFFFFF}), zero(uint64_t{0});
  alignas(64) uint64_t idv[G];
  alignas(64) uint64_t lenv[G];
  uint16_t out = 0;
  while (max - out >= G && s.inflight - s.unpublished >= G) {
    const uint16_t p = s.next_used;
    if (p + G > s.size) break;  // the group wraps the ring: left to the scalar reap
    uint16_t f_and = 0xFFFF, f_or = 0;
    for (uint16_t k = 0; k < G; ++k) {
      const uint16_t f = __atomic_load_n(&s.desc[p + k].flags, __ATOMIC_ACQUIRE);
      f_and &= f;
      f_or |= f;
    }
    // §2.8.1: used in this lap means AVAIL == USED == the used wrap counter.
    const uint16_t want = s.used_wrap ? wrap_bits : 0;
    if (((f_and ^ want) | (f_or ^ want)) & wrap_bits) break;  // not all used (or odd): the scalar reap decides
    const U64 w = U64::gather(words + 2 * size_t{p}, second_word);  // le32 len | le16 id << 32 | flags << 48
    const U64 id = (w >> 32) & low16, len = w & low32;
    if (xsimd::any(id >= size_v)) break;
    const U64 cap = U64::gather(s.cap, id);
    if (xsimd::any((len > cap) & (cap != zero))) break;  // see split_reap
    id.store_aligned(idv);
    xsimd::select(cap != zero, len, zero).store_aligned(lenv);
    uint16_t k = 0;
    bool whole = true;
    for (; k < G && whole; ++k) {
      const auto d = static_cast<uint16_t>(idv[k]);
      Packet* t = s.tokens[d];
      if (t == nullptr) break;  // not in flight, or twice in this group
      toks[out] = t;
      lens[out++] = static_cast<uint32_t>(lenv[k]);
      const uint16_t nd = s.ndesc[d];
      s.tokens[d] = nullptr;
      s.num_free = static_cast<uint16_t>(s.num_free + nd);
      --s.inflight;
      s.id_next[d] = s.free_id;
      s.free_id = d;
      s.next_used = static_cast<uint16_t>(s.next_used + nd);
      if (s.next_used >= s.size) {
        s.next_used = static_cast<uint16_t>(s.next_used - s.size);
        s.used_wrap = !s.used_wrap;
      }
      whole = nd == 1;  // a chain: the group's next lanes are not used descriptors
    }
    if (k != G || !whole) break;
  }
  return out;
}

// Packed ring, any order: n single descriptors; bodies (addr, len, id) now,
// head flags in packed_publish.
template <SimdLevel L>
void Kernels<L>::packed_add(PackedState& s, Packet* const* pkts, uint16_t n, SegRule rule) noexcept {
  const uint16_t wflag = rule.writable ? ring::desc_flag::write : 0;
  for (uint16_t i = 0; i < n; ++i) {
    Packet* p = pkts[i];
    const uint64_t iova = rule.from_data ? p->buf_iova + p->data_off - rule.off : p->buf_iova + rule.off;
    const uint32_t len = rule.from_data ? uint32_t{p->data_len} + rule.off : rule.len;
    const uint16_t id = s.free_id;
    s.free_id = s.id_next[id];
    ring::PackedDesc& d = s.desc[s.next_avail];
    d.addr = iova;  // plain: the device reads the body only after acquiring the head flags (§2.8.21)
    d.len = len;
    d.id = id;
    s.tokens[id] = p;
    s.ndesc[id] = 1;
    s.cap[id] = rule.writable ? len : 0;
    s.pending_head[s.unpublished] = s.next_avail;
    s.pending_flags[s.unpublished] = static_cast<uint16_t>(s.lap_flags | wflag);
    ++s.unpublished;
    ++s.inflight;
    --s.num_free;
    ++s.unpublished_desc;
    if (++s.next_avail == s.size) {
      s.next_avail = 0;
      s.avail_wrap = !s.avail_wrap;
      s.lap_flags ^= ring::desc_flag::avail | ring::desc_flag::used;  // §2.8.1
    }
  }
}

// Everything added becomes available at once: head flags newest first, the
// oldest last. Each is a release store pairing with the device's acquire of
// the same flags before it reads the descriptor (§2.8.21, §2.8.22); the
// device polls the oldest position, so it finds the whole batch together
// (§2.8.21.1: the first descriptor made available last).
template <SimdLevel L>
void Kernels<L>::packed_publish(PackedState& s) noexcept {
  for (uint16_t i = s.unpublished; i-- != 0;)
    __atomic_store_n(&s.desc[s.pending_head[i]].flags, s.pending_flags[i], __ATOMIC_RELEASE);
  s.added = static_cast<uint16_t>(s.added + s.unpublished_desc);
  s.unpublished = s.unpublished_desc = 0;
}

}  // namespace vpmd::simd
