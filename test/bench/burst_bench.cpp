// Burst-path benchmark: vector vs scalar, in one process: vpmd's RX/TX bodies
// (simd/rx_burst.hpp, tx_burst.hpp), called through the library's dispatch
// table (simd::burst_ops, as a port binds them), against the lean device
// (model/lean_device.hpp), stepped alternately in one thread, ns per packet.
//
//   burst.<rx|tx>.<split|packed>.<scalar|sse4.2|avx2|avx512>.b<burst>   ns/pkt
//   burst.<rx|tx>.<split|packed>.<level>.b<burst>.speedup               scalar / vector
//   burst.<rx|tx>.<split|packed>.<level>.b<burst>.driver                ns/pkt
//   burst.<rx|tx>.<split|packed>.<level>.b<burst>.driver.speedup        scalar / vector
//
// The first two time the whole loop (device, driver, the app's pool calls);
// the .driver rows only the rx_burst / tx_burst calls, where the paths
// differ: TSC ticks read around each call (lfence on both sides, so the
// call's instructions neither start before the first read nor retire after
// the second), less the cost of an empty pair measured at start, converted
// to ns with the TSC rate seen against steady_clock over the same run (ns,
// not cycles: comparable with the total rows, and the TSC does not tick at
// the core clock anyway; the speedups are ratios either way). A call the
// scheduler interrupted (over 2^18 ticks, some 70 us, where a burst takes
// under 2 us) is left out with its packets: on a shared machine one
// preemption would outweigh thousands of bursts.
//
// RX: the device completes `burst` buffers (76 bytes written), rx_burst takes
// them, strips the header, refills, and the packets go back to the pool.
// TX: `burst` 60-byte packets from the pool, tx_burst (header in headroom,
// reclaim), the device consumes them. Levels the CPU lacks are reported as
// skipped on stderr. Runs are interleaved (scalar, sse4.2, avx2, avx512,
// scalar, ...) `--rounds` times and the best of each kept (--median: the
// median), so a neighbour's build slows every path alike rather than one.
//
//   bench_burst [--packets N] [--rounds R] [--quick] [--json FILE] [--only SUBSTRING] [--level L] [--median]
//
// --level runs one level only (scalar, sse4.2, avx2, avx512): for counting
// instructions per packet under callgrind, where wall time means nothing:
// the difference of two runs cancels the setup,
//   (Ir(--packets 400000) - Ir(--packets 200000)) / 200000
// (valgrind 3.19 hides AVX-512 from the program: no avx512 count there).
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "../ring/test_memory.hpp"
#include "bench_json.hpp"
#include "vpmd/model/lean_device.hpp"
#include "vpmd/simd/cpu.hpp"
#include "vpmd/simd/burst_ops.hpp"
#include "vpmd/simd/rx_burst.hpp"
#include "vpmd/simd/tx_burst.hpp"

using namespace vpmd;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint16_t kRing = 256;
constexpr uint16_t kHdr = 12;

// One timed driver call: the fences keep the call's instructions between
// the two reads (and the device's or the pool's out of them).
[[gnu::always_inline]] inline uint64_t tsc_begin() noexcept {
  _mm_lfence();
  const uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}
[[gnu::always_inline]] inline uint64_t tsc_end() noexcept {
  _mm_lfence();
  return __rdtsc();
}

// Ticks an empty begin/end pair costs (the least of many): taken off every call.
uint64_t tsc_pair_cost() {
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 20000; ++i) {
    const uint64_t t0 = tsc_begin();
    asm volatile("" ::: "memory");
    best = std::min(best, tsc_end() - t0);
  }
  return best;
}
const uint64_t kPairCost = tsc_pair_cost();
constexpr uint64_t kPreempted = uint64_t{1} << 18;

// The driver calls' ticks, less the calls the scheduler interrupted.
struct DriverTicks {
  uint64_t ticks = 0, calls = 0, pkts = 0;
  void add(uint64_t t, uint16_t n) noexcept {
    if (t >= kPreempted) [[unlikely]] return;
    ticks += t;
    ++calls;
    pkts += n;
  }
};

// ns per packet: the whole loop and the driver's calls alone.
struct Figures {
  double total = -1, driver = -1;
};

// Driver ticks to ns, at the TSC rate seen over the run's wall time.
Figures figures(Clock::time_point t0, uint64_t tsc0, const DriverTicks& d, uint64_t pkts) {
  const uint64_t ticks = __rdtsc() - tsc0;
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  const double net = static_cast<double>(d.ticks) - static_cast<double>(d.calls * kPairCost);
  return {ns / static_cast<double>(pkts), net * (ns / static_cast<double>(ticks)) / static_cast<double>(d.pkts)};
}

