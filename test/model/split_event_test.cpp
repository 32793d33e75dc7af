// SplitDevice: interrupt and notification suppression (virtio-v1.2 §2.7.7, §2.7.10).
#include <catch2/catch.hpp>

#include <vpmd/model/split_device.hpp>

#include "split_fixture.hpp"

using namespace vpmd::model;
using vpmd::model::test::SplitDriver;

namespace {
constexpr std::uint64_t kEventIdx = feature_bit(kFeatureEventIdx);

// One buffer through: add, pop, use, publish.
void cycle(SplitDriver& drv, SplitDevice& dev) {
  const auto d = static_cast<std::uint16_t>(drv.avail_idx % drv.size);
  drv.set_desc(d, drv.buf(d), 8, 0);
  drv.add(d);
  auto c = dev.pop_avail();
  REQUIRE(c.has_value());
  dev.push_used(*c, 0);
  dev.publish();
}
}  // namespace

TEST_CASE("need_event is the wrap-safe window test", "[model][split][event]") {
  CHECK(need_event(0, 1, 0));
  CHECK_FALSE(need_event(1, 1, 0));
  CHECK(need_event(5, 10, 3));
  CHECK_FALSE(need_event(2, 10, 3));
  CHECK_FALSE(need_event(10, 10, 3));
  CHECK(need_event(0xFFFF, 1, 0xFFFE));  // window crosses 0
  CHECK(need_event(0, 1, 0xFFFE));
  CHECK_FALSE(need_event(1, 1, 0xFFFE));
  CHECK_FALSE(need_event(0xFFFD, 1, 0xFFFE));
  CHECK_FALSE(need_event(7, 7, 7));  // empty window
}

TEST_CASE("split: VIRTQ_AVAIL_F_NO_INTERRUPT without EVENT_IDX", "[model][split][event]") {
  SplitDriver drv(4);
  SplitDevice dev(drv.config(0));
  CHECK_FALSE(dev.should_interrupt());  // nothing published yet
  cycle(drv, dev);
  CHECK(dev.should_interrupt());
  CHECK_FALSE(dev.should_interrupt());  // nothing new since
  drv.set_avail_flags(kAvailFNoInterrupt);
  cycle(drv, dev);
  CHECK_FALSE(dev.should_interrupt());
  drv.set_avail_flags(0);
  cycle(drv, dev);
  CHECK(dev.should_interrupt());
  CHECK(dev.counters().interrupts == 2);
}

TEST_CASE("split: used_event with EVENT_IDX, across the 0xFFFF wrap", "[model][split][event]") {
  SplitDriver drv(4);
  SplitDevice dev(drv.config(kEventIdx));
  drv.set_avail_flags(kAvailFNoInterrupt);  // must be ignored with EVENT_IDX
  drv.set_used_event(0);
  cycle(drv, dev);  // used 0 -> 1 passes entry 0
  CHECK(dev.should_interrupt());
  drv.set_used_event(3);
  cycle(drv, dev);  // 1 -> 2
  CHECK_FALSE(dev.should_interrupt());
  cycle(drv, dev);  // 2 -> 3
  CHECK_FALSE(dev.should_interrupt());
  cycle(drv, dev);  // 3 -> 4 passes 3
  CHECK(dev.should_interrupt());
  // Run the indexes up to just before the 16-bit wrap.
  drv.set_used_event(0x1234);  // far away: no interrupt on the way
  while (dev.used_idx() != 0xFFFD) {
    cycle(drv, dev);
    if (dev.used_idx() == 0x1235) (void)dev.should_interrupt();
  }
  (void)dev.should_interrupt();
  drv.set_used_event(0x0000);
  cycle(drv, dev);  // FFFD -> FFFE
  CHECK_FALSE(dev.should_interrupt());
  cycle(drv, dev);  // FFFE -> FFFF
  CHECK_FALSE(dev.should_interrupt());
  cycle(drv, dev);
  cycle(drv, dev);  // FFFF -> 0 -> 1 in one window: passes 0x0000
  CHECK(dev.used_idx() == 1);
  CHECK(dev.should_interrupt());
  drv.set_used_event(0xFFFF);  // already passed: next window [1, 2) misses it
  cycle(drv, dev);
  CHECK_FALSE(dev.should_interrupt());
}

TEST_CASE("split: device notification suppression", "[model][split][event]") {
  SECTION("NO_NOTIFY flag without EVENT_IDX") {
    SplitDriver drv(4);
    SplitDevice dev(drv.config(0));
    dev.set_notifications(false);
    CHECK(drv.used_flags() == kUsedFNoNotify);
    dev.set_notifications(true);
    CHECK(drv.used_flags() == 0);
  }
  SECTION("avail_event tracks the next entry with EVENT_IDX") {
    SplitDriver drv(4);
    SplitDevice dev(drv.config(kEventIdx));
    dev.set_notifications(false);
    CHECK(drv.used_flags() == 0);  // NO_NOTIFY is not used with EVENT_IDX
    cycle(drv, dev);
    cycle(drv, dev);
    CHECK(drv.avail_event() == 0);  // disabled: left behind
    dev.set_notifications(true);
    CHECK(drv.avail_event() == 2);  // kick me when you publish entry 2
    cycle(drv, dev);
    CHECK(drv.avail_event() == 3);
    dev.notify();
    CHECK(dev.counters().kicks == 1);
  }
}
