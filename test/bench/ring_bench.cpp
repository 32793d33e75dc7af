// Ring benchmark: vpmd's driver side against a device, ns per buffer for
// split/packed x any-order/in-order at bursts 1, 8, 32, 64, in one thread
// (driver and device stepped alternately) and in two threads (driver on one
// core, device on the other, like Linux's tools/virtio/ringtest).
//
// Two devices, two row families:
//   ring.<kind>.<order>.<mode>.b<burst>        the lean device (model/lean_device.hpp):
//                                              what a real device does per buffer, so the
//                                              figure is mostly the driver's cost
//   ring.model.<kind>.<order>.<mode>.b<burst>  the full model device (SplitDevice /
//                                              PackedDevice), which validates everything
// In both, the device serves at most `burst` buffers per publish (one used->idx
// store / one batch of used flags), the driver adds, publishes and asks
// needs_notify() once per burst, then reaps up to `burst`. The lean in-order
// rows use in-order batching (one used element per batch, virtio-v1.2 §2.7.9 /
// §2.8.9); the model rows write one used element per buffer.
// Compare with Linux's ringtest side by side: test/bench/ring-compare.
//
//   bench_ring [--buffers N] [--quick] [--json FILE] [--only NAME-SUBSTRING] [--no-kick-check]
//
// --no-kick-check skips needs_notify() (no full barrier per burst), as
// ringtest's default polling mode never checks for kicks; rows then end in
// ".nokick".
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>

#include "../ring/test_memory.hpp"
#include "bench_json.hpp"
#include "vpmd/model/lean_device.hpp"
#include "vpmd/model/packed_device.hpp"
#include "vpmd/model/split_device.hpp"
#include "vpmd/ring/packed_ring.hpp"
#include "vpmd/ring/split_ring.hpp"

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

// The full model behind the lean devices' serve(): pop up to max, mark each
// used with written_len bytes (capped to what is writable), publish once.
template <class Dev>
class ModelServe {
 public:
  explicit ModelServe(const model::QueueConfig& c) : dev_(c) {}
  void set_in_order_batching(bool) {}  // one used element per buffer, as before
  uint32_t serve(uint32_t max, uint32_t written_len) {
    uint32_t n = 0;
    while (n < max && dev_.pop_avail(chain_)) {
      dev_.push_used(chain_, static_cast<uint32_t>(std::min<uint64_t>(written_len, chain_.writable_bytes())));
      ++n;
    }
    if (n) dev_.publish();
    return n;
  }

 private:
  Dev dev_;
  model::Chain chain_;
};

enum class Device { lean, model };

template <class Ring, Device D>
using DeviceFor = std::conditional_t<
    D == Device::lean,
    std::conditional_t<Ring::kind == ring::RingKind::split, model::LeanSplitDevice, model::LeanPackedDevice>,
    ModelServe<std::conditional_t<Ring::kind == ring::RingKind::split, model::SplitDevice, model::PackedDevice>>>;

template <class Ring>
uint64_t device_features() {
  uint64_t f = 0;
  if constexpr (Ring::kind == ring::RingKind::packed) f |= ring::feature::ring_packed;
  if constexpr (Ring::in_order) f |= ring::feature::in_order;
  return f;
}

// Two adjacent lines: x86 cores prefetch a line's neighbour, so state owned
// by different threads is kept 128 bytes apart (ringtest pads its guest and
// host structs the same way, HOST_GUEST_PADDING 0x80).
inline constexpr size_t kApart = 128;

// One ring (size 256, no indirect, no EVENT_IDX) and its device, IOVA == VA.
// The driver's ring object (its shadows, read on every add/reap) and the
// device's state (written on every serve) sit on lines of their own: packed
// next to each other, where the boundary fell depended on the stack address,
// and a shared line cost a transfer per buffer in some runs and not others.
template <class Ring, Device D>
struct Pair {
  static constexpr ring::RingConfig kCfg{.size = 256};
  test::TestMemory mem{Ring::layout_for(kCfg).total + 4096};
  alignas(kApart) Ring q = make();
  alignas(kApart) DeviceFor<Ring, D> dev{model::QueueConfig{kCfg.size, q.areas().desc, q.areas().driver, q.areas().device,
                                            device_features<Ring>(), model::identity_translate()}};
  Ring make() {
    auto r = Ring::create(kCfg, mem.ring());
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(*r);
  }
};

