// ModelDevice in its own thread against a test driver in this thread: the
// model's shared-memory accesses must be race-free under TSan, kicks and
// interrupts must flow both ways (wait_for_kick makes a missed kick an error).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include <vpmd/model/model_device.hpp>
#include <vpmd/model/packed_device.hpp>
#include <vpmd/model/split_device.hpp>

#include "drivers.hpp"

using namespace vpmd::model;
using vpmd::model::test::PackedRun;
using vpmd::model::test::SplitRun;

namespace {

Policy busy_policy(std::uint64_t seed) {
  Policy p;
  p.order = Policy::Order::random;
  p.written = Policy::Written::random;
  p.batch_max = 3;
  p.check_payload = p.fill_payload = true;
  p.payload_seed = seed;
  p.seed = seed;
  p.wait_for_kick = true;
  p.kick_timeout = std::chrono::milliseconds(2000);
  return p;
}

constexpr std::uint64_t kBuffers = 20000;
constexpr auto kDeadline = std::chrono::seconds(120);

}  // namespace

TEST_CASE("split: device thread vs driver thread, with kicks", "[model][threads]") {
  for (bool event_idx : {false, true}) {
    SplitRun run(8, 77, false, false);
    const std::uint64_t f = event_idx ? feature_bit(kFeatureEventIdx) : 0;
    ModelDevice<SplitDevice> dev(run.drv.config(f), busy_policy(77));
    std::atomic<std::uint64_t> irqs{0};
    dev.on_interrupt([&] { irqs.fetch_add(1, std::memory_order_relaxed); });
    dev.start();
    const auto t0 = std::chrono::steady_clock::now();
    while (run.reaped < kBuffers && std::chrono::steady_clock::now() - t0 < kDeadline) {
      const std::uint16_t old = run.drv.avail_idx;
      while (run.next_serial < kBuffers && run.submit()) {
      }
      if (run.drv.avail_idx != old) {
        // §2.7.10: the seq_cst store of avail->idx (in add()) and the seq_cst
        // loads below pair with the device's re-check after enabling.
        const bool kick = event_idx ? need_event(run.drv.avail_event(), run.drv.avail_idx, old)
                                    : (run.drv.used_flags() & kUsedFNoNotify) == 0;
        if (kick) dev.notify();
      }
      if (run.reap() == 0) std::this_thread::yield();
      REQUIRE(run.error.empty());
    }
    dev.stop();
    INFO(dev.error() << " / " << run.error);
    CHECK(dev.error().empty());
    CHECK(run.reaped == kBuffers);
    CHECK(dev.stats().lost_kicks == 0);
    CHECK(dev.stats().kicks > 0);
    CHECK(irqs.load() == dev.stats().interrupts);
  }
}

TEST_CASE("packed: device thread vs driver thread, with kicks", "[model][threads]") {
  for (bool event_idx : {false, true}) {
    PackedRun run(5, 99, false, false);
    const std::uint64_t f = event_idx ? feature_bit(kFeatureEventIdx) : 0;
    ModelDevice<PackedDevice> dev(run.drv.config(f), busy_policy(99));
    dev.start();
    const auto t0 = std::chrono::steady_clock::now();
    while (run.reaped < kBuffers && std::chrono::steady_clock::now() - t0 < kDeadline) {
      const std::uint16_t old_pos = run.drv.avail_pos;
      const bool old_wrap = run.drv.avail_wrap;
      std::uint32_t added = 0;
      while (run.next_serial < kBuffers && run.submit()) added += run.per();
      if (added != 0) {
        // §2.8.10 / §2.8.21: seq_cst head flags store (add()), seq_cst loads here.
        auto evt = [&](std::size_t off) {
          return std::atomic_ref<std::uint16_t>(
                     *reinterpret_cast<std::uint16_t*>(run.drv.device_evt_mem.get() + off))
              .load();
        };
        const std::uint16_t flags = evt(offsetof(EventSuppress, flags));
        bool kick = flags == kRingEventFlagsEnable;
        if (flags == kRingEventFlagsDesc) {
          const std::uint16_t ow = evt(offsetof(EventSuppress, off_wrap));
          // Positions of this lap; an event in the previous lap sits size below.
          const auto now = run.drv.avail_pos;
          const bool wrap = run.drv.avail_wrap;
          auto ev = static_cast<std::uint16_t>(ow & 0x7FFF);
          if (((ow & 0x8000) != 0) != wrap) ev = static_cast<std::uint16_t>(ev - run.drv.size);
          const auto old = static_cast<std::uint16_t>(now - added);
          kick = need_event(ev, now, old);
          (void)old_pos;
          (void)old_wrap;
        }
        if (kick) dev.notify();
      }
      if (run.reap() == 0) std::this_thread::yield();
      REQUIRE(run.error.empty());
    }
    dev.stop();
    INFO(dev.error() << " / " << run.error);
    CHECK(dev.error().empty());
    CHECK(run.reaped == kBuffers);
    CHECK(dev.stats().lost_kicks == 0);
  }
}

TEST_CASE("a driver that never kicks is reported as a lost kick", "[model][threads]") {
  SplitRun run(4, 3, false, false);
  Policy p = busy_policy(3);
  p.kick_timeout = std::chrono::milliseconds(50);
  ModelDevice<SplitDevice> dev(run.drv.config(0), p);
  dev.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the device go idle and ask for kicks
  run.submit();                                                  // ... and never notify
  const auto t0 = std::chrono::steady_clock::now();
  while (dev.stats().lost_kicks == 0 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  dev.stop();
  CHECK(dev.stats().lost_kicks == 1);
  CHECK(dev.error().find("did not notify") != std::string::npos);
}
