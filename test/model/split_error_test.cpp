// SplitDevice catches driver bugs as driver_error() instead of crashing.
#include <catch2/catch.hpp>

#include <vpmd/model/split_device.hpp>
#include <vpmd/model/device_queue.hpp>

#include "split_fixture.hpp"

using namespace vpmd::model;
using vpmd::model::test::SplitDriver;

namespace {
constexpr std::uint64_t kIndirect = feature_bit(kFeatureIndirectDesc);

// Pops once and expects a driver error mentioning `what`.
void expect_error(SplitDevice& dev, const std::string& what) {
  CHECK_FALSE(dev.pop_avail().has_value());
  INFO("driver_error: " << dev.driver_error());
  REQUIRE_FALSE(dev.driver_error().empty());
  CHECK(dev.driver_error().find(what) != std::string::npos);
  CHECK_FALSE(dev.pop_avail().has_value());  // stays stopped
}
}  // namespace

TEST_CASE("split: driver errors are reported", "[model][split][error]") {
  SplitDriver drv(4);
  SECTION("head out of range") {
    SplitDevice dev(drv.config(0));
    drv.add(4);
    expect_error(dev, "beyond queue size");
  }
  SECTION("next out of range") {
    SplitDevice dev(drv.config(0));
    drv.set_desc(0, drv.buf(0), 8, kDescFNext, 9);
    drv.add(0);
    expect_error(dev, "next 9");
  }
  SECTION("chain loops") {
    SplitDevice dev(drv.config(0));
    drv.set_desc(0, drv.buf(0), 8, kDescFNext, 1);
    drv.set_desc(1, drv.buf(1), 8, kDescFNext, 0);
    drv.add(0);
    expect_error(dev, "loops");
  }
  SECTION("avail idx jumps more than the queue size") {
    SplitDevice dev(drv.config(0));
    drv.set_avail_idx_raw(5);
    expect_error(dev, "ahead");
  }
  SECTION("indirect without the feature") {
    SplitDevice dev(drv.config(0));
    drv.set_desc(0, drv.buf(0), 16, kDescFIndirect);
    drv.add(0);
    expect_error(dev, "INDIRECT_DESC");
  }
  SECTION("indirect with next") {
    SplitDevice dev(drv.config(kIndirect));
    drv.set_desc(0, drv.buf(0), 16, kDescFIndirect | kDescFNext, 1);
    drv.add(0);
    expect_error(dev, "both INDIRECT and NEXT");
  }
  SECTION("indirect inside indirect") {
    SplitDevice dev(drv.config(kIndirect));
    auto* table = reinterpret_cast<SplitDesc*>(drv.buf(10));
    table[0] = SplitDesc{test::iova(drv.buf(11)), 16, kDescFIndirect, 0};
    drv.set_desc(0, table, 16, kDescFIndirect);
    drv.add(0);
    expect_error(dev, "another");
  }
  SECTION("indirect table length not a multiple of 16") {
    SplitDevice dev(drv.config(kIndirect));
    drv.set_desc(0, drv.buf(10), 24, kDescFIndirect);
    drv.add(0);
    expect_error(dev, "multiple of 16");
  }
  SECTION("readable after writable") {
    SplitDevice dev(drv.config(0));
    drv.set_desc(0, drv.buf(0), 8, kDescFNext | kDescFWrite, 1);
    drv.set_desc(1, drv.buf(1), 8, 0);
    drv.add(0);
    expect_error(dev, "readable after");
  }
  SECTION("zero-length descriptor") {
    SplitDevice dev(drv.config(0));
    drv.set_desc(0, drv.buf(0), 0, 0);
    drv.add(0);
    expect_error(dev, "len 0");
  }
  SECTION("address outside the IOVA window") {
    QueueConfig cfg = drv.config(0);
    const std::uint64_t lo = test::iova(drv.desc_mem.get());
    cfg.translate = [inner = identity_translate(), bufs = test::iova(drv.bufs.get()), lo](std::uint64_t a,
                                                                                           std::uint32_t l) {
      return (a >= bufs || a < lo) ? nullptr : inner(a, l);  // everything but the buffers
    };
    SplitDevice dev(std::move(cfg));
    drv.set_desc(0, drv.buf(0), 8, 0);
    drv.add(0);
    expect_error(dev, "IOVA window");
  }
  SECTION("head reused while in flight") {
    SplitDevice dev(drv.config(0));
    drv.set_desc(0, drv.buf(0), 8, 0);
    drv.add(0);
    REQUIRE(dev.pop_avail().has_value());
    drv.add(0);
    expect_error(dev, "still owns");
  }
  SECTION("descriptor shared by two in-flight chains") {
    SplitDevice dev(drv.config(0));
    drv.set_desc(0, drv.buf(0), 8, kDescFNext, 2);
    drv.set_desc(2, drv.buf(2), 8, 0);
    drv.set_desc(1, drv.buf(1), 8, kDescFNext, 2);
    drv.add(0);
    REQUIRE(dev.pop_avail().has_value());
    drv.add(1);
    expect_error(dev, "already in a chain");
  }
}

TEST_CASE("split: bad configurations are reported", "[model][split][error]") {
  SplitDriver drv(4);
  QueueConfig cfg = drv.config(0);
  SECTION("size not a power of two") {
    cfg.size = 3;
  }
  SECTION("packed feature bit") {
    cfg.features = feature_bit(kFeatureRingPacked);
  }
  SECTION("misaligned used ring") {
    cfg.device += 2;
  }
  SECTION("no translate") {
    cfg.translate = nullptr;
  }
  SplitDevice dev(std::move(cfg));
  INFO(dev.driver_error());
  CHECK_FALSE(dev.driver_error().empty());
  CHECK_FALSE(dev.pop_avail().has_value());
  CHECK_FALSE(dev.should_interrupt());
}
