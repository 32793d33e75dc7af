// The vector burst paths (issue #8) with the device in another thread: the
// lean device serves from its own thread while this one runs rx_burst /
// tx_burst through VectorPath<level>, at every level the CPU has. Every
// packet comes back exactly once with the length the device reported, the
// ring never breaks, and (under the tsan preset, label `threads`) neither
// side races on shared memory: the kernels' acquires of used->idx and of the
// packed flags pair with the device's releases.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "../ring/test_memory.hpp"
#include "vpmd/model/lean_device.hpp"
#include "vpmd/simd/cpu.hpp"
#include "vpmd/simd/rx_burst.hpp"
#include "vpmd/simd/tx_burst.hpp"

using namespace vpmd;

namespace {

constexpr uint16_t kRing = 256;
constexpr uint16_t kHdr = 12;
constexpr uint32_t kWritten = 64 + kHdr;  // what the device reports per RX buffer
constexpr uint64_t kTotal = 60'000;

template <class Ring>
using Lean = std::conditional_t<Ring::kind == ring::RingKind::split, model::LeanSplitDevice, model::LeanPackedDevice>;

template <class Ring>
struct Rig {
  static constexpr ring::RingConfig kCfg{.size = kRing};
  std::unique_ptr<PacketPool> pool = std::move(
      PacketPool::create({.count = 2047, .cache_size = 128, .allow_small_pages = true, .name = "vector-threads"}).value());
  std::unique_ptr<PacketPool::Cache> cache = std::move(pool->make_cache().value());
  test::TestMemory mem{Ring::layout_for(kCfg).total + 4096};
  Ring make() { return std::move(Ring::create(kCfg, mem.ring()).value()); }
  Lean<Ring> device(const Ring& r) {
    const uint64_t f = Ring::kind == ring::RingKind::packed ? ring::feature::ring_packed : 0;
    return Lean<Ring>(model::QueueConfig{kRing, r.areas().desc, r.areas().driver, r.areas().device, f,
                                         model::identity_translate()});
  }
};

// Runs `serve` in a thread until told to stop.
struct DeviceThread {
  std::atomic<bool> stop{false};
  std::thread t;
  template <class Dev>
  DeviceThread(Dev& dev, uint16_t burst, uint32_t written) {
    t = std::thread([this, &dev, burst, written] {
      while (!stop.load(std::memory_order_relaxed))
        if (dev.serve(burst, written) == 0) std::this_thread::yield();
    });
  }
  ~DeviceThread() {
    stop = true;
    t.join();
  }
};

template <class Ring, simd::SimdLevel L>
void rx_two_threads(uint16_t burst) {
  using Path = simd::VectorPath<L>;
  Rig<Ring> rig;
  simd::RxQueue<Ring> q(rig.make());
  q.pool = rig.pool.get();
  q.cache = rig.cache.get();
  q.hdr_size = kHdr;
  q.post_off = static_cast<uint16_t>(rig.pool->headroom() - kHdr);
  q.post_len = rig.pool->data_room() + kHdr;
  q.refill_threshold = 1;
  simd::rx_refill<Ring, Path>(q);
  q.refill_threshold = 32;
  auto dev = rig.device(q.ring);
  REQUIRE(dev.error().empty());
  uint64_t got = 0, bad_len = 0;
  {
    DeviceThread d(dev, burst, kWritten);
    Packet* out[64];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (got < kTotal && q.ring.broken() == ring::Broken::none && std::chrono::steady_clock::now() < deadline) {
      const uint16_t n = simd::rx_burst<Ring, Path>(q, out, burst);
      for (uint16_t i = 0; i < n; ++i) bad_len += out[i]->data_len == kWritten - kHdr && out[i]->pkt_len == kWritten - kHdr ? 0 : 1;
      rig.pool->free_bulk({out, n}, rig.cache.get());
      got += n;
      if (n == 0) std::this_thread::yield();
    }
  }
  CHECK(q.ring.broken() == ring::Broken::none);
  CHECK(dev.error().empty());
  CHECK(bad_len == 0);
  CHECK(got >= kTotal);
  CHECK(q.stats.packets == got);
  CHECK(q.stats.errors == 0);
  q.ring.detach_all([&](Packet* p) { rig.pool->free(p, rig.cache.get()); });
  CHECK(rig.pool->in_use() == 0);  // every packet back exactly once
}

template <class Ring, simd::SimdLevel L>
void tx_two_threads(uint16_t burst) {
  using Path = simd::VectorPath<L>;
  Rig<Ring> rig;
  simd::TxQueue<Ring> q(rig.make());
  q.hdr_size = kHdr;
  q.reclaim_threshold = 32;
  q.free_pool = rig.pool.get();
  q.cache = rig.cache.get();
  auto dev = rig.device(q.ring);
  REQUIRE(dev.error().empty());
  uint64_t sent = 0;
  {
    DeviceThread d(dev, burst, 0);
    Packet* pkts[64];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (sent < kTotal && q.ring.broken() == ring::Broken::none && std::chrono::steady_clock::now() < deadline) {
      REQUIRE(rig.pool->alloc_bulk({pkts, burst}, rig.cache.get()));
      for (uint16_t i = 0; i < burst; ++i) pkts[i]->data_len = pkts[i]->pkt_len = 60;
      const uint16_t n = simd::tx_burst<Ring, Path>(q, pkts, burst);
      if (n != burst) rig.pool->free_bulk({pkts + n, static_cast<size_t>(burst - n)}, rig.cache.get());
      sent += n;
      if (n == 0) std::this_thread::yield();
    }
    while (q.ring.in_flight() != 0 && q.ring.broken() == ring::Broken::none && std::chrono::steady_clock::now() < deadline) {
      simd::tx_reclaim<Ring, Path>(q);  // what the device has not consumed yet
      std::this_thread::yield();
    }
  }
  CHECK(q.ring.broken() == ring::Broken::none);
  CHECK(dev.error().empty());
  CHECK(sent >= kTotal);
  CHECK(q.stats.packets == sent);
  CHECK(q.ring.in_flight() == 0);
  CHECK(dev.served() == sent);
  q.ring.detach_all([](Packet* p) { p->pool->free(p); });
  CHECK(rig.pool->in_use() == 0);
}

// Whether this CPU runs level L; if not, a visible skip naming it.
bool cpu_has(simd::SimdLevel l) {
  const auto caps = simd::detect_cpu();
  if (simd::best_level(caps) >= l) return true;
  WARN("skipped: vector level " << simd::to_string(l) << " needs a CPU with it; this one has " << simd::describe_cpu(caps));
  return false;
}

template <simd::SimdLevel L>
void all_rings() {
  if (!cpu_has(L)) return;
  for (uint16_t burst : {4, 32}) {
    INFO("level " << simd::to_string(L) << " burst " << burst);
    rx_two_threads<simd::SplitAny, L>(burst);
    rx_two_threads<simd::PackedAny, L>(burst);
    tx_two_threads<simd::SplitAny, L>(burst);
    tx_two_threads<simd::PackedAny, L>(burst);
  }
}

}  // namespace

TEST_CASE("vector sse4.2 paths with the device in another thread", "[simd][vector][threads][sse42]") {
  all_rings<simd::SimdLevel::sse42>();
}
TEST_CASE("vector avx2 paths with the device in another thread", "[simd][vector][threads][avx2]") {
  all_rings<simd::SimdLevel::avx2>();
}
TEST_CASE("vector avx512 paths with the device in another thread", "[simd][vector][threads][avx512]") {
  all_rings<simd::SimdLevel::avx512>();
}
