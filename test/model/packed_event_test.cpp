// PackedDevice: event suppression (virtio-v1.2 §2.8.10) and driver errors.
#include <catch2/catch.hpp>

#include <vpmd/model/packed_device.hpp>

#include "packed_fixture.hpp"

using namespace vpmd::model;
using vpmd::model::test::PackedDriver;
using vpmd::model::test::PackedElem;

namespace {
constexpr std::uint64_t kIndirect = feature_bit(kFeatureIndirectDesc);
constexpr std::uint64_t kEventIdx = feature_bit(kFeatureEventIdx);

std::uint16_t next_id = 0;
void cycle(PackedDriver& drv, PackedDevice& dev, std::uint16_t len = 1) {
  std::vector<PackedElem> elems(len, PackedElem{drv.buf(0), 8, 0});
  const auto id = static_cast<std::uint16_t>(next_id++ % drv.size);
  drv.add(id, elems);
  auto c = dev.pop_avail();
  REQUIRE(c.has_value());
  dev.push_used(*c, 0);
  dev.publish();
  REQUIRE(drv.reap().has_value());
}

void expect_error(PackedDevice& dev, const std::string& what) {
  CHECK_FALSE(dev.pop_avail().has_value());
  INFO("driver_error: " << dev.driver_error());
  REQUIRE_FALSE(dev.driver_error().empty());
  CHECK(dev.driver_error().find(what) != std::string::npos);
}
}  // namespace

TEST_CASE("packed: driver event suppression ENABLE / DISABLE", "[model][packed][event]") {
  PackedDriver drv(4);
  PackedDevice dev(drv.config(0));
  CHECK_FALSE(dev.should_interrupt());
  cycle(drv, dev);
  CHECK(dev.should_interrupt());  // ENABLE (0) is the initial value
  CHECK_FALSE(dev.should_interrupt());
  drv.driver_evt()->flags = kRingEventFlagsDisable;
  cycle(drv, dev);
  CHECK_FALSE(dev.should_interrupt());
  drv.driver_evt()->flags = kRingEventFlagsDesc;  // DESC without EVENT_IDX: a driver bug
  cycle(drv, dev);
  CHECK_FALSE(dev.should_interrupt());
  CHECK(dev.driver_error().find("DESC without") != std::string::npos);
}

TEST_CASE("packed: driver event suppression DESC with off_wrap, across laps", "[model][packed][event]") {
  for (std::uint16_t size : {3, 4, 5}) {
    PackedDriver drv(size);
    PackedDevice dev(drv.config(kEventIdx));
    drv.driver_evt()->flags = kRingEventFlagsDesc;
    // Ask for an interrupt at every position of several laps, one at a time.
    for (std::uint32_t step = 0; step < 6u * size; ++step) {
      const std::uint16_t pos = drv.used_pos;
      const bool wrap = drv.used_wrap;
      // Event at the NEXT used slot: fires on this cycle.
      drv.driver_evt()->off_wrap = static_cast<std::uint16_t>(pos | (wrap ? 0x8000 : 0));
      cycle(drv, dev);
      CHECK(dev.should_interrupt());
      // Event at the slot after that, but with the other wrap counter: a
      // lap away, must not fire on the next cycle.
      const auto nxt = static_cast<std::uint16_t>((pos + 2) % size);
      const bool nxt_wrap = (pos + 2 >= size) ? !wrap : wrap;
      drv.driver_evt()->off_wrap = static_cast<std::uint16_t>(nxt | (nxt_wrap ? 0 : 0x8000));
      cycle(drv, dev);
      CHECK_FALSE(dev.should_interrupt());
    }
    // An event two slots ahead fires only on the second cycle.
    const auto ahead = static_cast<std::uint16_t>((drv.used_pos + 1) % size);
    const bool ahead_wrap = (drv.used_pos + 1 >= size) ? !drv.used_wrap : drv.used_wrap;
    drv.driver_evt()->off_wrap = static_cast<std::uint16_t>(ahead | (ahead_wrap ? 0x8000 : 0));
    cycle(drv, dev);
    CHECK_FALSE(dev.should_interrupt());
    cycle(drv, dev);
    CHECK(dev.should_interrupt());
    // A batch that crosses the ring end and passes the event in the previous lap.
    if (size >= 3) {
      const auto ev = static_cast<std::uint16_t>(drv.used_pos);
      const bool ev_wrap = drv.used_wrap;
      drv.driver_evt()->off_wrap = static_cast<std::uint16_t>(ev | (ev_wrap ? 0x8000 : 0));
      cycle(drv, dev, static_cast<std::uint16_t>(size - 1));
      cycle(drv, dev, 2);
      CHECK(dev.should_interrupt());
    }
    CHECK(dev.driver_error().empty());
  }
}

