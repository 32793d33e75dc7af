// Ring benchmark: vpmd's driver side against the in-tree model device, ns per
// buffer for split/packed x any-order/in-order at bursts 1, 8, 32, 64, in one
// thread (driver and device stepped alternately) and in two threads (driver
// on one core, device on the other, like Linux's tools/virtio/ringtest).
// Compare with Linux's ringtest side by side: test/bench/ring-compare.
//
//   bench_ring [--buffers N] [--quick] [--json FILE] [--only NAME-SUBSTRING]
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "../ring/harness.hpp"
#include "bench_json.hpp"

using namespace vpmd;
using Clock = std::chrono::steady_clock;

namespace {

struct Tok {
  alignas(64) std::byte data[64];
};

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % static_cast<int>(std::thread::hardware_concurrency()), &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// The device's part of a round: take up to `max` available buffers, mark them
// used with `len` bytes, publish once.
template <class Dev>
uint32_t device_serve(Dev& dev, model::Chain& c, uint32_t max) {
  uint32_t n = 0;
  while (n < max && dev.pop_avail(c)) {
    dev.push_used(c, 0);
    ++n;
  }
  if (n) dev.publish();
  return n;
}

template <class Ring>
double run(uint64_t total, uint16_t burst, bool threads) {
  test::Pair<Ring> p({.size = 256});
  std::vector<Tok> toks(256);
  std::vector<Tok*> free_list;
  for (auto& t : toks) free_list.push_back(&t);
  const auto seg_of = [](Tok* t) { return ring::Single{reinterpret_cast<uint64_t>(t->data), 64}; };
  Tok* out[64];
  uint32_t lens[64];
  std::atomic<bool> stop{false};
  std::thread device;
  if (threads) {
    device = std::thread([&] {
      pin(1);
      model::Chain c;
      while (!stop.load(std::memory_order_relaxed))
        if (device_serve(p.dev, c, 64) == 0) __builtin_ia32_pause();
    });
    pin(0);
  }
  model::Chain c;
  uint64_t sent = 0, done = 0;
  const auto t0 = Clock::now();
  while (done < total) {
    const size_t n = std::min<size_t>({burst, free_list.size(), total - sent});
    if (n) {
      const uint16_t added = p.q.add_singles(std::span<Tok* const>(free_list.data() + free_list.size() - n, n), false, seg_of);
      free_list.resize(free_list.size() - added);
      sent += added;
      p.q.publish();
      (void)p.q.needs_notify();
    }
    if (!threads) device_serve(p.dev, c, burst);
    const uint16_t k = p.q.reap({out, burst}, {lens, burst});
    for (uint16_t i = 0; i < k; ++i) free_list.push_back(out[i]);
    done += k;
    if (p.q.broken() != ring::Broken::none) break;
  }
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  stop = true;
  if (device.joinable()) device.join();
  return done == total ? ns / static_cast<double>(total) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t buffers = 10'000'000;
  std::string json, only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") buffers = 200'000;
    else if (a == "--buffers" && i + 1 < argc) buffers = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--json" && i + 1 < argc) json = argv[++i];
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--buffers N] [--quick] [--json FILE] [--only SUBSTRING]\n", argv[0]);
      return 2;
    }
  }
  bench::Report report;
  auto row = [&](const std::string& name, auto fn) {
    if (!only.empty() && name.find(only) == std::string::npos) return;
    const double v = fn();
    if (v < 0) {
      std::fprintf(stderr, "%s: the ring broke or lost buffers\n", name.c_str());
      std::exit(1);
    }
    report.add(name, v, "ns/buf");
  };
  for (bool threads : {false, true})
    for (uint16_t burst : {1, 8, 32, 64}) {
      const std::string mode = std::string(threads ? "threads" : "stepped") + ".b" + std::to_string(burst);
      row("ring.split.any." + mode, [&] { return run<ring::SplitRing<ring::AnyOrder<Tok>>>(buffers, burst, threads); });
      row("ring.split.inorder." + mode, [&] { return run<ring::SplitRing<ring::InOrder<Tok>>>(buffers, burst, threads); });
      row("ring.packed.any." + mode, [&] { return run<ring::PackedRing<ring::AnyOrder<Tok>>>(buffers, burst, threads); });
      row("ring.packed.inorder." + mode, [&] { return run<ring::PackedRing<ring::InOrder<Tok>>>(buffers, burst, threads); });
    }
  if (!json.empty() && !report.write_json(json)) {
    std::fprintf(stderr, "cannot write %s\n", json.c_str());
    return 1;
  }
  return 0;
}
