// ModelDevice driven stepwise by the test drivers in drivers.hpp: every
// policy, both ring formats, small and odd sizes, payload both ways.
#include <catch2/catch.hpp>

#include <vpmd/model/model_device.hpp>
#include <vpmd/model/packed_device.hpp>
#include <vpmd/model/split_device.hpp>

#include "drivers.hpp"

using namespace vpmd::model;
using vpmd::model::test::PackedRun;
using vpmd::model::test::SplitRun;

namespace {

struct Case {
  const char* name;
  Policy policy;
  bool in_order_feature;
};

std::vector<Case> cases() {
  std::vector<Case> v;
  Policy p;
  p.check_payload = p.fill_payload = true;
  p.payload_seed = 0xABCD;
  v.push_back({"in order, full length", p, false});
  Policy r = p;
  r.order = Policy::Order::random;
  r.written = Policy::Written::random;
  r.batch_min = 1;
  r.batch_max = 3;
  r.seed = 42;
  v.push_back({"random order, random length, random batches", r, false});
  Policy z = r;
  z.written = Policy::Written::zero;
  z.seed = 7;
  v.push_back({"random order, nothing written", z, false});
  Policy io = p;
  io.batch_min = 1;
  io.batch_max = 4;
  io.seed = 9;
  v.push_back({"IN_ORDER, one used entry per buffer", io, true});
  io.in_order_batching = true;
  v.push_back({"IN_ORDER, one used entry per batch", io, true});
  return v;
}

template <class Queue, class Run>
void exercise(Run& run, const Case& c, std::uint64_t features) {
  QueueConfig cfg = run.drv.config(features);
  ModelDevice<Queue> dev(std::move(cfg), c.policy);
  Rng rng(c.policy.seed * 31 + run.drv.size);
  const std::uint64_t target = 3000;
  while (run.next_serial < target) {
    for (auto k = rng.between(0, 3); k > 0 && run.next_serial < target; --k) run.submit();
    dev.step(static_cast<std::uint32_t>(rng.between(1, 4)));
    run.reap();
    REQUIRE(dev.error().empty());
    REQUIRE(run.error.empty());
  }
  dev.drain();
  run.reap();
  INFO(dev.error() << " / " << run.error);
  CHECK(dev.error().empty());
  CHECK(run.error.empty());
  CHECK(run.reaped == target);
  CHECK(dev.in_flight() == 0);
  CHECK(dev.stats().completed == target);
  CHECK(dev.stats().consumed == target);
}

}  // namespace

TEST_CASE("ModelDevice<SplitDevice> policies", "[model][harness][split]") {
  for (const Case& c : cases()) {
    for (std::uint16_t size : {1, 2, 4, 8}) {
      DYNAMIC_SECTION(c.name << ", size " << size) {
        const std::uint64_t f = c.in_order_feature ? feature_bit(kFeatureInOrder) : 0;
        SplitRun run(size, c.policy.payload_seed, c.in_order_feature, true);
        exercise<SplitDevice>(run, c, f);
      }
    }
  }
}

TEST_CASE("ModelDevice<PackedDevice> policies", "[model][harness][packed]") {
  for (const Case& c : cases()) {
    for (std::uint16_t size : {1, 2, 3, 5, 8}) {
      DYNAMIC_SECTION(c.name << ", size " << size) {
        const std::uint64_t f = c.in_order_feature ? feature_bit(kFeatureInOrder) : 0;
        PackedRun run(size, c.policy.payload_seed, c.in_order_feature, true);
        exercise<PackedDevice>(run, c, f);
      }
    }
  }
}

TEST_CASE("ModelDevice catches a wrong payload from the driver", "[model][harness]") {
  SplitRun run(4, 5, false, true);
  Policy p;
  p.check_payload = true;
  p.payload_seed = 6;  // the driver used seed 5
  ModelDevice<SplitDevice> dev(run.drv.config(0), p);
  run.submit();
  dev.step();
  CHECK(dev.error().find("payload mismatch") != std::string::npos);
}

TEST_CASE("ModelDevice: random written lengths cover 0 and the full capacity", "[model][harness]") {
  SplitRun run(8, 1, false, false);
  Policy p;
  p.written = Policy::Written::random;
  p.fill_payload = true;
  p.payload_seed = 1;
  ModelDevice<SplitDevice> dev(run.drv.config(0), p);
  bool saw_zero = false, saw_full = false;
  for (int i = 0; i < 4000; ++i) {
    run.submit();
    dev.step();
    const std::uint16_t used = run.drv.used_idx();
    while (run.drv.last_used != used) {
      const UsedElem e = run.drv.used_elem(run.drv.last_used);
      saw_zero = saw_zero || e.len == 0;
      saw_full = saw_full || e.len == test::kWriteBytes;
      run.retire(static_cast<std::uint16_t>(e.id), e.len);
      ++run.drv.last_used;
    }
  }
  CHECK(saw_zero);
  CHECK(saw_full);
  CHECK(run.error.empty());
}
