// Vector paths against the scalar reference: two identical rigs (pool, ring,
// model device), one driven by rx_burst/tx_burst<Ring, ScalarPath>, the
// other by VectorPath<level>, fed the same device behaviour from one seeded
// generator: completions in order or shuffled, random burst sizes, ring sizes
// that put groups across the ring's end, mergeable chains, EVENT_IDX on/off.
// After every step both sides must agree on packets (content, lengths,
// segments, order, flags), stats, ring state (free, in flight, broken, next
// id) and what the device sees (every buffer's pool offset, length, flags,
// and the driver area bytes). Each level runs where the CPU has it; the others
// are skipped with a WARN naming the level and why.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstring>

#include "../ring/test_memory.hpp"
#include "vpmd/model/packed_device.hpp"
#include "vpmd/model/rng.hpp"
#include "vpmd/model/split_device.hpp"
#include "vpmd/simd/cpu.hpp"
#include "vpmd/simd/rx_burst.hpp"
#include "vpmd/simd/tx_burst.hpp"

using namespace vpmd;

namespace {

constexpr uint16_t kHdr = 12;

template <class Ring>
using DeviceFor = std::conditional_t<Ring::kind == ring::RingKind::split, model::SplitDevice, model::PackedDevice>;

// Where a buffer lies in its pool: equal on both sides when they allocated alike.
uint64_t pool_offset(const PacketPool& pool, const std::byte* p) {
  const auto regions = pool.regions();
  for (size_t i = 0; i < regions.size(); ++i)
    if (p >= regions[i].addr() && p < regions[i].addr() + regions[i].length())
      return (uint64_t{i} << 40) + static_cast<uint64_t>(p - regions[i].addr());
  return UINT64_MAX;
}

template <class Ring>
struct Side {
  std::unique_ptr<PacketPool> pool;
  std::unique_ptr<PacketPool::Cache> cache;
  ring::RingConfig cfg;
  test::TestMemory mem;
  DeviceFor<Ring>* dev = nullptr;
  std::unique_ptr<DeviceFor<Ring>> dev_owner;

  Side(uint16_t size, uint64_t features)
      : pool(std::move(PacketPool::create({.count = 2047, .cache_size = 64, .allow_small_pages = true, .name = "equiv"}).value())),
        cache(std::move(pool->make_cache().value())),
        cfg{.size = size, .features = features, .indirect_entries = 8},
        mem(Ring::layout_for(cfg).total + 64) {}