template <class Ring>
using Lean = std::conditional_t<Ring::kind == ring::RingKind::split, model::LeanSplitDevice, model::LeanPackedDevice>;

template <class Ring>
struct Rig {
  static constexpr ring::RingConfig kCfg{.size = kRing};
  std::unique_ptr<PacketPool> pool = std::move(
      PacketPool::create({.count = 4095, .cache_size = 256, .allow_small_pages = true, .name = "bench-burst"}).value());
  std::unique_ptr<PacketPool::Cache> cache = std::move(pool->make_cache().value());
  test::TestMemory mem{Ring::layout_for(kCfg).total + 4096};
  Ring make() { return std::move(Ring::create(kCfg, mem.ring()).value()); }
};

template <class Ring>
Lean<Ring> device_for(const Ring& r) {
  const uint64_t f = Ring::kind == ring::RingKind::packed ? ring::feature::ring_packed : 0;
  return Lean<Ring>(model::QueueConfig{kRing, r.areas().desc, r.areas().driver, r.areas().device, f, model::identity_translate()});
}

// The library's compiled burst functions for this ring and path, as a port
// binds them (one indirect call per burst): the bench times what users run,
// not a copy inlined into this translation unit.
template <class Ring, class Path>
simd::BurstOps library_ops() {
  return simd::burst_ops(Ring::kind, Path::vector ? simd::Policy::vector : simd::Policy::scalar, Path::level);
}

template <class Ring, class Path>
Figures rx_run(uint64_t packets, uint16_t burst) {
  const simd::BurstOps ops = library_ops<Ring, Path>();
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
  auto dev = device_for(q.ring);
  Packet* out[64];
  uint64_t got = 0;
  DriverTicks drv;
  const auto t0 = Clock::now();
  const uint64_t tsc0 = __rdtsc();
  while (got < packets) {
    dev.serve(burst, 64 + kHdr);
    const uint64_t c0 = tsc_begin();
    const uint16_t n = ops.rx(&q, out, burst);
    drv.add(tsc_end() - c0, n);
    if (n == 0 && q.ring.broken() != ring::Broken::none) return {};
    rig.pool->free_bulk({out, n}, rig.cache.get());
    got += n;
  }
  const Figures f = figures(t0, tsc0, drv, got);
  if (!dev.error().empty() || q.stats.errors != 0) return {};
  q.ring.detach_all([&](Packet* p) { rig.pool->free(p, rig.cache.get()); });
  return f;
}

template <class Ring, class Path>
Figures tx_run(uint64_t packets, uint16_t burst) {
  const simd::BurstOps ops = library_ops<Ring, Path>();
  Rig<Ring> rig;
  simd::TxQueue<Ring> q(rig.make());
  q.hdr_size = kHdr;
  q.reclaim_threshold = 32;
  q.free_pool = rig.pool.get();
  q.cache = rig.cache.get();
  auto dev = device_for(q.ring);
  Packet* pkts[64];
  uint64_t sent = 0;
  DriverTicks drv;
  const auto t0 = Clock::now();
  const uint64_t tsc0 = __rdtsc();
  while (sent < packets) {
    if (!rig.pool->alloc_bulk({pkts, burst}, rig.cache.get())) return {};
    for (uint16_t i = 0; i < burst; ++i) {
      pkts[i]->data_len = 60;
      pkts[i]->pkt_len = 60;
    }
    const uint64_t c0 = tsc_begin();
    const uint16_t n = ops.tx(&q, pkts, burst);
    drv.add(tsc_end() - c0, n);
    if (n != burst) rig.pool->free_bulk({pkts + n, static_cast<size_t>(burst - n)}, rig.cache.get());
    sent += n;
    dev.serve(burst, 0);
  }
  const Figures f = figures(t0, tsc0, drv, sent);
  if (!dev.error().empty()) return {};
  simd::tx_reclaim<Ring, Path>(q);
  q.ring.detach_all([](Packet* p) { p->pool->free(p); });
  return f;
}

