// Notification suppression both ways (virtio-v1.2 §2.7.7, §2.7.10, §2.8.10),
// and 16-bit index wrap, vpmd's ring against the model device.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace vpmd;
using namespace vpmd::test;

namespace {

template <class Ring>
struct Rig {
  Pair<Ring> p;
  std::vector<Buf> bufs;
  explicit Rig(uint16_t size, uint64_t features) : p({.size = size, .features = features}), bufs(size) {
    for (auto& b : bufs) {
      b.bytes.assign(64, std::byte{0});
      b.segs = {{reinterpret_cast<uint64_t>(b.bytes.data()), 64, true}};
    }
  }
  bool add(size_t i) { return p.q.add_chain(bufs[i].segs, &bufs[i]); }
  // The device takes everything available and completes it.
  unsigned device_round() {
    model::Chain c;
    unsigned n = 0;
    while (p.dev.pop_avail(c)) {
      p.dev.push_used(c, 8);
      ++n;
    }
    p.dev.publish();
    return n;
  }
  unsigned reap_all() {
    Buf* toks[64];
    uint32_t lens[64];
    unsigned total = 0;
    for (uint16_t n; (n = p.q.reap(toks, lens)) != 0;) total += n;
    return total;
  }
};

template <class Ring>
void kick_counts(bool event_idx) {
  Rig<Ring> r(64, event_idx ? ring::feature::event_idx : 0);
  SECTION("device asks for notifications: a burst of 32 single publishes costs one (EVENT_IDX) or 32") {
    r.p.dev.set_notifications(true);
    unsigned kicks = 0;
    for (size_t i = 0; i < 32; ++i) {
      REQUIRE(r.add(i));
      r.p.q.publish();
      kicks += r.p.q.needs_notify();
    }
    CHECK(kicks == (event_idx ? 1u : 32u));
    CHECK(r.device_round() == 32);
  }
  SECTION("a burst of 32 published at once costs exactly one") {
    r.p.dev.set_notifications(true);
    for (size_t i = 0; i < 32; ++i) REQUIRE(r.add(i));
    r.p.q.publish();
    CHECK(r.p.q.needs_notify());
    CHECK_FALSE(r.p.q.needs_notify());  // nothing new since
  }
  SECTION("device suppresses notifications (NO_NOTIFY / DISABLE / avail_event behind): none") {
    r.p.dev.set_notifications(false);
    unsigned kicks = 0;
    for (size_t i = 0; i < 32; ++i) {
      REQUIRE(r.add(i));
      r.p.q.publish();
      kicks += r.p.q.needs_notify();
    }
    if (event_idx && Ring::kind == ring::RingKind::split) {
      // With EVENT_IDX the split device cannot say "never" (§2.7.10): its
      // avail_event stays where it was, so at most the one buffer it names kicks.
      CHECK(kicks <= 1);
    } else {
      CHECK(kicks == 0);
    }
  }
  SECTION("device re-enables after draining: the next publish kicks again") {
    r.p.dev.set_notifications(true);
    for (unsigned round = 0; round < 200; ++round) {  // 200 x 8 buffers: wraps a 64-ring many times
      for (size_t i = 0; i < 8; ++i) REQUIRE(r.add(i + 8 * (round % 8)));
      r.p.q.publish();
      REQUIRE(r.p.q.needs_notify());
      r.p.dev.notify();
      REQUIRE(r.device_round() == 8);
      r.p.dev.set_notifications(true);
      REQUIRE(r.reap_all() == 8);
    }
    CHECK(r.p.dev.counters().kicks == 200);
  }
}

template <class Ring>
void interrupt_counts(bool event_idx) {
  Rig<Ring> r(64, event_idx ? ring::feature::event_idx : 0);
  r.p.q.disable_interrupts();
  for (size_t i = 0; i < 16; ++i) REQUIRE(r.add(i));
  r.p.q.publish();
  REQUIRE(r.device_round() == 16);
  CHECK_FALSE(r.p.dev.should_interrupt());  // the driver polls: no interrupt
  CHECK(r.reap_all() == 16);

  // Re-enabling with nothing pending says so; the device's next completion interrupts.
  CHECK_FALSE(r.p.q.enable_interrupts());
  for (size_t i = 16; i < 20; ++i) REQUIRE(r.add(i));
  r.p.q.publish();
  REQUIRE(r.device_round() == 4);
  CHECK(r.p.dev.should_interrupt());
  CHECK(r.reap_all() == 4);

  // enable_interrupts() reports used buffers that raced in while disabled.
  r.p.q.disable_interrupts();
  for (size_t i = 20; i < 22; ++i) REQUIRE(r.add(i));
  r.p.q.publish();
  REQUIRE(r.device_round() == 2);
  CHECK(r.p.q.enable_interrupts());
  CHECK(r.reap_all() == 2);
}

// Many times round a tiny ring: the 16-bit indices wrap several times, and
// with EVENT_IDX the need_event window crosses 0xFFFF -> 0.
template <class Ring>
void wrap_run(uint16_t size) {
  Rig<Ring> r(size, ring::feature::event_idx);
  r.p.dev.set_notifications(true);
  uint64_t kicks = 0, done = 0;
  for (unsigned it = 0; it < 140000 / size; ++it) {
    for (size_t i = 0; i < size; ++i) REQUIRE(r.add(i));
    r.p.q.publish();
    kicks += r.p.q.needs_notify();
    REQUIRE(r.device_round() == size);
    r.p.dev.set_notifications(true);
    const unsigned n = r.reap_all();
    REQUIRE(n == size);
    done += n;
  }
  CHECK(done + size >= 140000u);
  CHECK(kicks == 140000u / size);  // one kick per round, across every wrap
  CHECK(r.p.q.broken() == ring::Broken::none);
  CHECK(r.p.dev.driver_error() == "");
}

}  // namespace

using SplitAny = ring::SplitRing<ring::AnyOrder<Buf>>;
using SplitIO = ring::SplitRing<ring::InOrder<Buf>>;
using PackedAny = ring::PackedRing<ring::AnyOrder<Buf>>;
using PackedIO = ring::PackedRing<ring::InOrder<Buf>>;

TEMPLATE_TEST_CASE("driver notifications follow the device's suppression", "[ring][notify]", SplitAny, SplitIO,
                   PackedAny, PackedIO) {
  SECTION("EVENT_IDX") { kick_counts<TestType>(true); }
  SECTION("flags") { kick_counts<TestType>(false); }
}

TEMPLATE_TEST_CASE("device interrupts follow the driver's suppression", "[ring][notify]", SplitAny, SplitIO, PackedAny,
                   PackedIO) {
  SECTION("EVENT_IDX") { interrupt_counts<TestType>(true); }
  SECTION("flags") { interrupt_counts<TestType>(false); }
}

TEMPLATE_TEST_CASE("indices wrap around 0xFFFF many times on tiny rings", "[ring][wrap]", SplitAny, SplitIO) {
  for (uint16_t size : {1, 2, 4}) wrap_run<TestType>(size);
}
TEMPLATE_TEST_CASE("packed wrap counters flip many times on tiny and odd rings", "[ring][wrap]", PackedAny, PackedIO) {
  for (uint16_t size : {1, 3, 5}) wrap_run<TestType>(size);
}
