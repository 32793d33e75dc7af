// Self-tests of SplitDevice against the hand-written driver in split_fixture.hpp.
#include <catch2/catch.hpp>

#include <vpmd/model/pattern.hpp>
#include <vpmd/model/split_device.hpp>

#include "split_fixture.hpp"

using namespace vpmd::model;
using vpmd::model::test::SplitDriver;

namespace {
constexpr std::uint64_t kIndirect = feature_bit(kFeatureIndirectDesc);
constexpr std::uint64_t kInOrder = feature_bit(kFeatureInOrder);
}  // namespace

TEST_CASE("split: one readable buffer goes round", "[model][split]") {
  SplitDriver drv(4);
  SplitDevice dev(drv.config(0));
  REQUIRE(dev.driver_error().empty());
  CHECK_FALSE(dev.pop_avail().has_value());

  fill_pattern({drv.buf(0), 64}, 7, 0);
  drv.set_desc(2, drv.buf(0), 64, 0);
  drv.add(2);
  auto c = dev.pop_avail();
  REQUIRE(c.has_value());
  CHECK(c->id == 2);
  CHECK(c->descs == 1);
  CHECK(c->serial == 0);
  REQUIRE(c->segs.size() == 1);
  CHECK(c->segs[0].data == drv.buf(0));
  CHECK(c->segs[0].len == 64);
  CHECK_FALSE(c->segs[0].device_writable);
  CHECK(check_pattern({c->segs[0].data, 64}, 7, 0) == 64);
  CHECK_FALSE(dev.pop_avail().has_value());

  dev.push_used(*c, 0);
  CHECK(drv.used_idx() == 0);  // not visible before publish
  dev.publish();
  CHECK(drv.used_idx() == 1);
  CHECK(drv.used_elem(0).id == 2);
  CHECK(drv.used_elem(0).len == 0);
  CHECK(dev.counters().consumed == 1);
  CHECK(dev.model_error().empty());
}

TEST_CASE("split: chain of readable then writable descriptors", "[model][split]") {
  SplitDriver drv(8);
  SplitDevice dev(drv.config(0));
  drv.set_desc(5, drv.buf(0), 10, kDescFNext, 1);
  drv.set_desc(1, drv.buf(1), 20, kDescFNext | kDescFWrite, 7);
  drv.set_desc(7, drv.buf(2), 30, kDescFWrite);
  drv.add(5);
  auto c = dev.pop_avail();
  REQUIRE(c.has_value());
  CHECK(c->id == 5);
  CHECK(c->descs == 3);
  REQUIRE(c->segs.size() == 3);
  CHECK(c->readable_bytes() == 10);
  CHECK(c->writable_bytes() == 50);
  CHECK(c->segs[2].data == drv.buf(2));
  dev.push_used(*c, 50);
  dev.publish();
  CHECK(drv.used_elem(0).id == 5);
  CHECK(drv.used_elem(0).len == 50);
  CHECK(dev.in_flight() == 0);
}

TEST_CASE("split: indirect table is followed", "[model][split]") {
  SplitDriver drv(2);
  SplitDevice dev(drv.config(kIndirect));
  auto* table = reinterpret_cast<SplitDesc*>(drv.buf(10));
  table[0] = SplitDesc{test::iova(drv.buf(0)), 12, kDescFNext, 2};
  table[2] = SplitDesc{test::iova(drv.buf(1)), 34, kDescFNext | kDescFWrite, 1};
  table[1] = SplitDesc{test::iova(drv.buf(2)), 56, kDescFWrite, 0};
  drv.set_desc(1, table, 3 * sizeof(SplitDesc), kDescFIndirect);
  drv.add(1);
  auto c = dev.pop_avail();
  REQUIRE(c.has_value());
  CHECK(c->id == 1);
  CHECK(c->descs == 1);
  REQUIRE(c->segs.size() == 3);
  CHECK(c->segs[0].len == 12);
  CHECK(c->segs[1].len == 34);
  CHECK(c->segs[2].len == 56);
  CHECK(c->writable_bytes() == 90);
  CHECK(dev.driver_error().empty());
}

