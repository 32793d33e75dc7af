// Self-tests of PackedDevice against the hand-written driver in packed_fixture.hpp.
#include <catch2/catch.hpp>

#include <cstring>

#include <vpmd/model/packed_device.hpp>
#include <vpmd/model/pattern.hpp>

#include "packed_fixture.hpp"

using namespace vpmd::model;
using vpmd::model::test::PackedDriver;
using vpmd::model::test::PackedElem;

namespace {
constexpr std::uint64_t kIndirect = feature_bit(kFeatureIndirectDesc);
constexpr std::uint64_t kInOrder = feature_bit(kFeatureInOrder);
}  // namespace

TEST_CASE("packed: one buffer goes round", "[model][packed]") {
  PackedDriver drv(4);
  PackedDevice dev(drv.config(0));
  REQUIRE(dev.driver_error().empty());
  CHECK_FALSE(dev.pop_avail().has_value());
  fill_pattern({drv.buf(0), 32}, 9, 0);
  drv.add(3, {{drv.buf(0), 32, 0}});
  auto c = dev.pop_avail();
  REQUIRE(c.has_value());
  CHECK(c->id == 3);
  CHECK(c->descs == 1);
  REQUIRE(c->segs.size() == 1);
  CHECK(check_pattern({c->segs[0].data, 32}, 9, 0) == 32);
  CHECK_FALSE(dev.pop_avail().has_value());
  dev.push_used(*c, 0);
  CHECK_FALSE(drv.reap().has_value());  // not before publish
  dev.publish();
  auto u = drv.reap();
  REQUIRE(u.has_value());
  CHECK(u->id == 3);
  CHECK((u->flags & kDescFWrite) == 0);
  CHECK(dev.driver_error().empty());
}

TEST_CASE("packed: a descriptor list takes several slots and its id comes from the last", "[model][packed]") {
  PackedDriver drv(5);
  PackedDevice dev(drv.config(0));
  drv.add(1, {{drv.buf(0), 10, 0}, {drv.buf(1), 20, kDescFWrite}, {drv.buf(2), 30, kDescFWrite}});
  drv.ring()[0].id = 77;  // only the last descriptor's id counts (§2.8.6)
  drv.ring()[1].id = 78;
  auto c = dev.pop_avail();
  REQUIRE(c.has_value());
  CHECK(c->id == 1);
  CHECK(c->descs == 3);
  CHECK(c->readable_bytes() == 10);
  CHECK(c->writable_bytes() == 50);
  CHECK(dev.next_avail() == 3);
  dev.push_used(*c, 42);
  dev.publish();
  auto u = drv.reap();
  REQUIRE(u.has_value());
  CHECK(u->id == 1);
  CHECK(u->len == 42);
  CHECK((u->flags & kDescFWrite) != 0);
  CHECK(dev.next_used() == 3);
}

TEST_CASE("packed: indirect table", "[model][packed]") {
  PackedDriver drv(3);
  PackedDevice dev(drv.config(kIndirect));
  auto* table = reinterpret_cast<PackedDesc*>(drv.buf(10));
  table[0] = PackedDesc{test::iova(drv.buf(0)), 11, 0, 0};
  table[1] = PackedDesc{test::iova(drv.buf(1)), 22, 0, kDescFWrite};
  drv.add(2, {{table, 2 * sizeof(PackedDesc), kDescFIndirect}});
  auto c = dev.pop_avail();
  REQUIRE(c.has_value());
  CHECK(c->id == 2);
  CHECK(c->descs == 1);
  REQUIRE(c->segs.size() == 2);
  CHECK(c->segs[0].len == 11);
  CHECK(c->segs[1].device_writable);
}

