// A lean device in its own thread against vpmd's driver ring in this one, as
// in bench_ring's two-thread rows: every token back exactly once, the ring
// never broken, and (under the tsan preset) no data race in either side's
// shared-memory accesses.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "lean_fixture.hpp"

using namespace vpmd;
using model::lean_test::LeanPair;
using model::lean_test::Tok;

namespace {

template <class Ring>
void two_threads(std::uint16_t burst, bool batching) {
  constexpr std::uint64_t kTotal = 100'000;
  LeanPair<Ring> p(256);
  REQUIRE(p.dev.error().empty());
  p.dev.set_in_order_batching(batching);
  std::vector<Tok> toks(256);
  std::vector<Tok*> free_list;
  for (auto& t : toks) free_list.push_back(&t);
  std::atomic<bool> stop{false};
  std::thread device([&] {
    while (!stop.load(std::memory_order_relaxed))
      if (p.dev.serve(burst, 0) == 0) std::this_thread::yield();
  });
  std::vector<Tok*> out(burst);
  std::vector<std::uint32_t> lens(burst);
  std::uint64_t sent = 0, done = 0, twice = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (done < kTotal && p.q.broken() == ring::Broken::none && std::chrono::steady_clock::now() < deadline) {
    const auto n = std::min<std::size_t>({burst, free_list.size(), kTotal - sent});
    std::span<Tok* const> batch(free_list.data() + free_list.size() - n, n);
    const std::uint16_t added = p.q.add_singles(batch, false, [](Tok* t) {
      return ring::Single{reinterpret_cast<std::uint64_t>(t->data), 64};
    });
    for (std::uint16_t i = 0; i < added; ++i) batch[i]->outstanding = true;
    free_list.resize(free_list.size() - added);
    sent += added;
    p.q.publish();
    const std::uint16_t k = p.q.reap({out.data(), burst}, {lens.data(), burst});
    for (std::uint16_t i = 0; i < k; ++i) {
      twice += out[i]->outstanding ? 0 : 1;
      out[i]->outstanding = false;
      free_list.push_back(out[i]);
    }
    done += k;
    if (k == 0) std::this_thread::yield();
  }
  stop = true;
  device.join();
  CHECK(p.q.broken() == ring::Broken::none);
  CHECK(p.dev.error().empty());
  CHECK(twice == 0);
  CHECK(done == kTotal);
  CHECK(p.dev.served() == kTotal);
}

}  // namespace

TEMPLATE_TEST_CASE("lean device thread vs vpmd ring thread", "[model][lean][threads]",
                   ring::SplitRing<ring::AnyOrder<Tok>>, ring::SplitRing<ring::InOrder<Tok>>,
                   ring::PackedRing<ring::AnyOrder<Tok>>, ring::PackedRing<ring::InOrder<Tok>>) {
  for (std::uint16_t burst : {1, 32}) {
    two_threads<TestType>(burst, false);
    if constexpr (TestType::in_order) two_threads<TestType>(burst, true);
  }
}
