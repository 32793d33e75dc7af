// Burst-path benchmark: vector vs scalar, in one process: vpmd's RX/TX bodies
// (simd/rx_burst.hpp, tx_burst.hpp) against the lean device
// (model/lean_device.hpp), stepped alternately in one thread, ns per packet.
//
//   burst.<rx|tx>.<split|packed>.<scalar|sse4.2|avx2|avx512>.b<burst>   ns/pkt
//   burst.<rx|tx>.<split|packed>.<level>.b<burst>.speedup               scalar / vector
//
// RX: the device completes `burst` buffers (76 bytes written), rx_burst takes
// them, strips the header, refills, and the packets go back to the pool.
// TX: `burst` 60-byte packets from the pool, tx_burst (header in headroom,
// reclaim), the device consumes them. Levels the CPU lacks are reported as
// skipped on stderr. Runs are interleaved (scalar, sse4.2, avx2, avx512,
// scalar, ...) `--rounds` times and the best of each kept, so a neighbour's
// build slows every path alike rather than one.
//
//   bench_burst [--packets N] [--rounds R] [--quick] [--json FILE] [--only SUBSTRING] [--level L]
//
// --level runs one level only (scalar, sse4.2, avx2, avx512): for counting
// instructions per packet under callgrind, where wall time means nothing:
// the difference of two runs cancels the setup,
//   (Ir(--packets 400000) - Ir(--packets 200000)) / 200000
// (valgrind 3.19 hides AVX-512 from the program: no avx512 count there).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "../ring/test_memory.hpp"
#include "bench_json.hpp"
#include "vpmd/model/lean_device.hpp"
#include "vpmd/simd/cpu.hpp"
#include "vpmd/simd/rx_burst.hpp"
#include "vpmd/simd/tx_burst.hpp"

using namespace vpmd;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint16_t kRing = 256;
constexpr uint16_t kHdr = 12;

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

template <class Ring, class Path>
double rx_run(uint64_t packets, uint16_t burst) {
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
  const auto t0 = Clock::now();
  while (got < packets) {
    dev.serve(burst, 64 + kHdr);
    const uint16_t n = simd::rx_burst<Ring, Path>(q, out, burst);
    if (n == 0 && q.ring.broken() != ring::Broken::none) return -1;
    rig.pool->free_bulk({out, n}, rig.cache.get());
    got += n;
  }
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  if (!dev.error().empty() || q.stats.errors != 0) return -1;
  q.ring.detach_all([&](Packet* p) { rig.pool->free(p, rig.cache.get()); });
  return ns / static_cast<double>(got);
}

template <class Ring, class Path>
double tx_run(uint64_t packets, uint16_t burst) {
  Rig<Ring> rig;
  simd::TxQueue<Ring> q(rig.make());
  q.hdr_size = kHdr;
  q.reclaim_threshold = 32;
  q.free_pool = rig.pool.get();
  q.cache = rig.cache.get();
  auto dev = device_for(q.ring);
  Packet* pkts[64];
  uint64_t sent = 0;
  const auto t0 = Clock::now();
  while (sent < packets) {
    if (!rig.pool->alloc_bulk({pkts, burst}, rig.cache.get())) return -1;
    for (uint16_t i = 0; i < burst; ++i) {
      pkts[i]->data_len = 60;
      pkts[i]->pkt_len = 60;
    }
    const uint16_t n = simd::tx_burst<Ring, Path>(q, pkts, burst);
    if (n != burst) rig.pool->free_bulk({pkts + n, static_cast<size_t>(burst - n)}, rig.cache.get());
    sent += n;
    dev.serve(burst, 0);
  }
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  if (!dev.error().empty()) return -1;
  simd::tx_reclaim<Ring, Path>(q);
  q.ring.detach_all([](Packet* p) { p->pool->free(p); });
  return ns / static_cast<double>(sent);
}

template <class Ring>
double run(const std::string& dir, simd::SimdLevel level, uint64_t packets, uint16_t burst) {
  const bool rx = dir == "rx";
  switch (level) {
    case simd::SimdLevel::scalar: return rx ? rx_run<Ring, simd::ScalarPath>(packets, burst) : tx_run<Ring, simd::ScalarPath>(packets, burst);
    case simd::SimdLevel::sse42: return rx ? rx_run<Ring, simd::VectorPath<simd::SimdLevel::sse42>>(packets, burst) : tx_run<Ring, simd::VectorPath<simd::SimdLevel::sse42>>(packets, burst);
    case simd::SimdLevel::avx2: return rx ? rx_run<Ring, simd::VectorPath<simd::SimdLevel::avx2>>(packets, burst) : tx_run<Ring, simd::VectorPath<simd::SimdLevel::avx2>>(packets, burst);
    case simd::SimdLevel::avx512: return rx ? rx_run<Ring, simd::VectorPath<simd::SimdLevel::avx512>>(packets, burst) : tx_run<Ring, simd::VectorPath<simd::SimdLevel::avx512>>(packets, burst);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t packets = 4'000'000;
  int rounds = 5;
  std::string json, only, only_level;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") packets = 100'000, rounds = 1;
    else if (a == "--packets" && i + 1 < argc) packets = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--json" && i + 1 < argc) json = argv[++i];
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--level" && i + 1 < argc) only_level = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--packets N] [--rounds R] [--quick] [--json FILE] [--only SUBSTRING] [--level L]\n", argv[0]);
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
        std::map<simd::SimdLevel, double> best_ns;
        for (int r = 0; r < rounds; ++r)
          for (auto l : levels) {
            const double v = kind == "split" ? run<simd::SplitAny>(dir, l, packets, burst) : run<simd::PackedAny>(dir, l, packets, burst);
            if (v < 0) {
              std::fprintf(stderr, "%s%s%s: the ring broke or the device saw an error\n", prefix.c_str(), simd::to_string(l), suffix.c_str());
              return 1;
            }
            if (!best_ns.count(l) || v < best_ns[l]) best_ns[l] = v;
          }
        for (auto l : levels) report.add(prefix + simd::to_string(l) + suffix, best_ns[l], "ns/pkt");
        for (auto l : levels)
          if (l != simd::SimdLevel::scalar && best_ns.count(simd::SimdLevel::scalar))
            report.add(prefix + simd::to_string(l) + suffix + ".speedup", best_ns[simd::SimdLevel::scalar] / best_ns[l], "x");
      }
  if (!json.empty() && !report.write_json(json)) {
    std::fprintf(stderr, "cannot write %s\n", json.c_str());
    return 1;
  }
  return 0;
}
