// Random sequences of add / publish / kick / device pop / complete / reap /
// teardown, vpmd's ring against the in-tree model device, for every ring kind
// x in-order x indirect x EVENT_IDX. Every token must come back exactly once,
// with the length the device wrote and the bytes it wrote.
#include <catch2/catch.hpp>
#include <deque>
#include <sstream>
#include <unordered_map>

#include "harness.hpp"

using namespace vpmd;
using namespace vpmd::test;
using ring::AnyOrder;
using ring::InOrder;

namespace {

struct Knobs {
  uint16_t size;
  bool indirect;
  bool event_idx;
  bool batching;  // in-order devices: one used entry per batch
  int steps;
  bool teardown;  // stop at a random point and detach everything
};

std::string describe(const char* ring, const Knobs& k, uint64_t seed) {
  std::ostringstream s;
  s << ring << " size=" << k.size << " indirect=" << k.indirect << " event_idx=" << k.event_idx
    << " batching=" << k.batching << " teardown=" << k.teardown << " seed=" << seed;
  return s.str();
}

template <class Ring>
void property_run(const char* name, const Knobs& k, uint64_t seed) {
  INFO(describe(name, k, seed));
  uint64_t features = (k.indirect ? ring::feature::indirect_desc : 0) | (k.event_idx ? ring::feature::event_idx : 0);
  Pair<Ring> p({.size = k.size, .features = features, .indirect_entries = uint16_t(k.indirect ? 4 : 0)});
  p.dev.set_in_order_batching(k.batching);
  std::mt19937_64 rng(seed);
  std::vector<Buf> bufs(size_t{k.size} + 16);
  std::vector<Buf*> free_bufs;
  for (auto& b : bufs) free_bufs.push_back(&b);
  std::deque<model::Chain> popped;
  std::unordered_map<uint64_t, uint32_t> written;  // serial -> length the device wrote
  uint64_t serial = 0, returned = 0;
  std::vector<Buf*> toks(64);
  std::vector<uint32_t> lens(64);
  const unsigned max_segs = std::min<unsigned>(k.size, 3);
  const uint64_t pseed = seed * 31 + 7;

  auto reap = [&](size_t max) {
    const uint16_t n = p.q.reap({toks.data(), max}, {lens.data(), max});
    for (uint16_t i = 0; i < n; ++i) {
      Buf* b = toks[i];
      REQUIRE(b != nullptr);
      REQUIRE(b->outstanding);
      REQUIRE(lens[i] == written.at(b->serial));
      REQUIRE(check_written(*b, pseed, lens[i]));
      written.erase(b->serial);
      b->outstanding = false;
      free_bufs.push_back(b);
      ++returned;
    }
    return n;
  };
  auto complete_one = [&](size_t at) {
    model::Chain c = std::move(popped[at]);
    popped.erase(popped.begin() + static_cast<long>(at));
    const uint32_t cap = static_cast<uint32_t>(c.writable_bytes());
    // In-order batches: skipped buffers count as fully written (virtio-v1.2 §2.8.20).
    const uint32_t len = (Ring::in_order && k.batching) ? cap : static_cast<uint32_t>(rng() % (uint64_t{cap} + 1));
    device_write(c, pseed, len);
    written[c.serial] = len;
    p.dev.push_used(c, len);
  };

  const int stop_at = k.teardown ? static_cast<int>(rng() % static_cast<uint64_t>(k.steps)) : k.steps;
  for (int step = 0; step < stop_at; ++step) {
    switch (rng() % 5) {
      case 0: {  // driver adds and maybe publishes and kicks
        for (unsigned i = 0, n = 1 + rng() % 8; i < n && !free_bufs.empty(); ++i) {
          Buf* b = free_bufs.back();
          shape(*b, rng, max_segs, 64, 0);
          b->serial = serial;
          fill_readable(*b, pseed);
          if (!p.q.add_chain(b->segs, b)) break;
          free_bufs.pop_back();
          b->outstanding = true;
          ++serial;
        }
        if (rng() % 4 != 0) {
          p.q.publish();
          if (p.q.needs_notify()) p.dev.notify();
        }
        break;
      }
      case 1: {  // device takes available buffers and checks what the driver wrote
        model::Chain c;
        for (unsigned n = 1 + rng() % 8; n-- && p.dev.pop_avail(c);) {
          REQUIRE(device_check_readable(c, pseed));
          popped.push_back(c);
        }
        break;
      }
      case 2: {  // device completes some, in order or not, and maybe publishes
        for (unsigned n = 1 + rng() % 8; n-- && !popped.empty();)
          complete_one(Ring::in_order ? 0 : rng() % popped.size());
        if (rng() % 3 != 0) p.dev.publish();
        break;
      }
      default:
        reap(1 + rng() % 64);
        break;
    }
    REQUIRE(p.q.broken() == ring::Broken::none);
    REQUIRE(p.dev.driver_error() == "");
    REQUIRE(p.dev.model_error() == "");
  }

  if (k.teardown) {
    // The device is reset (popped chains are simply forgotten); every token
    // still out must come back through detach_all exactly once.
    uint64_t detached = 0;
    p.q.detach_all([&](Buf* b) {
      REQUIRE(b->outstanding);
      b->outstanding = false;
      ++detached;
    });
    CHECK(returned + detached == serial);
  } else {
    // Drain: the device finishes everything, the driver reaps it all.
    p.q.publish();
    for (int round = 0; round < 100000 && p.q.in_flight() != 0; ++round) {
      model::Chain c;
      while (p.dev.pop_avail(c)) popped.push_back(c);
      while (!popped.empty()) complete_one(Ring::in_order ? 0 : rng() % popped.size());
      p.dev.publish();
      reap(64);
    }
    CHECK(p.q.in_flight() == 0);
    CHECK(returned == serial);
    CHECK(p.q.free_descriptors() == k.size);
  }
  for (auto& b : bufs) CHECK_FALSE(b.outstanding);
  CHECK(p.q.broken() == ring::Broken::none);
  CHECK(p.dev.driver_error() == "");
  CHECK(p.dev.model_error() == "");
}

template <class Ring>
void matrix(const char* name, std::initializer_list<uint16_t> sizes) {
  uint64_t seed = 1;
  for (uint16_t size : sizes)
    for (bool indirect : {false, true})
      for (bool event_idx : {false, true})
        for (bool batching : {false, true}) {
          if (batching && !Ring::in_order) continue;
          for (bool teardown : {false, true}) {
            const int steps = size >= 4096 ? 3000 : 6000;
            property_run<Ring>(name, {size, indirect, event_idx, batching, steps, teardown}, seed++);
          }
        }
}

struct T {};  // tokens are Buf*, declared via the policy below
}  // namespace

TEST_CASE("split ring, any order: random sequences against the model", "[ring][model]") {
  matrix<ring::SplitRing<AnyOrder<Buf>>>("split", {1, 2, 4, 8, 64, 256, 32768});
}
TEST_CASE("split ring, in order: random sequences against the model", "[ring][model]") {
  matrix<ring::SplitRing<InOrder<Buf>>>("split-inorder", {1, 2, 4, 8, 64, 256, 32768});
}
TEST_CASE("packed ring, any order: random sequences against the model", "[ring][model]") {
  matrix<ring::PackedRing<AnyOrder<Buf>>>("packed", {1, 2, 3, 5, 7, 64, 255, 32768});
}
TEST_CASE("packed ring, in order: random sequences against the model", "[ring][model]") {
  matrix<ring::PackedRing<InOrder<Buf>>>("packed-inorder", {1, 2, 3, 5, 7, 64, 255, 32768});
}
