// The lean benchmark devices (lean_device.hpp) against vpmd's driver rings:
// every buffer comes back exactly once, in the order it was made available,
// with the length the device reported, the ring never sees a value it
// rejects, over many laps of the ring and of the 16-bit indexes; split and
// packed, any order and in order, with and without in-order batching.
#include <catch2/catch.hpp>

#include <deque>
#include <random>
#include <span>
#include <vector>

#include "lean_fixture.hpp"

using namespace vpmd;
using model::lean_test::LeanPair;
using model::lean_test::Tok;

namespace {

template <class Ring>
void exercise(std::uint16_t size, bool batching, std::uint64_t seed, std::uint64_t total) {
  LeanPair<Ring> p(size);
  REQUIRE(p.dev.error().empty());
  p.dev.set_in_order_batching(batching);
  std::mt19937_64 rng(seed);
  std::vector<Tok> toks(size);
  std::vector<Tok*> free_list;
  for (auto& t : toks) free_list.push_back(&t);
  std::deque<Tok*> added, published;  // not yet published / published, not yet served (avail order)
  std::deque<std::pair<Tok*, std::uint32_t>> completed;  // served, not yet reaped: the length the driver must report
  std::uint64_t serial = 0, reaped = 0;
  std::vector<Tok*> out(size);
  std::vector<std::uint32_t> lens(size);

  while (reaped < total) {
    // Driver: add a few buffers, as chains of 1..3 segments or as singles.
    const unsigned want = static_cast<unsigned>(rng() % 9);
    const std::size_t fresh = added.size();  // added before this round, still unpublished
    if (rng() % 4 == 0) {
      const bool writable = rng() % 2 == 0;
      const auto n = std::min<std::size_t>(want, free_list.size());
      std::span<Tok* const> batch(free_list.data() + free_list.size() - n, n);
      const std::uint16_t got = p.q.add_singles(batch, writable, [](Tok* t) {
        return ring::Single{reinterpret_cast<std::uint64_t>(t->data), 64};
      });
      for (std::uint16_t i = 0; i < got; ++i) {
        Tok* t = batch[i];
        t->writable = writable ? 64 : 0;
        added.push_back(t);
      }
      // add_singles takes the span's first `got` (fewer when chains hold descriptors).
      const auto from = free_list.end() - static_cast<std::ptrdiff_t>(n);
      free_list.erase(from, from + got);
    } else {
      for (unsigned i = 0; i < want && !free_list.empty(); ++i) {
        Tok* t = free_list.back();
        const unsigned nseg = 1 + static_cast<unsigned>(rng() % 3);
        const unsigned nread = static_cast<unsigned>(rng() % (nseg + 1));
        ring::Segment segs[3];
        std::uint32_t writable = 0;
        for (unsigned s = 0; s < nseg; ++s) {
          const std::uint32_t len = 1 + static_cast<std::uint32_t>(rng() % 21);  // 3 * 21 <= 64
          segs[s] = {reinterpret_cast<std::uint64_t>(t->data + 21 * s), len, s >= nread};
          writable += s >= nread ? len : 0;
        }
        if (!p.q.add_chain({segs, nseg}, t)) break;  // not enough free descriptors
        t->writable = writable;
        free_list.pop_back();
        added.push_back(t);
      }
    }
    for (std::size_t i = fresh; i < added.size(); ++i) {
      Tok* t = added[i];
      REQUIRE_FALSE(t->outstanding);
      t->outstanding = true;
      t->serial = serial++;
    }
    if (rng() % 3 != 0) {
      p.q.publish();
      published.insert(published.end(), added.begin(), added.end());
      added.clear();
    }

    // Device: serve up to max, reporting written_len (capped at what is writable).
    const auto max = 1 + static_cast<std::uint32_t>(rng() % 40);
    const auto written = static_cast<std::uint32_t>(rng() % 80);
    const std::uint32_t n = p.dev.serve(max, written);
    REQUIRE(p.dev.error().empty());
    REQUIRE(n == std::min<std::size_t>(max, published.size()));
    for (std::uint32_t k = 0; k < n; ++k) {
      Tok* t = published.front();
      published.pop_front();
      // In-order batching names only the batch's last buffer; the driver
      // reports the others as fully written (virtio-v1.2 §2.7.9 / §2.8.9).
      const bool named = !batching || k + 1 == n;
      completed.emplace_back(t, named ? std::min(written, t->writable) : t->writable);
    }

    // Driver: reap some, in avail order, with the expected lengths.
    const auto want_reap = 1 + static_cast<std::size_t>(rng() % size);
    const std::uint16_t got = p.q.reap({out.data(), want_reap}, {lens.data(), want_reap});
    REQUIRE(p.q.broken() == ring::Broken::none);
    REQUIRE(got == std::min(want_reap, completed.size()));
    for (std::uint16_t i = 0; i < got; ++i) {
      const auto [t, len] = completed.front();
      completed.pop_front();
      REQUIRE(out[i] == t);
      REQUIRE(t->outstanding);
      REQUIRE(lens[i] == len);
      t->outstanding = false;
      free_list.push_back(t);
    }
    reaped += got;
  }
  CHECK(p.dev.served() == serial - published.size() - added.size());
}

constexpr std::uint64_t kBuffers = 150'000;  // > 2^16: the split indexes wrap too

}  // namespace

