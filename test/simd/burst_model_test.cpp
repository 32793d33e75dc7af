// The burst bodies (simd/rx_burst.hpp, tx_burst.hpp) for all four compiled
// paths, split/packed x scalar/in-order, against the in-tree model device:
// the in-order paths cannot meet QEMU 7.2 (it never offers IN_ORDER), so this
// is where they are proven, with both IN_ORDER completion forms (one used
// entry per buffer, one per batch). Frames carry a sequence and a pattern;
// mergeable RX chains are exercised with num_buffers > 1.
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <deque>

#include "../ring/test_memory.hpp"
#include "vpmd/model/packed_device.hpp"
#include "vpmd/model/split_device.hpp"
#include "vpmd/simd/cpu.hpp"
#include "vpmd/simd/rx_burst.hpp"
#include "vpmd/simd/tx_burst.hpp"
#include "vpmd/simd/tx_watchdog.hpp"

using namespace vpmd;

namespace {

template <class Ring>
using DeviceFor = std::conditional_t<Ring::kind == ring::RingKind::split, model::SplitDevice, model::PackedDevice>;

constexpr uint16_t kHdr = 12;

std::unique_ptr<PacketPool> make_pool() {
  auto p = PacketPool::create({.count = 2047, .cache_size = 64, .allow_small_pages = true, .name = "burst-test"});
  REQUIRE(p);
  return std::move(*p);
}

template <class Ring>
struct Rig {
  ring::RingConfig cfg;
  test::TestMemory mem;
  Ring ring;
  DeviceFor<Ring> dev;
  static uint64_t dev_features(uint64_t f) {
    if (Ring::kind == ring::RingKind::packed) f |= ring::feature::ring_packed;
    if (Ring::in_order) f |= ring::feature::in_order;
    return f;
  }
  explicit Rig(uint16_t size, uint64_t features = ring::feature::indirect_desc | ring::feature::event_idx)
      : cfg{.size = size, .features = features, .indirect_entries = 8},
        mem(Ring::layout_for(cfg).total + 64),
        ring(std::move(Ring::create(cfg, mem.ring()).value())),
        dev(model::QueueConfig{size, ring.areas().desc, ring.areas().driver, ring.areas().device, dev_features(features),
                               model::identity_translate()}) {}
};

// An RX queue posting the pool's buffers with the header in the headroom,
// as the port sets one up.
template <class Ring>
void receive_from(simd::RxQueue<Ring>& q, PacketPool& pool, PacketPool::Cache* cache) {
  q.pool = &pool;
  q.cache = cache;
  q.hdr_size = kHdr;
  q.post_off = static_cast<uint16_t>(pool.headroom() - kHdr);
  q.post_len = pool.data_room() + kHdr;
}

uint8_t byte_of(uint32_t seq, uint32_t off) { return static_cast<uint8_t>(seq * 29 + off * 13); }

template <class Ring>
void rx_round_trip(bool mergeable, bool batching, bool guest_csum = false) {
  auto pool = make_pool();
  Rig<Ring> r(64);
  r.dev.set_in_order_batching(batching);
  simd::RxQueue<Ring> q(std::move(r.ring));
  auto cache = pool->make_cache();
  receive_from(q, *pool, cache->get());
  q.mergeable = mergeable;
  q.guest_csum = guest_csum;
  q.refill_threshold = 8;
  // Prime: every descriptor gets a buffer.
  q.refill_threshold = 1;
  simd::rx_refill(q);
  q.refill_threshold = 8;
  REQUIRE(q.ring.free_descriptors() == 0);

  uint32_t next_seq = 0, got_seq = 0;
  Packet* out[32];
  for (int round = 0; round < 400; ++round) {
    // The device writes frames: header (num_buffers) then data, a frame
    // spanning 1..3 buffers when mergeable.
    for (int f = 0; f < 6; ++f) {
      const uint32_t nbuf = mergeable ? 1 + (next_seq % 3) : 1;
      std::vector<model::Chain> chains(nbuf);
      bool ok = true;
      for (auto& c : chains) ok = ok && r.dev.pop_avail(c);
      if (!ok) break;  // the driver has not refilled yet: the device waits (it pushed nothing)
      const uint32_t room = static_cast<uint32_t>(chains[0].writable_bytes());
      // In-order batches report only the last buffer's length; the others
      // count as completely written (virtio-v1.2 §2.8.20), so a device that
      // batches RX fills its buffers: so does this one.
      const uint32_t frame = batching    ? nbuf * room - kHdr
                             : nbuf == 1 ? 60 + next_seq % (room - kHdr - 60)
                                         : (nbuf - 1) * room + 100 - kHdr;
      uint32_t off = 0;
      for (uint32_t b = 0; b < nbuf; ++b) {
        std::byte* p = chains[b].segs[0].data;
        uint32_t w = 0;
        if (b == 0) {
          std::memset(p, 0, kHdr);
          // DATA_VALID on even frames, negotiated or not: without
          // GUEST_CSUM the driver must not believe it (§5.1.6.4.1).
          if (next_seq % 2 == 0) p[0] = std::byte{2};
          const uint16_t nb = static_cast<uint16_t>(nbuf);
          std::memcpy(p + 10, &nb, 2);
          w = kHdr;
        }
        for (; w < room && off < frame; ++w, ++off) p[w] = std::byte{byte_of(next_seq, off)};
        r.dev.push_used(chains[b], w);
      }
      ++next_seq;
    }
    r.dev.publish();
    REQUIRE(r.dev.driver_error() == "");
    REQUIRE(r.dev.model_error() == "");
    for (uint16_t n; (n = simd::rx_burst(q, out, 32)) != 0;) {
      for (uint16_t i = 0; i < n; ++i) {
        uint32_t off = 0;
        bool same = true;
        for (Packet* s = out[i]; s != nullptr; s = s->next)
          for (uint16_t k = 0; k < s->data_len; ++k, ++off) same = same && static_cast<uint8_t>(s->data()[k]) == byte_of(got_seq, off);
        REQUIRE(off == out[i]->pkt_len);
        REQUIRE(same);
        CHECK(((out[i]->ol_flags & ol::rx_csum_good) != 0) == (guest_csum && got_seq % 2 == 0));
        REQUIRE(out[i]->nb_segs == (mergeable ? 1 + got_seq % 3 : 1));
        ++got_seq;
      }
      pool->free_bulk({out, n});
    }
  }
  CHECK(got_seq == next_seq);
  CHECK(next_seq > 1000);
  CHECK(q.stats.packets == got_seq);
  CHECK(q.stats.errors == 0);
  CHECK(q.ring.broken() == ring::Broken::none);
  q.ring.detach_all([&](Packet* p) { pool->free(p, q.cache); });
  CHECK(pool->in_use() == 0);
}

template <class Ring>
void tx_round_trip(bool batching) {
  auto pool = make_pool();
  Rig<Ring> r(64);
  r.dev.set_in_order_batching(batching);
  simd::TxQueue<Ring> q(std::move(r.ring));
  q.hdr_size = kHdr;
  q.reclaim_threshold = 16;
  q.free_pool = pool.get();
  auto cache = pool->make_cache();
  q.cache = cache->get();
  test::TestMemory slots(64 * kHdr);
  q.hdr_slots = slots.data();
  q.hdr_slots_iova = reinterpret_cast<uint64_t>(slots.data());
  uint32_t seq = 0, seen = 0;
  std::deque<model::Chain> held;
  for (int round = 0; round < 300; ++round) {
    Packet* pkts[16];
    uint16_t n = 0;
    for (; n < 16; ++n) {
      Packet* p = pool->alloc();
      if (p == nullptr) {
        FAIL("pool empty");
        return;
      }
      const uint32_t len = 60 + (seq + n) % 1400;
      if ((seq + n) % 7 == 3) p->data_off = 0;  // no headroom: the header gets a descriptor of its own
      std::byte* d = p->append(static_cast<uint16_t>(std::min<uint32_t>(len, p->tailroom())));
      for (uint32_t k = 0; k < p->data_len; ++k) d[k] = std::byte{byte_of(seq + n, k)};
      if ((seq + n) % 5 == 0) {  // every fifth packet is a two-segment chain
        Packet* tail = pool->alloc();
        if (tail == nullptr) {
          FAIL("pool empty");
          return;
        }
        std::byte* t = tail->append(100);
        for (uint32_t k = 0; k < 100; ++k) t[k] = std::byte{byte_of(seq + n, p->data_len + k)};
        REQUIRE(p->chain(tail));
      }
      pkts[n] = p;
    }
    const uint16_t sent = simd::tx_burst(q, pkts, n);
    for (uint16_t i = sent; i < n; ++i) pool->free(pkts[i]);
    seq += sent;
    // The device reads every frame: header first (12 zero bytes), then data.
    model::Chain c;
    while (r.dev.pop_avail(c)) {
      std::vector<uint8_t> bytes;
      for (auto& s : c.segs)
        for (uint32_t k = 0; k < s.len; ++k) bytes.push_back(static_cast<uint8_t>(s.data[k]));
      REQUIRE(bytes.size() > kHdr);
      for (int k = 0; k < kHdr; ++k) REQUIRE(bytes[k] == 0);
      for (size_t k = kHdr; k < bytes.size(); ++k) REQUIRE(bytes[k] == byte_of(seen, static_cast<uint32_t>(k - kHdr)));
      ++seen;
      r.dev.push_used(c, 0);
    }
    r.dev.publish();
    REQUIRE(r.dev.driver_error() == "");
  }
  CHECK(seen == seq);
  CHECK(seq > 1000);
  CHECK(q.stats.packets == seq);
  simd::tx_reclaim(q);
  q.ring.detach_all([&](Packet* p) { pool->free(p); });
  CHECK(pool->in_use() == 0);
}

// Reclaim is spread over the bursts (at most max(reclaim_batch, n) per
// burst once few descriptors are free), and the watchdog notifies a device
// that completed nothing over two upkeeps while packets waited, as when
// QEMU 7.2 misses a notification (tx_watchdog.hpp). The doorbell is a real
// eventfd, so every notification is counted by the kernel, not by us.
template <class Ring>
void tx_watchdog_and_capped_reclaim() {
  auto pool = make_pool();
  Rig<Ring> r(64);
  simd::TxQueue<Ring> q(std::move(r.ring));
  q.hdr_size = kHdr;
  q.free_pool = pool.get();
  q.reclaim_threshold = 16;
  q.reclaim_batch = 4;
  const int efd = ::eventfd(0, EFD_NONBLOCK);
  REQUIRE(efd >= 0);
  q.doorbell.kind = simd::Doorbell::Kind::eventfd;
  q.doorbell.fd = efd;
  auto notified = [&] {
    uint64_t v = 0;
    return ::read(efd, &v, sizeof v) == sizeof v ? v : 0;
  };
  auto send = [&](uint16_t n) {
    Packet* pkts[64] = {};
    for (uint16_t i = 0; i < n; ++i) {
      pkts[i] = pool->alloc();
      REQUIRE(pkts[i] != nullptr);
      pkts[i]->append(60);
    }
    const uint16_t sent = simd::tx_burst(q, pkts, n);
    for (uint16_t i = sent; i < n; ++i) pool->free(pkts[i]);
    return sent;
  };
  auto device_completes = [&](uint32_t max) {
    model::Chain c;
    for (uint32_t i = 0; i < max && r.dev.pop_avail(c); ++i) r.dev.push_used(c, 0);
    r.dev.publish();
  };
  simd::TxWatchdog dog;

  // Nothing in flight: the watchdog stays quiet however often it runs.
  for (int i = 0; i < 4; ++i) CHECK_FALSE(dog.upkeep(q));
  CHECK(notified() == 0);

  // 50 in flight, the device idle (it "missed" the notification): quiet on
  // the first upkeep, one notification on the second, counted.
  REQUIRE(send(50) == 50);
  (void)notified();  // whatever the burst itself rang
  CHECK_FALSE(dog.upkeep(q));
  CHECK(dog.upkeep(q));
  CHECK(notified() == 1);
  CHECK(q.stats.renotifies == 1);
  // Still nothing completes: the next notification waits twice as long.
  for (int i = 0; i < 3; ++i) CHECK_FALSE(dog.upkeep(q));
  CHECK(dog.upkeep(q));
  CHECK(notified() == 1);
  CHECK(q.stats.renotifies == 2);

  // The device completes 10: the next upkeep reaps them, nothing is rung.
  device_completes(10);
  CHECK_FALSE(dog.upkeep(q));
  CHECK(notified() == 0);
  CHECK(q.ring.in_flight() == 40);

  // Capped reclaim: with 24 free, a burst of 10 reaps nothing (24 is not
  // below max(threshold, 10)); then, everything completed and 14 free, a
  // burst of 1 reaps reclaim_batch (4) and no more.
  REQUIRE(send(10) == 10);
  CHECK(q.ring.free_descriptors() == 14);
  device_completes(UINT32_MAX);
  REQUIRE(send(1) == 1);
  CHECK(q.ring.free_descriptors() == 14 + 4 - 1);
  // A burst of 20 reaps 20: it needs the room.
  REQUIRE(send(20) == 20);
  CHECK(q.ring.free_descriptors() == 17);

  // A busy queue: each burst reaps what the device completed, so an upkeep
  // finds nothing to reap while packets wait, and must still stay quiet.
  for (int i = 0; i < 4; ++i) {
    device_completes(UINT32_MAX);
    REQUIRE(send(40) == 40);  // reaps (17 free < 40) and refills
    CHECK(q.ring.in_flight() != 0);
    CHECK_FALSE(dog.upkeep(q));
  }
  CHECK(q.stats.renotifies == 2);

  // Everything completes; the watchdog reaps it all and stays quiet.
  device_completes(UINT32_MAX);
  (void)notified();
  CHECK_FALSE(dog.upkeep(q));
  CHECK(q.ring.in_flight() == 0);
  CHECK(notified() == 0);
  CHECK(q.stats.renotifies == 2);
  q.ring.detach_all([&](Packet* p) { pool->free(p); });
  CHECK(pool->in_use() == 0);
  ::close(efd);
}

}  // namespace