TEST_CASE("packed: device event suppression", "[model][packed][event]") {
  SECTION("without EVENT_IDX") {
    PackedDriver drv(4);
    PackedDevice dev(drv.config(0));
    dev.set_notifications(false);
    CHECK(drv.device_evt()->flags == kRingEventFlagsDisable);
    dev.set_notifications(true);
    CHECK(drv.device_evt()->flags == kRingEventFlagsEnable);
  }
  SECTION("with EVENT_IDX: DESC at the next slot the device reads") {
    PackedDriver drv(3);
    PackedDevice dev(drv.config(kEventIdx));
    dev.set_notifications(true);
    CHECK(drv.device_evt()->flags == kRingEventFlagsDesc);
    CHECK(drv.device_evt()->off_wrap == 0x8000);  // slot 0, wrap 1
    cycle(drv, dev, 2);
    CHECK(drv.device_evt()->off_wrap == (2 | 0x8000));
    cycle(drv, dev, 2);
    CHECK(drv.device_evt()->off_wrap == 1);  // slot 1 of the next lap, wrap 0
  }
}

TEST_CASE("packed: driver errors are reported", "[model][packed][error]") {
  PackedDriver drv(4);
  SECTION("a stale descriptor of the previous lap is neither available nor an error") {
    // Out-of-order completion leaves a lap-1 available descriptor in a slot no
    // used descriptor overwrote (§2.8.3: used descriptors go to the next used
    // position): A=1 U=0 is then seen with the device's wrap counter at 0.
    PackedDriver d3(3);
    PackedDevice dev(d3.config(0));
    d3.add(0, {{d3.buf(0), 8, 0}});                      // slot 0
    d3.add(1, {{d3.buf(1), 8, 0}, {d3.buf(2), 8, 0}});   // slots 1-2
    auto a = dev.pop_avail();
    auto b = dev.pop_avail();
    REQUIRE((a && b));
    dev.push_used(*b, 0);  // used at slot 0, next used slot 2
    dev.push_used(*a, 0);  // used at slot 2, next used slot 0 (wrap 0)
    dev.publish();
    REQUIRE(d3.reap().has_value());
    REQUIRE(d3.reap().has_value());
    d3.add(2, {{d3.buf(3), 8, 0}});  // slot 0, lap 2
    REQUIRE(dev.pop_avail().has_value());
    CHECK((d3.ring()[1].flags & (kPackedDescFAvail | kPackedDescFUsed)) == kPackedDescFAvail);  // stale lap-1 head of id 1
    CHECK_FALSE(dev.pop_avail().has_value());
    CHECK(dev.driver_error().empty());
  }
  SECTION("id out of range") {
    PackedDevice dev(drv.config(0));
    drv.add(0, {{drv.buf(0), 8, 0}});
    drv.ring()[0].id = 9;
    expect_error(dev, "buffer id 9");
  }
  SECTION("id reused while in flight") {
    PackedDevice dev(drv.config(0));
    drv.add(1, {{drv.buf(0), 8, 0}});
    REQUIRE(dev.pop_avail().has_value());
    drv.add(1, {{drv.buf(1), 8, 0}});
    expect_error(dev, "still owns");
  }
  SECTION("list longer than the free ring") {
    PackedDevice dev(drv.config(0));
    drv.add(0, {{drv.buf(0), 8, 0}, {drv.buf(0), 8, 0}, {drv.buf(0), 8, 0}, {drv.buf(0), 8, 0}});
    // Make the last one chain on, into slot 0 of the next lap.
    drv.ring()[3].flags = static_cast<std::uint16_t>(drv.ring()[3].flags | kDescFNext);
    expect_error(dev, "longer than the free ring");
  }
  SECTION("indirect without the feature / with NEXT / nested") {
    auto* table = reinterpret_cast<PackedDesc*>(drv.buf(10));
    table[0] = PackedDesc{test::iova(drv.buf(11)), 16, 0, kDescFIndirect};
    SECTION("no feature") {
      PackedDevice dev(drv.config(0));
      drv.add(0, {{table, 16, kDescFIndirect}});
      expect_error(dev, "INDIRECT_DESC");
    }
    SECTION("nested") {
      PackedDevice dev(drv.config(kIndirect));
      drv.add(0, {{table, 16, kDescFIndirect}});
      expect_error(dev, "another");
    }
    SECTION("with next") {
      PackedDevice dev(drv.config(kIndirect));
      drv.add(0, {{table, 16, kDescFIndirect}, {drv.buf(0), 8, 0}});
      expect_error(dev, "both INDIRECT and NEXT");
    }
  }
  SECTION("readable after writable") {
    PackedDevice dev(drv.config(0));
    drv.add(0, {{drv.buf(0), 8, kDescFWrite}, {drv.buf(1), 8, 0}});
    expect_error(dev, "readable after");
  }
  SECTION("null address") {
    PackedDevice dev(drv.config(0));
    drv.add(0, {{nullptr, 8, 0}});
    expect_error(dev, "IOVA window");
  }
  SECTION("bad config: no RING_PACKED bit") {
    QueueConfig cfg = drv.config(0);
    cfg.features = 0;
    PackedDevice dev(std::move(cfg));
    CHECK_FALSE(dev.driver_error().empty());
  }
}