TEST_CASE("packed: wrap-around on small and odd sizes, lists straddling the end", "[model][packed]") {
  for (std::uint16_t size : {1, 2, 3, 4, 5, 7}) {
    PackedDriver drv(size);
    PackedDevice dev(drv.config(0));
    std::uint64_t serial = 0;
    for (std::uint32_t r = 0; r < 3000; ++r) {
      // List length 1..size, so lists cross the ring's end at every offset.
      const auto len = static_cast<std::uint16_t>(1 + r % size);
      std::vector<PackedElem> elems;
      for (std::uint16_t k = 0; k < len; ++k) elems.push_back({drv.buf(k), 8, kDescFWrite});
      const auto id = static_cast<std::uint16_t>(r % size);
      drv.add(id, elems);
      auto c = dev.pop_avail();
      REQUIRE(c.has_value());
      REQUIRE(c->id == id);
      REQUIRE(c->descs == len);
      REQUIRE(c->serial == serial);
      fill_pattern({c->segs[0].data, 8}, 5, c->serial);
      dev.push_used(*c, 8);
      dev.publish();
      auto u = drv.reap();
      REQUIRE(u.has_value());
      REQUIRE(u->id == id);
      REQUIRE(u->len == 8);
      REQUIRE(check_pattern({drv.buf(0), 8}, 5, serial) == 8);
      REQUIRE(dev.next_used() == drv.used_pos);
      REQUIRE(dev.used_wrap_counter() == drv.used_wrap);
      ++serial;
    }
    CHECK(dev.driver_error().empty());
  }
}

TEST_CASE("packed: out-of-order completion writes used elements in slot order", "[model][packed]") {
  PackedDriver drv(4);
  PackedDevice dev(drv.config(0));
  drv.add(0, {{drv.buf(0), 8, 0}});
  drv.add(1, {{drv.buf(1), 8, 0}, {drv.buf(2), 8, 0}});
  drv.add(2, {{drv.buf(3), 8, kDescFWrite}});
  std::vector<Chain> got;
  while (auto c = dev.pop_avail()) got.push_back(*c);
  REQUIRE(got.size() == 3);
  dev.push_used(got[2], 4);
  dev.push_used(got[0], 0);
  dev.push_used(got[1], 0);
  dev.publish();
  auto a = drv.reap();  // slot 0: id 2, the driver skips 1 slot (id 2 had 1)
  REQUIRE(a.has_value());
  CHECK(a->id == 2);
  CHECK(a->len == 4);
  auto b = drv.reap();  // slot 1: id 0
  REQUIRE(b.has_value());
  CHECK(b->id == 0);
  auto c = drv.reap();  // slot 2: id 1 (skips 2)
  REQUIRE(c.has_value());
  CHECK(c->id == 1);
  CHECK(dev.next_used() == 0);
  CHECK(dev.used_wrap_counter() == false);
  CHECK(drv.used_pos == 0);
}

TEST_CASE("packed: IN_ORDER batch as one used descriptor or one per buffer", "[model][packed][in_order]") {
  for (bool batching : {false, true}) {
    PackedDriver drv(5);
    PackedDevice dev(drv.config(kInOrder));
    dev.set_in_order_batching(batching);
    std::uint16_t id = 0;
    for (int round = 0; round < 7; ++round) {
      std::vector<Chain> got;
      for (int k = 0; k < 2; ++k) {  // 2 buffers of 1 and 2 slots: 3 slots per round on a ring of 5
        std::vector<PackedElem> elems(static_cast<std::size_t>(k + 1), PackedElem{drv.buf(0), 8, kDescFWrite});
        drv.add(id, elems);
        id = static_cast<std::uint16_t>((id + 1) % 5);
        got.push_back(*dev.pop_avail());
      }
      dev.push_used(got[0], 1);
      dev.push_used(got[1], 2);
      const std::uint16_t second_slot = static_cast<std::uint16_t>((drv.used_pos + 1) % 5);
      dev.publish();
      auto u = drv.reap();
      REQUIRE(u.has_value());
      if (batching) {
        CHECK(u->id == got[1].id);  // §2.8.9: the last buffer's id; the driver skips the batch
        CHECK(u->len == 2);
        // reap() skipped the slots of id got[1]; an IN_ORDER driver retires
        // got[0] too, so it skips got[0]'s slots as well.
        drv.skip(got[0].descs);
        CHECK(drv.ring()[second_slot].id != got[0].id);  // nothing was written for got[0]
      } else {
        CHECK(u->id == got[0].id);
        auto v = drv.reap();
        REQUIRE(v.has_value());
        CHECK(v->id == got[1].id);
      }
      REQUIRE(dev.next_used() == drv.used_pos);
    }
    CHECK(dev.model_error().empty());
    CHECK(dev.driver_error().empty());
  }
}
