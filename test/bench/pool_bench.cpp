// bench_pool: PacketPool alloc+free cost in ns per object, bulk 32.
// Two kinds of free, each beside the DPDK call that does the same work:
//   pool_*  alloc_bulk + put_bulk: no packet is read or written, only pointers
//           move (DPDK: rte_mempool_get_bulk + rte_mempool_put_bulk)
//   api_*   alloc_bulk + free_bulk: free restores the free-packet invariant, so
//           it reads each packet's line 0 (DPDK: rte_pktmbuf_alloc_bulk, which
//           writes lines 0 and 1 of each mbuf, + rte_pktmbuf_free_bulk, which
//           reads them)
// Rows:
//   {pool,api}_cache_bulk32_1t    one thread, through a cache of 256
//   {pool,api}_nocache_bulk32_1t  the same straight on the lock-free ring
//   {pool,api}_cache_bulk32_2t    thread A allocs 32, hands them over an SPSC queue to
//                                 thread B which frees them; each with its own cache
//   objring_bulk32_1t             the pool's ring alone (ObjRing dequeue+enqueue of 32
//                                 pointers, 8192 slots; DPDK: rte_ring MP/MC, same size)
// dpdk_mempool_peer.c does the same work with rte_mempool (same row names,
// same queue), so test/bench/pool-compare can put them side by side.
// Output: one `name value unit` line per figure; --json FILE writes the same.
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <thread>
#include <vector>
#include <vpmd/mem/packet_pool.hpp>

using namespace vpmd;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t pool_count = 8191;  // as the DPDK peer: a 8192-slot ring
constexpr std::uint32_t bulk = 32;

struct Figure {
  std::string name;
  double value;
  const char* unit;
};

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);  // best effort
}

double ns_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

// How the benchmark gives packets back: put_bulk (nothing touched) or
// free_bulk (the free-packet invariant checked and kept).
enum class Give { put, free };

template <Give G>
void give(PacketPool& pool, std::span<Packet* const> objs, PacketPool::Cache* cache) {
  if constexpr (G == Give::put) pool.put_bulk(objs, cache);
  else pool.free_bulk(objs, cache);
}

// Single thread: alloc a bulk, free it, repeat.
template <Give G>
double one_thread(PacketPool& pool, PacketPool::Cache* cache, std::uint64_t iters) {
  Packet* objs[bulk];
  for (std::uint64_t i = 0; i < iters / 16; ++i) {  // warm-up
    if (pool.alloc_bulk(objs, cache)) give<G>(pool, objs, cache);
  }
  std::uint64_t failed = 0;
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < iters; ++i) {
    if (!pool.alloc_bulk(objs, cache)) [[unlikely]] {
      ++failed;
      continue;
    }
    give<G>(pool, objs, cache);
  }
  const double ns = ns_since(t0);
  if (failed != 0) std::fprintf(stderr, "bench_pool: %llu allocations failed\n", static_cast<unsigned long long>(failed));
  return ns / static_cast<double>(iters * bulk);
}

// The hand-over queue of the two-thread row: single producer, single
// consumer, bulks of 32. The DPDK peer has the same one in C.
struct Spsc {
  static constexpr std::uint32_t size = 1024;
  alignas(64) std::atomic<std::uint32_t> head{0};  // written by the producer
  alignas(64) std::atomic<std::uint32_t> tail{0};  // written by the consumer
  alignas(64) Packet* slot[size];

  bool push(Packet* const* objs) noexcept {
    const std::uint32_t h = head.load(std::memory_order_relaxed);
    // acquire pairs with the consumer's release of tail: it is done reading.
    if (size - (h - tail.load(std::memory_order_acquire)) < bulk) return false;
    for (std::uint32_t i = 0; i < bulk; ++i) slot[(h + i) & (size - 1)] = objs[i];
    head.store(h + bulk, std::memory_order_release);  // pairs with pop's acquire of head
    return true;
  }
  bool pop(Packet** objs) noexcept {
    const std::uint32_t t = tail.load(std::memory_order_relaxed);
    if (head.load(std::memory_order_acquire) - t < bulk) return false;  // pairs with push's release
    for (std::uint32_t i = 0; i < bulk; ++i) objs[i] = slot[(t + i) & (size - 1)];
    tail.store(t + bulk, std::memory_order_release);  // pairs with push's acquire of tail
    return true;
  }
};

template <Give G>
double two_threads(PacketPool& pool, std::uint64_t iters) {
  auto spsc = std::make_unique<Spsc>();
  std::atomic<int> ready{0};
  std::uint64_t consumer_ns = 0;
  std::thread consumer([&] {
    pin(1);
    auto cache = pool.make_cache();
    if (!cache.ok()) return;
    Packet* objs[bulk];
    ready.fetch_add(1);
    while (ready.load() < 2) {
    }
    const auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < iters; ++i) {
      while (!spsc->pop(objs)) {
      }
      give<G>(pool, objs, cache->get());
    }
    consumer_ns = static_cast<std::uint64_t>(ns_since(t0));
  });
  pin(0);
  auto cache = pool.make_cache();
  if (!cache.ok()) {
    std::fprintf(stderr, "bench_pool: %s\n", cache.error().message.c_str());
    std::exit(1);
  }
  while (ready.load() < 1) {
  }
  ready.fetch_add(1);
  Packet* objs[bulk];
  for (std::uint64_t i = 0; i < iters; ++i) {
    while (!pool.alloc_bulk(objs, cache->get())) {
    }
    while (!spsc->push(objs)) {
    }
  }
  consumer.join();
  return static_cast<double>(consumer_ns) / static_cast<double>(iters * bulk);
}