template <class Ring>
Figures run(const std::string& dir, simd::SimdLevel level, uint64_t packets, uint16_t burst) {
  const bool rx = dir == "rx";
  switch (level) {
    case simd::SimdLevel::scalar: return rx ? rx_run<Ring, simd::ScalarPath>(packets, burst) : tx_run<Ring, simd::ScalarPath>(packets, burst);
    case simd::SimdLevel::sse42: return rx ? rx_run<Ring, simd::VectorPath<simd::SimdLevel::sse42>>(packets, burst) : tx_run<Ring, simd::VectorPath<simd::SimdLevel::sse42>>(packets, burst);
    case simd::SimdLevel::avx2: return rx ? rx_run<Ring, simd::VectorPath<simd::SimdLevel::avx2>>(packets, burst) : tx_run<Ring, simd::VectorPath<simd::SimdLevel::avx2>>(packets, burst);
    case simd::SimdLevel::avx512: return rx ? rx_run<Ring, simd::VectorPath<simd::SimdLevel::avx512>>(packets, burst) : tx_run<Ring, simd::VectorPath<simd::SimdLevel::avx512>>(packets, burst);
  }
  return {};
}

// The best (least) or the median of one figure over the rounds.
double pick(std::vector<double> v, bool median) {
  std::sort(v.begin(), v.end());
  return median ? v[v.size() / 2] : v.front();
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t packets = 4'000'000;
  int rounds = 5;
  std::string json, only, only_level;
  bool median = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") packets = 100'000, rounds = 1;
    else if (a == "--packets" && i + 1 < argc) packets = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--json" && i + 1 < argc) json = argv[++i];
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--level" && i + 1 < argc) only_level = argv[++i];
    else if (a == "--median") median = true;
    else {
      std::fprintf(stderr, "usage: %s [--packets N] [--rounds R] [--quick] [--json FILE] [--only SUBSTRING] [--level L] [--median]\n", argv[0]);
      return 2;
    }
  }
  const simd::SimdLevel best = simd::best_level(simd::detect_cpu());
  std::vector<simd::SimdLevel> levels{simd::SimdLevel::scalar};
  for (auto l : {simd::SimdLevel::sse42, simd::SimdLevel::avx2, simd::SimdLevel::avx512}) {
    if (l <= best) levels.push_back(l);
    else std::fprintf(stderr, "skipped: level %s (CPU: %s)\n", simd::to_string(l), simd::describe_cpu(simd::detect_cpu()));
  }
  if (!only_level.empty()) {
    std::vector<simd::SimdLevel> kept;
    for (auto l : levels)
      if (only_level == simd::to_string(l)) kept.push_back(l);
    if (kept.empty()) {
      std::fprintf(stderr, "skipped: level %s is not one this CPU runs (CPU: %s)\n", only_level.c_str(),
                   simd::describe_cpu(simd::detect_cpu()));
      return 0;
    }
    levels = kept;
  }
  bench::Report report;
  for (const std::string dir : {"rx", "tx"})
    for (const std::string kind : {"split", "packed"})
      for (uint16_t burst : {32, 64}) {
        const std::string prefix = "burst." + dir + "." + kind + ".";
        const std::string suffix = ".b" + std::to_string(burst);
        // --only matches "burst.rx.split.b32" (the row names without the level)
        if (!only.empty() && (prefix + suffix.substr(1)).find(only) == std::string::npos) continue;
        std::map<simd::SimdLevel, std::vector<double>> totals, drivers;
        for (int r = 0; r < rounds; ++r)
          for (auto l : levels) {
            const Figures v = kind == "split" ? run<simd::SplitAny>(dir, l, packets, burst) : run<simd::PackedAny>(dir, l, packets, burst);
            if (v.total < 0) {
              std::fprintf(stderr, "%s%s%s: the ring broke or the device saw an error\n", prefix.c_str(), simd::to_string(l), suffix.c_str());
              return 1;
            }
            totals[l].push_back(v.total);
            drivers[l].push_back(v.driver);
          }
        // Each figure's own best (or median) round: total and driver rows
        // need not come from the same round.
        std::map<simd::SimdLevel, double> total, driver;
        for (auto l : levels) total[l] = pick(totals[l], median), driver[l] = pick(drivers[l], median);
        const bool has_scalar = total.count(simd::SimdLevel::scalar) != 0;
        for (auto l : levels) {
          const std::string row = prefix + simd::to_string(l) + suffix;
          report.add(row, total[l], "ns/pkt");
          if (l != simd::SimdLevel::scalar && has_scalar) report.add(row + ".speedup", total[simd::SimdLevel::scalar] / total[l], "x");
          report.add(row + ".driver", driver[l], "ns/pkt");
          if (l != simd::SimdLevel::scalar && has_scalar)
            report.add(row + ".driver.speedup", driver[simd::SimdLevel::scalar] / driver[l], "x");
        }
      }
  if (!json.empty() && !report.write_json(json)) {
    std::fprintf(stderr, "cannot write %s\n", json.c_str());
    return 1;
  }
  return 0;
}