  Ring make_ring() {
    Ring r = std::move(Ring::create(cfg, mem.ring()).value());
    uint64_t f = cfg.features;
    if (Ring::kind == ring::RingKind::packed) f |= ring::feature::ring_packed;
    dev_owner = std::make_unique<DeviceFor<Ring>>(model::QueueConfig{cfg.size, r.areas().desc, r.areas().driver,
                                                                      r.areas().device, f, model::identity_translate()});
    dev = dev_owner.get();
    return r;
  }
  // Driver-written memory, descriptor addresses as pool offsets: must match.
  std::vector<uint64_t> driver_view(const Ring& r) const {
    std::vector<uint64_t> v;
    const auto l = Ring::layout_for(cfg);
    if constexpr (Ring::kind == ring::RingKind::split) {
      auto* d = reinterpret_cast<const ring::SplitDesc*>(mem.data() + l.desc);
      for (uint16_t i = 0; i < cfg.size; ++i) {
        const bool direct = (d[i].flags & ring::desc_flag::indirect) == 0;
        v.push_back(direct ? pool_offset(*pool, reinterpret_cast<const std::byte*>(d[i].addr)) : 1);
        v.push_back(d[i].len | uint64_t{d[i].flags} << 32 | uint64_t{d[i].next} << 48);
      }
      for (size_t b = l.driver; b < l.device; ++b) v.push_back(static_cast<uint8_t>(mem.data()[b]));
    } else {
      auto* d = reinterpret_cast<const ring::PackedDesc*>(mem.data() + l.desc);
      for (uint16_t i = 0; i < cfg.size; ++i) {
        const bool direct = (d[i].flags & ring::desc_flag::indirect) == 0;
        v.push_back(direct ? pool_offset(*pool, reinterpret_cast<const std::byte*>(d[i].addr)) : 1);
        v.push_back(d[i].len | uint64_t{d[i].id} << 32 | uint64_t{d[i].flags} << 48);
      }
      for (size_t b = l.driver; b < l.device + sizeof(ring::PackedEvent); ++b) v.push_back(static_cast<uint8_t>(mem.data()[b]));
    }
    (void)r;
    return v;
  }
};

template <class Ring>
void same_ring_state(const Ring& a, const Ring& b) {
  REQUIRE(a.free_descriptors() == b.free_descriptors());
  REQUIRE(a.in_flight() == b.in_flight());
  REQUIRE(a.broken() == b.broken());
  REQUIRE(a.next_id() == b.next_id());
}

void same_stats(const simd::QueueStats& a, const simd::QueueStats& b) {
  REQUIRE(a.packets == b.packets);
  REQUIRE(a.bytes == b.bytes);
  REQUIRE(a.errors == b.errors);
  REQUIRE(a.refill_failures == b.refill_failures);
  REQUIRE(a.kicks == b.kicks);
}

uint8_t byte_of(uint64_t seq, uint32_t off) { return static_cast<uint8_t>(seq * 31 + off * 7); }

// The device's choice of which held buffers to complete, made once, applied to both sides.
std::vector<size_t> pick(model::Rng& rng, size_t held, bool shuffle) {
  const size_t k = rng.between(0, held);
  std::vector<size_t> order(held);
  for (size_t i = 0; i < held; ++i) order[i] = i;
  if (shuffle)
    for (size_t i = held; i > 1; --i) std::swap(order[i - 1], order[rng.between(0, i - 1)]);
  order.resize(k);
  return order;
}

template <class Ring, class Vec>
void rx_equivalence(uint64_t seed, uint16_t size, bool shuffle, bool mergeable, uint64_t features) {
  model::Rng rng(seed);
  Side<Ring> s0(size, features), s1(size, features);
  simd::RxQueue<Ring> q0(s0.make_ring()), q1(s1.make_ring());
  auto setup = [&](simd::RxQueue<Ring>& q, Side<Ring>& s) {
    q.pool = s.pool.get();
    q.cache = s.cache.get();
    q.hdr_size = kHdr;
    q.post_off = static_cast<uint16_t>(s.pool->headroom() - kHdr);
    q.post_len = s.pool->data_room() + kHdr;
    q.mergeable = mergeable;
    q.refill_threshold = 1;
  };
  setup(q0, s0);
  setup(q1, s1);
  simd::rx_refill<Ring, simd::ScalarPath>(q0);
  simd::rx_refill<Ring, Vec>(q1);
  q0.refill_threshold = q1.refill_threshold = static_cast<uint16_t>(std::max(1, size / 4));
  std::vector<model::Chain> h0, h1;
  uint64_t frames = 0, seq_out = 0;
  Packet* o0[64];
  Packet* o1[64];
  for (int step = 0; step < 300; ++step) {
    // The device takes what is available (both sides the same).
    for (model::Chain c; s0.dev->pop_avail(c);) h0.push_back(c);
    for (model::Chain c; s1.dev->pop_avail(c);) h1.push_back(c);
    REQUIRE(h0.size() == h1.size());
    for (size_t i = 0; i < h0.size(); ++i) {
      REQUIRE(pool_offset(*s0.pool, h0[i].segs[0].data) == pool_offset(*s1.pool, h1[i].segs[0].data));
      REQUIRE(h0[i].writable_bytes() == h1[i].writable_bytes());
    }
    // ... and completes some, in order or not, each a frame (or part of one).
    const auto order = pick(rng, h0.size(), shuffle);
    for (size_t idx : order) {
      const uint32_t room = static_cast<uint32_t>(h0[idx].writable_bytes());
      uint32_t len;
      uint16_t nb = 1;
      const unsigned kind = static_cast<unsigned>(rng.between(0, 99));
      if (kind < 2) len = static_cast<uint32_t>(rng.between(0, kHdr - 1));  // too short for the header: dropped
      else len = static_cast<uint32_t>(rng.between(kHdr, room));
      if (mergeable && kind >= 90) nb = static_cast<uint16_t>(rng.between(0, 3));  // 0 is an error, >1 a chain
      const bool csum = rng.chance(30);
      for (auto* c : {&h0[idx], &h1[idx]}) {
        std::byte* p = c->segs[0].data;
        std::memset(p, 0, kHdr);
        p[0] = std::byte{static_cast<uint8_t>(csum ? 2 : 0)};
        std::memcpy(p + 10, &nb, 2);
        for (uint32_t k = kHdr; k < len && k < kHdr + 64; ++k) p[k] = std::byte{byte_of(frames, k)};
      }
      s0.dev->push_used(h0[idx], len);
      s1.dev->push_used(h1[idx], len);
      ++frames;
    }
    std::vector<size_t> sorted = order;
    std::sort(sorted.rbegin(), sorted.rend());
    for (size_t idx : sorted) {
      h0.erase(h0.begin() + static_cast<std::ptrdiff_t>(idx));
      h1.erase(h1.begin() + static_cast<std::ptrdiff_t>(idx));
    }
    s0.dev->publish();
    s1.dev->publish();
    REQUIRE(s0.dev->driver_error() == "");
    REQUIRE(s1.dev->driver_error() == "");
    // The driver polls with random bursts.
    for (int polls = static_cast<int>(rng.between(1, 3)); polls-- > 0;) {
      const auto n = static_cast<uint16_t>(rng.between(1, 64));
      const uint16_t n0 = simd::rx_burst<Ring, simd::ScalarPath>(q0, o0, n);
      const uint16_t n1 = simd::rx_burst<Ring, Vec>(q1, o1, n);
      REQUIRE(n0 == n1);
      for (uint16_t i = 0; i < n0; ++i) {
        REQUIRE(o0[i]->pkt_len == o1[i]->pkt_len);
        REQUIRE(o0[i]->nb_segs == o1[i]->nb_segs);
        REQUIRE(o0[i]->ol_flags == o1[i]->ol_flags);
        REQUIRE(o0[i]->port == o1[i]->port);
        for (Packet *a = o0[i], *b = o1[i]; a != nullptr; a = a->next, b = b->next) {
          REQUIRE(b != nullptr);
          REQUIRE(a->data_len == b->data_len);
          REQUIRE(a->data_off == b->data_off);
          REQUIRE(pool_offset(*s0.pool, a->buf_addr) == pool_offset(*s1.pool, b->buf_addr));
          REQUIRE(std::memcmp(a->data(), b->data(), std::min<uint16_t>(a->data_len, 64)) == 0);
        }
        ++seq_out;
      }
      s0.pool->free_bulk({o0, n0}, s0.cache.get());
      s1.pool->free_bulk({o1, n1}, s1.cache.get());
      same_stats(q0.stats, q1.stats);
      same_ring_state(q0.ring, q1.ring);
      REQUIRE(s0.driver_view(q0.ring) == s1.driver_view(q1.ring));
    }
  }
  CHECK(frames > 200);
  CHECK(seq_out > 50);
  q0.ring.detach_all([&](Packet* p) { s0.pool->free(p, s0.cache.get()); });
  q1.ring.detach_all([&](Packet* p) { s1.pool->free(p, s1.cache.get()); });
}

template <class Ring, class Vec>
void tx_equivalence(uint64_t seed, uint16_t size, bool shuffle, uint64_t features) {
  model::Rng rng(seed);
  Side<Ring> s0(size, features), s1(size, features);
  simd::TxQueue<Ring> q0(s0.make_ring()), q1(s1.make_ring());
  test::TestMemory slots0(size_t{size} * kHdr + 64), slots1(size_t{size} * kHdr + 64);
  auto setup = [&](simd::TxQueue<Ring>& q, Side<Ring>& s, test::TestMemory& slots) {
    q.hdr_size = kHdr;
    q.reclaim_threshold = static_cast<uint16_t>(std::max(1, size / 4));
    q.free_pool = s.pool.get();
    q.cache = s.cache.get();
    q.hdr_slots = slots.data();
    q.hdr_slots_iova = reinterpret_cast<uint64_t>(slots.data());
  };
  setup(q0, s0, slots0);
  setup(q1, s1, slots1);
  std::vector<model::Chain> h0, h1;
  uint64_t seq = 0;
  for (int step = 0; step < 300; ++step) {
    const auto n = static_cast<uint16_t>(rng.between(1, 64));
    Packet* p0[64];
    Packet* p1[64];
    uint16_t made = 0;
    for (; made < n; ++made) {
      const unsigned kind = static_cast<unsigned>(rng.between(0, 99));
      const auto len = static_cast<uint16_t>(rng.between(14, 1500));
      Packet* a = s0.pool->alloc(s0.cache.get());
      Packet* b = s1.pool->alloc(s1.cache.get());
      if (a == nullptr || b == nullptr) {
        s0.pool->free(a, s0.cache.get());
        s1.pool->free(b, s1.cache.get());
        break;
      }
      for (Packet* p : {a, b}) {
        if (kind < 5) p->data_off = 0;  // no headroom: a header descriptor of its own
        std::byte* d = p->append(len);
        for (uint32_t k = 0; k < 32; ++k) d[k] = std::byte{byte_of(seq + made, k)};
      }
      if (kind >= 95) {  // a two-segment chain
        Packet* ta = s0.pool->alloc(s0.cache.get());
        Packet* tb = s1.pool->alloc(s1.cache.get());
        REQUIRE((ta != nullptr && tb != nullptr));
        ta->append(100);
        tb->append(100);
        REQUIRE(a->chain(ta));
        REQUIRE(b->chain(tb));
      }
      p0[made] = a;
      p1[made] = b;
    }
    const uint16_t n0 = simd::tx_burst<Ring, simd::ScalarPath>(q0, p0, made);
    const uint16_t n1 = simd::tx_burst<Ring, Vec>(q1, p1, made);
    REQUIRE(n0 == n1);
    for (uint16_t i = n0; i < made; ++i) {
      s0.pool->free(p0[i]);
      s1.pool->free(p1[i]);
    }
    seq += n0;
    for (model::Chain c; s0.dev->pop_avail(c);) h0.push_back(c);
    for (model::Chain c; s1.dev->pop_avail(c);) h1.push_back(c);
    REQUIRE(h0.size() == h1.size());
    for (size_t i = 0; i < h0.size(); ++i) {
      REQUIRE(h0[i].segs.size() == h1[i].segs.size());
      for (size_t k = 0; k < h0[i].segs.size(); ++k) {
        REQUIRE(h0[i].segs[k].len == h1[i].segs[k].len);
        REQUIRE(std::memcmp(h0[i].segs[k].data, h1[i].segs[k].data, std::min<uint32_t>(h0[i].segs[k].len, 44)) == 0);
      }
    }
    const auto order = pick(rng, h0.size(), shuffle);
    for (size_t idx : order) {
      s0.dev->push_used(h0[idx], 0);
      s1.dev->push_used(h1[idx], 0);
    }
    std::vector<size_t> sorted = order;
    std::sort(sorted.rbegin(), sorted.rend());
    for (size_t idx : sorted) {
      h0.erase(h0.begin() + static_cast<std::ptrdiff_t>(idx));
      h1.erase(h1.begin() + static_cast<std::ptrdiff_t>(idx));
    }
    s0.dev->publish();
    s1.dev->publish();
    REQUIRE(s0.dev->driver_error() == "");
    REQUIRE(s1.dev->driver_error() == "");
    same_stats(q0.stats, q1.stats);
    same_ring_state(q0.ring, q1.ring);
    REQUIRE(s0.driver_view(q0.ring) == s1.driver_view(q1.ring));
  }
  CHECK(seq > 200);  // a ring of 2 sends ~260 in 300 steps
  simd::tx_reclaim<Ring, simd::ScalarPath>(q0);
  simd::tx_reclaim<Ring, Vec>(q1);
  same_ring_state(q0.ring, q1.ring);
  q0.ring.detach_all([](Packet* p) { p->pool->free(p); });
  q1.ring.detach_all([](Packet* p) { p->pool->free(p); });
  CHECK(s0.pool->in_use() == 0);
  CHECK(s1.pool->in_use() == 0);
}

// Whether this CPU runs level L; if not, a visible skip naming it.
bool cpu_has(simd::SimdLevel l) {
  const auto caps = simd::detect_cpu();
  if (simd::best_level(caps) >= l) return true;
  WARN("skipped: vector level " << simd::to_string(l) << " needs a CPU with it; this one has "
                                << simd::describe_cpu(caps));
  return false;
}

template <class Ring, simd::SimdLevel L>
void all_cases() {
  if (!cpu_has(L)) return;
  using Vec = simd::VectorPath<L>;
  const std::vector<uint16_t> sizes = Ring::kind == ring::RingKind::split ? std::vector<uint16_t>{2, 4, 8, 16, 64, 256}
                                                                         : std::vector<uint16_t>{3, 5, 8, 17, 64, 250};
  uint64_t seed = 1;
  for (uint16_t size : sizes)
    for (bool shuffle : {false, true})
      for (uint64_t f : {uint64_t{0}, ring::feature::event_idx | ring::feature::indirect_desc}) {
        for (bool mergeable : {false, true}) {
          INFO("RX size " << size << " shuffle " << shuffle << " features " << f << " mergeable " << mergeable << " seed " << seed);
          rx_equivalence<Ring, Vec>(seed++, size, shuffle, mergeable, f);
        }
        INFO("TX size " << size << " shuffle " << shuffle << " features " << f << " seed " << seed);
        tx_equivalence<Ring, Vec>(seed++, size, shuffle, f);
      }
}

}  // namespace

