// Hostile: deterministic, touches only device-writable memory, and its legit
// ops really complete buffers.
#include <catch2/catch.hpp>

#include <cstring>

#include <vpmd/model/hostile.hpp>

#include "drivers.hpp"

using namespace vpmd::model;
using vpmd::model::test::PackedRun;
using vpmd::model::test::SplitRun;

TEST_CASE("hostile split: same seed, same writes; other seed, other writes", "[model][hostile]") {
  SplitRun a(8, 1, false, false), b(8, 1, false, false), c(8, 1, false, false);
  Hostile ha(a.drv.config(0), 123), hb(b.drv.config(0), 123), hc(c.drv.config(0), 124);
  REQUIRE(ha.error().empty());
  for (int i = 0; i < 50; ++i) {
    ha.step(3);
    hb.step(3);
    hc.step(3);
  }
  const std::size_t used_bytes = used_area_bytes(8);
  CHECK(std::memcmp(a.drv.used_mem.get(), b.drv.used_mem.get(), used_bytes) == 0);
  CHECK(std::memcmp(a.drv.used_mem.get(), c.drv.used_mem.get(), used_bytes) != 0);
  CHECK(ha.writes() == 150);
  // Driver-owned memory is untouched: descriptor table and available ring.
  std::vector<std::byte> zero(avail_area_bytes(8));
  CHECK(std::memcmp(a.drv.avail_mem.get(), zero.data(), zero.size()) == 0);
}

TEST_CASE("hostile split: scripted writes land where the script says", "[model][hostile]") {
  SplitRun run(4, 1, false, false);
  Hostile h(run.drv.config(0), 0);
  const std::uint8_t script[] = {
      0, 0, 0, 0x34, 0x12, 0, 0,           // used->idx = 0x1234
      1, 0, 0, 0xFE, 0, 0, 0,              // used->idx += -2
      2, 5, 0, 0xEF, 0xBE, 0xAD, 0xDE,     // used ring[5 % 4].id = 0xDEADBEEF
      3, 2, 0, 0xFF, 0xFF, 0xFF, 0xFF,     // used ring[2].len = 0xFFFFFFFF
      5, 0, 0, 0x99, 0, 0, 0,              // avail_event = 0x99
      7, 0,                                // partial record: ignored
  };
  h.apply(script);
  CHECK(h.writes() == 5);
  CHECK(run.drv.used_idx() == 0x1232);
  CHECK(run.drv.used_elem(1).id == 0xDEADBEEF);
  CHECK(run.drv.used_elem(2).len == 0xFFFFFFFF);
  CHECK(run.drv.avail_event() == 0x99);
}

TEST_CASE("hostile: legit ops complete real buffers", "[model][hostile]") {
  SECTION("split") {
    SplitRun run(4, 1, false, false);
    Hostile h(run.drv.config(0), 0);
    run.submit();
    run.submit();
    const std::uint8_t script[] = {8, 0, 0, 0, 0, 0, 0};
    h.apply(script);
    CHECK(run.reap() == 2);
    CHECK(run.error.empty());
  }
  SECTION("packed") {
    PackedRun run(5, 1, false, false);
    Hostile h(run.drv.config(0), 0);
    run.submit();
    run.submit();
    const std::uint8_t script[] = {7, 0, 0, 0, 0, 0, 0};  // value 0: pop up to 1
    h.apply(script);
    CHECK(run.reap() == 1);
    h.apply(script);
    CHECK(run.reap() == 1);
    CHECK(run.error.empty());
  }
}

TEST_CASE("hostile packed: wrong wrap bits, USED without AVAIL, event suppression", "[model][hostile]") {
  PackedRun run(3, 1, false, false);
  Hostile h(run.drv.config(0), 5);
  const std::uint8_t script[] = {
      6, 1, 0, 0, 0, 0, 0,        // desc[1].flags = USED only
      4, 0, 0, 1, 0, 0, 0,        // device event flags = DISABLE
      3, 0, 0, 0x02, 0x80, 0, 0,  // device event off_wrap = 0x8002
      5, 2, 0, 5, 0, 0, 0,        // desc[2] looks used (wrap 1), id 2
  };
  h.apply(script);
  CHECK(run.drv.ring()[1].flags == kPackedDescFUsed);
  CHECK(run.drv.device_evt()->flags == kRingEventFlagsDisable);
  CHECK(run.drv.device_evt()->off_wrap == 0x8002);
  CHECK(run.drv.ring()[2].flags == (kPackedDescFAvail | kPackedDescFUsed));
  CHECK(run.drv.ring()[2].id == 2);
  for (int i = 0; i < 200; ++i) h.step(4);  // random writes never crash the model
  CHECK(h.writes() == 804);
}