TEMPLATE_TEST_CASE("RX burst path against the model: frames, mergeable chains, refill", "[simd][rx]", simd::SplitAny,
                   simd::SplitInOrder, simd::PackedAny, simd::PackedInOrder) {
  for (bool mergeable : {false, true})
    for (bool batching : {false, true}) {
      if (batching && !TestType::in_order) continue;
      for (bool csum : {false, true}) {
        INFO("mergeable " << mergeable << " batching " << batching << " guest_csum " << csum);
        rx_round_trip<TestType>(mergeable, batching, csum);
      }
    }
}

TEMPLATE_TEST_CASE("TX burst path against the model: header in headroom, chains, reclaim", "[simd][tx]", simd::SplitAny,
                   simd::SplitInOrder, simd::PackedAny, simd::PackedInOrder) {
  for (bool batching : {false, true}) {
    if (batching && !TestType::in_order) continue;
    INFO("batching " << batching);
    tx_round_trip<TestType>(batching);
  }
}

// A packet without headroom takes the header slot of the descriptor the
// next add would use (TxQueue::hdr_slots, keyed on next_id()); on a full
// ring that names no free descriptor (a buffer in flight, or the split free
// queue's sentinel), so tx_burst must stop before touching any slot.
TEMPLATE_TEST_CASE("TX on a full ring leaves the header slots alone", "[simd][tx]", simd::SplitAny, simd::SplitInOrder,
                   simd::PackedAny, simd::PackedInOrder) {
  auto pool = make_pool();
  Rig<TestType> r(8);
  simd::TxQueue<TestType> q(std::move(r.ring));
  q.hdr_size = kHdr;
  q.free_pool = pool.get();
  auto cache = pool->make_cache();
  q.cache = cache->get();
  test::TestMemory slots(9 * kHdr);  // one past the ring: the sentinel's slot too
  std::memset(slots.data(), 0xab, 9 * kHdr);
  q.hdr_slots = slots.data();
  q.hdr_slots_iova = reinterpret_cast<uint64_t>(slots.data());
  Packet* pkts[8];
  for (Packet*& p : pkts) {
    p = pool->alloc();
    REQUIRE(p != nullptr);
    REQUIRE(p->append(60) != nullptr);
  }
  REQUIRE(simd::tx_burst(q, pkts, 8) == 8);  // headroom: no slot used; the ring is full
  Packet* bare = pool->alloc();
  REQUIRE(bare != nullptr);
  bare->data_off = 0;  // no headroom
  REQUIRE(bare->append(60) != nullptr);
  CHECK(simd::tx_burst(q, &bare, 1) == 0);
  for (size_t k = 0; k < 9 * kHdr; ++k) REQUIRE(static_cast<uint8_t>(slots.data()[k]) == 0xab);
  pool->free(bare);
  q.ring.detach_all([&](Packet* p) { pool->free(p); });
}