// The ring alone: what the nocache row costs without touching packets.
double ring_only(std::uint64_t iters) {
  ObjRing<Packet*> ring(pool_count);
  std::vector<Packet*> fill(pool_count);
  for (std::uint32_t i = 0; i < pool_count; ++i) fill[i] = reinterpret_cast<Packet*>(std::uintptr_t{i + 1} * 64);
  if (!ring.enqueue_bulk(fill)) return -1;
  Packet* objs[bulk];
  std::uint64_t failed = 0;
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < iters; ++i) {
    if (!ring.dequeue_bulk(objs)) [[unlikely]] {
      ++failed;
      continue;
    }
    if (!ring.enqueue_bulk(objs)) [[unlikely]] ++failed;
  }
  const double ns = ns_since(t0);
  if (failed != 0) std::fprintf(stderr, "bench_pool: %llu ring operations failed\n", static_cast<unsigned long long>(failed));
  return ns / static_cast<double>(iters * bulk);
}

std::unique_ptr<PacketPool> make_pool(std::uint32_t cache_size, const char* name) {
  PoolConfig c;
  c.count = pool_count;
  c.cache_size = cache_size;
  c.allow_small_pages = true;
  c.name = name;
  auto p = PacketPool::create(c);
  if (!p) {
    std::fprintf(stderr, "bench_pool: %s\n", p.error().message.c_str());
    std::exit(1);
  }
  if (!p.value()->regions()[0].hugepage_backed())
    std::fprintf(stderr, "bench_pool: note: no free 2 MiB hugepages, using 4 KiB pages (echo 512 > /proc/sys/vm/nr_hugepages)\n");
  return std::move(p.value());
}

}  // namespace

int main(int argc, char** argv) {
  const char* json = nullptr;
  const char* only = nullptr;  // run one row (for profiling)
  bool quick = false;
  std::uint64_t iters_arg = 0;  // --iters: for instruction counts (callgrind) at two sizes
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else if (std::strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
      iters_arg = std::strtoull(argv[++i], nullptr, 10);  // bulks per row (x4 on the cache rows)
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--json FILE] [--only ROW] [--iters N]\n", argv[0]);
      return 2;
    }
  }
  const std::uint64_t iters = iters_arg != 0 ? iters_arg : quick ? 20'000 : 4'000'000;
  pin(0);
  std::vector<Figure> figs;
  auto want = [only](const char* row) { return only == nullptr || std::strcmp(only, row) == 0; };
  auto rows = [&]<Give G>(const char* prefix) {
    const std::string cache_row = std::string(prefix) + "_cache_bulk32_1t";
    const std::string nocache_row = std::string(prefix) + "_nocache_bulk32_1t";
    const std::string two_row = std::string(prefix) + "_cache_bulk32_2t";
    if (want(cache_row.c_str())) {
      auto pool = make_pool(256, "bench-cache");
      auto cache = pool->make_cache();
      if (!cache.ok()) std::exit(1);
      figs.push_back({cache_row, one_thread<G>(*pool, cache->get(), iters * 4), "ns/obj"});
    }
    if (want(nocache_row.c_str())) {
      auto pool = make_pool(0, "bench-nocache");
      figs.push_back({nocache_row, one_thread<G>(*pool, nullptr, iters), "ns/obj"});
    }
    if (want(two_row.c_str())) {
      auto pool = make_pool(256, "bench-2t");
      figs.push_back({two_row, two_threads<G>(*pool, iters), "ns/obj"});
    }
  };
  rows.template operator()<Give::put>("pool");
  rows.template operator()<Give::free>("api");
  if (want("objring_bulk32_1t")) figs.push_back({"objring_bulk32_1t", ring_only(iters), "ns/obj"});

  for (const Figure& f : figs) std::printf("%s %.3f %s\n", f.name.c_str(), f.value, f.unit);
  if (json != nullptr) {
    FILE* out = std::fopen(json, "w");
    if (out == nullptr) {
      std::fprintf(stderr, "bench_pool: cannot write %s: %s\n", json, std::strerror(errno));
      return 1;
    }
    std::fprintf(out, "{\"bench\": \"bench_pool\", \"results\": [");
    for (std::size_t i = 0; i < figs.size(); ++i)
      std::fprintf(out, "%s\n  {\"name\": \"%s\", \"value\": %.4f, \"unit\": \"%s\"}", i ? "," : "", figs[i].name.c_str(),
                   figs[i].value, figs[i].unit);
    std::fprintf(out, "\n]}\n");
    std::fclose(out);
  }
  return 0;
}