TEST_CASE("split: wrap-around many times, 16-bit indexes included", "[model][split]") {
  for (std::uint16_t size : {1, 2, 4, 16}) {
    SplitDriver drv(size);
    SplitDevice dev(drv.config(0));
    std::uint64_t serial = 0;
    const std::uint32_t rounds = 70000;  // > 65536: avail/used idx wrap past 0xFFFF
    for (std::uint32_t r = 0; r < rounds; ++r) {
      const auto d = static_cast<std::uint16_t>(r % size);
      drv.set_desc(d, drv.buf(d), 16, kDescFWrite);
      drv.add(d);
      auto c = dev.pop_avail();
      REQUIRE(c.has_value());
      REQUIRE(c->id == d);
      REQUIRE(c->serial == serial);
      fill_pattern({c->segs[0].data, 8}, 3, c->serial);
      dev.push_used(*c, 8);
      dev.publish();
      REQUIRE(drv.used_idx() == static_cast<std::uint16_t>(r + 1));
      const UsedElem e = drv.used_elem(static_cast<std::uint16_t>(r));
      REQUIRE(e.id == d);
      REQUIRE(e.len == 8);
      REQUIRE(check_pattern({drv.buf(d), 8}, 3, serial) == 8);
      ++serial;
    }
    CHECK(dev.counters().consumed == rounds);
    CHECK(dev.driver_error().empty());
  }
}

TEST_CASE("split: out-of-order completion and a full ring", "[model][split]") {
  SplitDriver drv(4);
  SplitDevice dev(drv.config(0));
  for (std::uint16_t d = 0; d < 4; ++d) {
    drv.set_desc(d, drv.buf(d), 8, kDescFWrite);
    drv.add(d);
  }
  std::vector<Chain> got;
  while (auto c = dev.pop_avail()) got.push_back(*c);
  REQUIRE(got.size() == 4);
  for (int k : {2, 0, 3, 1}) dev.push_used(got[static_cast<std::size_t>(k)], static_cast<std::uint32_t>(k));
  dev.publish();
  CHECK(drv.used_idx() == 4);
  CHECK(drv.used_elem(0).id == 2);
  CHECK(drv.used_elem(1).id == 0);
  CHECK(drv.used_elem(2).id == 3);
  CHECK(drv.used_elem(3).id == 1);
  CHECK(drv.used_elem(3).len == 1);
}

TEST_CASE("split: IN_ORDER batch as one used entry or one per buffer", "[model][split][in_order]") {
  for (bool batching : {false, true}) {
    SplitDriver drv(4);
    SplitDevice dev(drv.config(kInOrder));
    dev.set_in_order_batching(batching);
    std::uint16_t used_expect = 0;
    for (int round = 0; round < 5; ++round) {  // 5 rounds of 3 on a ring of 4: wraps
      std::vector<Chain> got;
      for (int k = 0; k < 3; ++k) {
        const auto d = static_cast<std::uint16_t>((round * 3 + k) % 4);
        drv.set_desc(d, drv.buf(d), 8, kDescFWrite);
        drv.add(d);
        got.push_back(*dev.pop_avail());
      }
      for (std::size_t k = 0; k < got.size(); ++k) dev.push_used(got[k], static_cast<std::uint32_t>(k + 1));
      // Marker in the slots the batched form must not write.
      for (std::uint16_t k = 1; k < 3; ++k) {
        const UsedElem marker{0xDEAD, 0xBEEF};
        std::memcpy(drv.used_mem.get() + used_ring_off((used_expect + k) & 3u), &marker, sizeof marker);
      }
      dev.publish();
      used_expect = static_cast<std::uint16_t>(used_expect + 3);
      REQUIRE(drv.used_idx() == used_expect);
      const UsedElem first = drv.used_elem(static_cast<std::uint16_t>(used_expect - 3));
      if (batching) {
        CHECK(first.id == got.back().id);  // §2.7.9: id of the LAST buffer's head
        CHECK(first.len == 3);
        CHECK(drv.used_elem(static_cast<std::uint16_t>(used_expect - 2)).id == 0xDEAD);
      } else {
        CHECK(first.id == got.front().id);
        CHECK(drv.used_elem(static_cast<std::uint16_t>(used_expect - 1)).id == got.back().id);
      }
    }
    CHECK(dev.model_error().empty());
  }
}

TEST_CASE("split: IN_ORDER rejects out-of-order push_used as a model misuse", "[model][split][in_order]") {
  SplitDriver drv(4);
  SplitDevice dev(drv.config(kInOrder));
  for (std::uint16_t d = 0; d < 2; ++d) {
    drv.set_desc(d, drv.buf(d), 8, 0);
    drv.add(d);
  }
  auto a = dev.pop_avail();
  auto b = dev.pop_avail();
  dev.push_used(*b, 0);
  CHECK_FALSE(dev.model_error().empty());
  CHECK(dev.pending() == 0);
  (void)a;
}