TEMPLATE_TEST_CASE("TX reclaim is capped per burst and the watchdog notifies a device that missed a notification",
                   "[simd][tx]", simd::SplitAny, simd::SplitInOrder, simd::PackedAny, simd::PackedInOrder) {
  tx_watchdog_and_capped_reclaim<TestType>();
}

namespace {

// A receiver that frees each burst through the queue's cache before the next
// refill gets its buffers back in the order the free queue (or, in order,
// the ring) gives back their descriptors: each returns to the descriptor it
// left, and the refill must not store that descriptor again
// (SplitRing::set_desc, Post::split_runs), so that its cache line stays
// shared with the device's core. After two laps the descriptor table is made
// read-only: a store to it then kills the test (SIGSEGV), and Catch reports
// the failure.
template <class Ring, class Path>
void rx_descriptors_stay_put() {
  auto pool = make_pool();
  Rig<Ring> r(256, 0);
  auto* const table = reinterpret_cast<std::byte*>(r.ring.areas().desc);
  REQUIRE(reinterpret_cast<uintptr_t>(table) % 4096 == 0);  // 256 x 16 bytes: one page of its own
  simd::RxQueue<Ring> q(std::move(r.ring));
  auto cache = pool->make_cache();
  receive_from(q, *pool, cache->get());
  q.refill_threshold = 32;
  simd::rx_refill_now<Ring, Path>(q);
  REQUIRE(q.ring.free_descriptors() == 0);
  uint64_t got = 0;
  Packet* out[32];
  const auto bursts = [&](int count) {
    for (int b = 0; b < count; ++b) {
      for (int f = 0; f < 32; ++f) {  // 32 frames of 60 bytes, completed in order
        model::Chain c;
        REQUIRE(r.dev.pop_avail(c));
        std::memset(c.segs[0].data, 0, kHdr);
        r.dev.push_used(c, kHdr + 60);
      }
      r.dev.publish();
      const uint16_t n = simd::rx_burst<Ring, Path>(q, out, 32);
      REQUIRE(n == 32);
      got += n;
      pool->free_bulk({out, n}, q.cache);
    }
  };
  bursts(16);  // two laps
  REQUIRE(::mprotect(table, 4096, PROT_READ) == 0);
  bursts(24);
  REQUIRE(::mprotect(table, 4096, PROT_READ | PROT_WRITE) == 0);
  CHECK(got == 40 * 32);
  CHECK(q.ring.broken() == ring::Broken::none);
  REQUIRE(r.dev.driver_error() == "");
  q.ring.detach_all([&](Packet* p) { pool->free(p, q.cache); });
  CHECK(pool->in_use() == 0);
}

}  // namespace