TEMPLATE_TEST_CASE("lean device serves vpmd's rings: every token back once, in order", "[model][lean]",
                   ring::SplitRing<ring::AnyOrder<Tok>>, ring::SplitRing<ring::InOrder<Tok>>,
                   ring::PackedRing<ring::AnyOrder<Tok>>, ring::PackedRing<ring::InOrder<Tok>>) {
  // Packed rings may have any size: an odd one checks the wrap counters off powers of two.
  const std::uint16_t size = TestType::kind == ring::RingKind::split ? 64 : 61;
  SECTION("one used element per buffer") { exercise<TestType>(size, false, 11, kBuffers); }
  if constexpr (TestType::in_order) {
    SECTION("in-order batching: one used element per serve") { exercise<TestType>(size, true, 12, kBuffers); }
  }
  SECTION("ring size 256, as the benchmarks") { exercise<TestType>(256, false, 13, kBuffers / 2); }
}

TEST_CASE("lean split device stops at a head beyond the queue instead of reading past it", "[model][lean]") {
  LeanPair<ring::SplitRing<ring::AnyOrder<Tok>>> p(8);
  Tok t;
  REQUIRE(p.q.add_chain(std::vector<ring::Segment>{{reinterpret_cast<std::uint64_t>(t.data), 64, false}}, &t));
  p.q.publish();
  // Corrupt the avail ring entry (§2.7.6: ring[] follows flags and idx).
  auto* avail_ring = reinterpret_cast<std::uint16_t*>(static_cast<std::uintptr_t>(p.q.areas().driver) + 4);
  avail_ring[0] = 200;
  CHECK(p.dev.serve(8, 0) == 0);
  CHECK_FALSE(p.dev.error().empty());
}

TEST_CASE("lean devices refuse configurations they cannot serve", "[model][lean]") {
  model::QueueConfig c{256, 0x1000, 0x2000, 0x3000, 0, model::identity_translate()};
  c.features = model::feature_bit(model::kFeatureRingPacked);
  CHECK_FALSE(model::LeanSplitDevice(c).error().empty());
  c.features = 0;
  CHECK_FALSE(model::LeanPackedDevice(c).error().empty());
  c.features = model::feature_bit(model::kFeatureIndirectDesc);
  CHECK_FALSE(model::LeanSplitDevice(c).error().empty());
  c.features = 0;
  c.size = 100;
  CHECK_FALSE(model::LeanSplitDevice(c).error().empty());
}
