// ObjRing: capacity, FIFO order across wrap-around, all-or-nothing bulks,
// and a multi-producer/multi-consumer stress (exactly-once delivery).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>
#include <vpmd/mem/obj_ring.hpp>

using vpmd::ObjRing;

TEST_CASE("ObjRing rounds its capacity up to a power of two", "[obj_ring]") {
  CHECK(ObjRing<std::uintptr_t>(1).capacity() == 1);
  CHECK(ObjRing<std::uintptr_t>(5).capacity() == 8);
  CHECK(ObjRing<std::uintptr_t>(8).capacity() == 8);
  CHECK(ObjRing<std::uintptr_t>(8191).capacity() == 8192);
}

TEST_CASE("ObjRing bulk operations are all-or-nothing and FIFO across wrap-around", "[obj_ring]") {
  ObjRing<std::uint64_t> r(8);
  std::vector<std::uint64_t> in{1, 2, 3, 4, 5, 6};
  REQUIRE(r.enqueue_bulk(in));
  CHECK(r.count() == 6);
  CHECK_FALSE(r.enqueue_bulk(std::vector<std::uint64_t>{7, 8, 9}));  // 3 > 2 free
  CHECK(r.count() == 6);
  std::vector<std::uint64_t> out(4);
  REQUIRE(r.dequeue_bulk(out));
  CHECK(out == std::vector<std::uint64_t>{1, 2, 3, 4});
  REQUIRE(r.enqueue_bulk(std::vector<std::uint64_t>{7, 8, 9, 10, 11, 12}));  // wraps
  CHECK(r.count() == 8);
  CHECK_FALSE(r.enqueue(13));
  std::vector<std::uint64_t> too_many(9);
  CHECK_FALSE(r.dequeue_bulk(too_many));
  CHECK(r.count() == 8);
  std::vector<std::uint64_t> all(8);
  REQUIRE(r.dequeue_bulk(all));
  CHECK(all == std::vector<std::uint64_t>{5, 6, 7, 8, 9, 10, 11, 12});
  std::uint64_t x = 0;
  CHECK_FALSE(r.dequeue(x));
  CHECK(r.count() == 0);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::uint64_t per_producer = 20000;  // sanitizers slow the spinning 10-50x
#else
constexpr std::uint64_t per_producer = 200000;
#endif

TEST_CASE("ObjRing delivers every object exactly once with 2 producers and 2 consumers", "[obj_ring][threads]") {
  ObjRing<std::uint64_t> r(64);
  std::vector<std::atomic<std::uint8_t>> seen(2 * per_producer);
  std::atomic<std::uint64_t> consumed{0};
  auto producer = [&](std::uint64_t base) {
    std::uint64_t next = 0;
    std::uint64_t batch[7];
    while (next < per_producer) {
      const std::uint64_t n = std::min<std::uint64_t>(1 + next % 7, per_producer - next);
      for (std::uint64_t i = 0; i < n; ++i) batch[i] = base + next + i;
      if (r.enqueue_bulk(std::span<const std::uint64_t>(batch, n))) next += n;
    }
  };
  auto consumer = [&] {
    std::uint64_t batch[5];
    while (consumed.load(std::memory_order_relaxed) < 2 * per_producer) {
      const std::size_t n = 1 + consumed.load(std::memory_order_relaxed) % 5;
      if (!r.dequeue_bulk(std::span<std::uint64_t>(batch, n))) {
        if (r.dequeue_bulk(std::span<std::uint64_t>(batch, 1))) {
          seen[batch[0]].fetch_add(1, std::memory_order_relaxed);
          consumed.fetch_add(1, std::memory_order_relaxed);
        }
        continue;
      }
      for (std::size_t i = 0; i < n; ++i) seen[batch[i]].fetch_add(1, std::memory_order_relaxed);
      consumed.fetch_add(n, std::memory_order_relaxed);
    }
  };
  std::thread p1(producer, 0), p2(producer, per_producer), c1(consumer), c2(consumer);
  p1.join();
  p2.join();
  c1.join();
  c2.join();
  CHECK(consumed.load() == 2 * per_producer);
  std::uint64_t bad = 0;
  for (auto& s : seen) bad += s.load() != 1;
  CHECK(bad == 0);
  CHECK(r.count() == 0);
}
