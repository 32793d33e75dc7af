// Two threads share a pool: one allocates (through its cache) and hands the
// packets to the other over a queue; the other checks and frees them
// (through its own cache); a third polls in_use(). Every packet must arrive
// once, intact, and the pool must be whole at the end. 10^7 packets by
// default; fewer under sanitizers, or VPMD_POOL_THREADS_OBJECTS=N.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>
#include <vpmd/mem/packet_pool.hpp>

using namespace vpmd;

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::uint64_t default_objects = 1'000'000;
constexpr const char* default_why = " (sanitizer build: 10^6 instead of 10^7)";
#else
constexpr std::uint64_t default_objects = 10'000'000;
constexpr const char* default_why = "";
#endif

std::uint64_t objects_to_pass() {
  if (const char* env = std::getenv("VPMD_POOL_THREADS_OBJECTS")) {
    const std::uint64_t n = std::strtoull(env, nullptr, 10);
    if (n > 0) return n;
  }
  return default_objects;
}

}  // namespace

TEST_CASE("PacketPool: one thread allocates, another frees, every packet seen once", "[pool][threads]") {
  const std::uint64_t total = objects_to_pass();
  WARN("passing " << total << " packets between two threads" << default_why);
  PoolConfig c;
  c.count = 2048;
  c.cache_size = 256;
  c.page = PageSize::small_4k;
  c.allow_small_pages = true;
  c.name = "test-threads";
  auto made = PacketPool::create(c);
  REQUIRE(made.ok());
  PacketPool& pool = *made.value();

  ObjRing<Packet*> queue(512);
  std::atomic<bool> producer_failed{false};
  std::uint64_t received = 0, out_of_order = 0, corrupted = 0, foreign = 0;
  std::unordered_set<Packet*> distinct;

  // A third thread reads in_use() throughout: it must be race-free (TSan)
  // and never report more than the pool holds.
  std::atomic<bool> done{false};
  std::uint64_t polls = 0, out_of_range = 0;
  std::thread monitor([&] {
    while (!done.load(std::memory_order_relaxed)) {
      out_of_range += pool.in_use() > pool.capacity();
      ++polls;
      std::this_thread::sleep_for(std::chrono::microseconds(50));  // 2 CPUs: leave them to the others
    }
  });

  std::thread consumer([&] {
    auto cache = pool.make_cache();
    if (!cache.ok()) return;
    Packet* batch[32];
    std::uint64_t expect = 0;
    while (expect < total && !producer_failed.load(std::memory_order_relaxed)) {
      std::size_t n = 32;
      while (n > 0 && !queue.dequeue_bulk(std::span<Packet*>(batch, n))) n = n > 1 ? n / 2 : 0;
      if (n == 0) continue;
      for (std::size_t i = 0; i < n; ++i) {
        Packet* p = batch[i];
        foreign += !pool.owns(p);
        out_of_order += p->userdata != expect;
        std::uint64_t stamp = 0;
        std::memcpy(&stamp, p->data(), sizeof(stamp));
        corrupted += stamp != expect || p->data_len != sizeof(stamp);
        distinct.insert(p);
        ++expect;
      }
      pool.free_bulk(std::span<Packet* const>(batch, n), cache->get());
      received += n;
    }
  });

  {
    auto cache = pool.make_cache();
    REQUIRE(cache.ok());
    Packet* batch[32];
    std::uint64_t seq = 0;
    while (seq < total) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(1 + seq % 32, total - seq));
      if (!pool.alloc_bulk(std::span<Packet*>(batch, n), cache->get())) continue;  // consumer holds them: retry
      for (std::size_t i = 0; i < n; ++i) {
        Packet* p = batch[i];
        if (p->nb_segs != 1 || p->data_len != 0 || p->data_off != pool.headroom()) producer_failed = true;
        p->userdata = seq + i;
        std::uint64_t stamp = seq + i;
        if (std::byte* d = p->append(sizeof(stamp)); d != nullptr)
          std::memcpy(d, &stamp, sizeof(stamp));
        else
          producer_failed = true;
      }
      while (!queue.enqueue_bulk(std::span<Packet* const>(batch, n))) {
      }
      seq += n;
    }
  }
  consumer.join();
  done = true;
  monitor.join();
  INFO("in_use() polls from a third thread: " << polls);
  CHECK(out_of_range == 0);
  CHECK_FALSE(producer_failed.load());
  CHECK(received == total);
  CHECK(out_of_order == 0);
  CHECK(corrupted == 0);
  CHECK(foreign == 0);
  INFO("distinct packets seen: " << distinct.size());
  CHECK(distinct.size() <= c.count);
  // The ring is FIFO, so with enough traffic every object goes round: all
  // of them must have been seen (not just what one cache holds).
  if (total >= 100ull * c.count) {
    CHECK(distinct.size() == c.count);
  } else {
    CHECK(distinct.size() > c.cache_size + 32);
  }
  CHECK(pool.in_use() == 0);
  CHECK(pool.lost_frees() == 0);
}