TEST_CASE("vector sse4.2 paths equal the scalar paths", "[simd][vector][sse42]") {
  all_cases<simd::SplitAny, simd::SimdLevel::sse42>();
  all_cases<simd::PackedAny, simd::SimdLevel::sse42>();
}
TEST_CASE("vector avx2 paths equal the scalar paths", "[simd][vector][avx2]") {
  all_cases<simd::SplitAny, simd::SimdLevel::avx2>();
  all_cases<simd::PackedAny, simd::SimdLevel::avx2>();
}
TEST_CASE("vector avx512 paths equal the scalar paths", "[simd][vector][avx512]") {
  all_cases<simd::SplitAny, simd::SimdLevel::avx512>();
  all_cases<simd::PackedAny, simd::SimdLevel::avx512>();
}

// The kernels really take groups (the equivalence above would also hold if
// they always left everything to the scalar reap).
template <class Ring, simd::SimdLevel L>
void kernels_take_groups() {
  if (!cpu_has(L)) return;
  Side<Ring> s(64, 0);
  simd::RxQueue<Ring> q(s.make_ring());
  Packet* bufs[32];
  REQUIRE(s.pool->alloc_bulk({bufs, 32}, s.cache.get()));
  REQUIRE(simd::VectorPath<L>::post(q.ring, std::span<Packet* const>(bufs, 32), 0, 256) == 32);
  for (model::Chain c; s.dev->pop_avail(c);) s.dev->push_used(c, 100);
  s.dev->publish();
  using I = ring::RingInternals<Ring>;
  auto st = I::load(q.ring);
  Packet* out[32];
  uint32_t lens[32];
  uint16_t got;
  if constexpr (Ring::kind == ring::RingKind::split) got = simd::Kernels<L>::split_reap(st, out, lens, 32);
  else got = simd::Kernels<L>::packed_reap(st, out, lens, 32);
  I::store(q.ring, st);
  CHECK(got == 32);
  for (uint16_t i = 0; i < got; ++i) {
    CHECK(out[i] == bufs[i]);
    CHECK(lens[i] == 100);
  }
  CHECK(q.ring.in_flight() == 32 - got);
  s.pool->free_bulk({out, got}, s.cache.get());
  q.ring.detach_all([&](Packet* p) { s.pool->free(p, s.cache.get()); });
}

// One case per level, tagged with it alone: a level the CPU lacks then
// skips only its own ctest (on an AVX2 machine, a case naming all three
// levels made the sse4.2 and avx2 ctests report "Skipped" for avx512's sake).
TEST_CASE("vector sse4.2 kernels reap whole groups", "[simd][vector][sse42]") {
  kernels_take_groups<simd::SplitAny, simd::SimdLevel::sse42>();
  kernels_take_groups<simd::PackedAny, simd::SimdLevel::sse42>();
}
TEST_CASE("vector avx2 kernels reap whole groups", "[simd][vector][avx2]") {
  kernels_take_groups<simd::SplitAny, simd::SimdLevel::avx2>();
  kernels_take_groups<simd::PackedAny, simd::SimdLevel::avx2>();
}
TEST_CASE("vector avx512 kernels reap whole groups", "[simd][vector][avx512]") {
  kernels_take_groups<simd::SplitAny, simd::SimdLevel::avx512>();
  kernels_take_groups<simd::PackedAny, simd::SimdLevel::avx512>();
}