TEMPLATE_TEST_CASE("RX: a buffer back on its own descriptor is not stored again", "[simd][rx][desc]", simd::SplitAny,
                   simd::SplitInOrder) {
  rx_descriptors_stay_put<TestType, simd::ScalarPath>();
}

// The vector kernels serve the any-order rings.
TEST_CASE("RX vector paths: a buffer back on its own descriptor is not stored again", "[simd][rx][desc]") {
  const auto caps = simd::detect_cpu();
  for (auto l : {simd::SimdLevel::sse42, simd::SimdLevel::avx2, simd::SimdLevel::avx512}) {
    if (l > simd::best_level(caps)) {
      WARN("vector level " << simd::to_string(l) << " not run: the CPU has " << simd::describe_cpu(caps));
      continue;
    }
    INFO("vector level " << simd::to_string(l));
    switch (l) {
      case simd::SimdLevel::sse42: rx_descriptors_stay_put<simd::SplitAny, simd::VectorPath<simd::SimdLevel::sse42>>(); break;
      case simd::SimdLevel::avx2: rx_descriptors_stay_put<simd::SplitAny, simd::VectorPath<simd::SimdLevel::avx2>>(); break;
      default: rx_descriptors_stay_put<simd::SplitAny, simd::VectorPath<simd::SimdLevel::avx512>>(); break;
    }
  }
}