template <class Ring, Device D>
double run(uint64_t total, uint16_t burst, bool threads, bool kick_check) {
  auto pair = std::make_unique<Pair<Ring, D>>();  // heap: over-aligned, and off the driver's stack lines
  Pair<Ring, D>& p = *pair;
  p.dev.set_in_order_batching(true);
  std::vector<Tok> toks(256);
  // The driver's free tokens as a plain stack: the loop around the ring costs
  // a few instructions per buffer, so the figure is the ring's.
  Tok* free_list[256];
  size_t nfree = 0;
  for (auto& t : toks) free_list[nfree++] = &t;
  const auto seg_of = [](Tok* t) { return ring::Single{reinterpret_cast<uint64_t>(t->data), 64}; };
  uint32_t lens[64];
  // Polled by the device thread on every serve: its own line, away from the
  // driver's locals (free_list, lens) written on every burst.
  struct alignas(kApart) Stop {
    std::atomic<bool> flag{false};
  };
  auto stop_box = std::make_unique<Stop>();
  std::atomic<bool>& stop = stop_box->flag;
  std::thread device;
  if (threads) {
    // Captures by value only: a reference to `burst` would make the device
    // read the driver's stack frame, whose line the driver writes on every
    // burst (free_list, lens), and pay a transfer per poll in some runs.
    device = std::thread([dev = &p.dev, flag = &stop, burst] {
      pin(1);
      // Polls without pause, as ringtest's host does by default (no --relax):
      // a pause (~140 cycles on recent x86) would add to every empty poll's latency.
      while (!flag->load(std::memory_order_relaxed)) (void)dev->serve(burst, 0);
    });
    pin(0);
  }
  uint64_t sent = 0, done = 0;
  const auto t0 = Clock::now();
  while (done < total) {
    const size_t n = std::min<size_t>(std::min<size_t>(burst, nfree), total - sent);
    if (n) {
      // Single descriptors: the ring takes all n (free descriptors >= free tokens).
      const uint16_t added = p.q.add_singles(std::span<Tok* const>(free_list + nfree - n, n), false, seg_of);
      nfree -= added;
      sent += added;
      p.q.publish();
      if (kick_check) (void)p.q.needs_notify();
    }
    if (!threads) p.dev.serve(burst, 0);
    // Reaped tokens go straight back onto the free stack (room: 256 - nfree are in flight).
    const size_t room = std::min<size_t>(burst, 256 - nfree);
    const uint16_t k = p.q.reap({free_list + nfree, room}, {lens, room});
    nfree += k;
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
  bool kick_check = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") buffers = 200'000;
    else if (a == "--buffers" && i + 1 < argc) buffers = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--json" && i + 1 < argc) json = argv[++i];
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--no-kick-check") kick_check = false;
    else {
      std::fprintf(stderr, "usage: %s [--buffers N] [--quick] [--json FILE] [--only SUBSTRING] [--no-kick-check]\n", argv[0]);
      return 2;
    }
  }
  const std::string suffix = kick_check ? "" : ".nokick";
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
  auto family = [&]<Device D>(const std::string& prefix, bool threads, uint16_t burst) {
    const std::string mode = std::string(threads ? "threads" : "stepped") + ".b" + std::to_string(burst) + suffix;
    row(prefix + "split.any." + mode, [&] { return run<ring::SplitRing<ring::AnyOrder<Tok>>, D>(buffers, burst, threads, kick_check); });
    row(prefix + "split.inorder." + mode, [&] { return run<ring::SplitRing<ring::InOrder<Tok>>, D>(buffers, burst, threads, kick_check); });
    row(prefix + "packed.any." + mode, [&] { return run<ring::PackedRing<ring::AnyOrder<Tok>>, D>(buffers, burst, threads, kick_check); });
    row(prefix + "packed.inorder." + mode, [&] { return run<ring::PackedRing<ring::InOrder<Tok>>, D>(buffers, burst, threads, kick_check); });
  };
  for (bool threads : {false, true})
    for (uint16_t burst : {1, 8, 32, 64}) {
      family.template operator()<Device::lean>("ring.", threads, burst);
      family.template operator()<Device::model>("ring.model.", threads, burst);
    }
  if (!json.empty() && !report.write_json(json)) {
    std::fprintf(stderr, "cannot write %s\n", json.c_str());
    return 1;
  }
  return 0;
}
