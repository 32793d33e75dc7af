// Driver thread and device thread over the same rings, as in Linux's
// tools/virtio/ringtest: a TX ring (driver -> device, payload checked by the
// device) and an RX ring (device -> driver, payload checked by the driver),
// 10^7 buffers each way (10^6 under TSan), for split and packed, any order and
// in order. Run clean under TSan: every shared access is paired.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <thread>

#include "harness.hpp"

using namespace vpmd;
using namespace vpmd::test;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kDefaultBuffers = 1'000'000;
#else
constexpr uint64_t kDefaultBuffers = 10'000'000;
#endif

uint64_t buffers_per_direction() {
  if (const char* e = std::getenv("VPMD_THREADS_BUFFERS")) return std::strtoull(e, nullptr, 10);
  return kDefaultBuffers;
}

constexpr uint32_t kPayload = 16;
constexpr uint64_t kTxSeed = 0x7458, kRxSeed = 0x5258;

struct DeviceStats {
  uint64_t tx = 0, rx = 0;
  bool payload_ok = true;
  std::string error;
};

// The device thread: serves both queues until told to stop; completes each
// popped batch in order, or shuffled when the ring is not in order.
template <class Dev>
void device_loop(Dev& tx, Dev& rx, bool shuffle, std::atomic<bool>& stop, DeviceStats& st) {
  std::vector<model::Chain> batch(64);
  std::minstd_rand rng(42);
  auto serve = [&](Dev& q, bool is_tx) {
    size_t n = 0;
    while (n < batch.size() && q.pop_avail(batch[n])) ++n;
    if (n == 0) return false;
    if (shuffle) std::shuffle(batch.begin(), batch.begin() + static_cast<long>(n), rng);
    for (size_t i = 0; i < n; ++i) {
      model::Chain& c = batch[i];
      if (is_tx) {
        if (!device_check_readable(c, kTxSeed)) st.payload_ok = false;
        q.push_used(c, 0);
      } else {
        const auto len = static_cast<uint32_t>(c.writable_bytes());
        device_write(c, kRxSeed, len);
        q.push_used(c, len);
      }
    }
    q.publish();
    (is_tx ? st.tx : st.rx) += n;
    return true;
  };
  while (!stop.load(std::memory_order_relaxed)) {
    const bool a = serve(tx, true), b = serve(rx, false);
    if (!a && !b) std::this_thread::yield();
    if (!tx.driver_error().empty() || !rx.driver_error().empty()) {
      st.error = tx.driver_error() + rx.driver_error();
      return;
    }
  }
}

template <class Ring>
void two_threads(const char* name) {
  const uint64_t total = buffers_per_direction();
  INFO(name << ": " << total << " buffers each way");
  Pair<Ring> tx({.size = 256}), rx({.size = 256});
  std::vector<Buf> tx_bufs(256), rx_bufs(256);
  std::vector<Buf*> tx_free, rx_free;
  for (auto* v : {&tx_bufs, &rx_bufs})
    for (auto& b : *v) b.bytes.assign(kPayload, std::byte{0});
  for (auto& b : tx_bufs) tx_free.push_back(&b);
  for (auto& b : rx_bufs) rx_free.push_back(&b);

  std::atomic<bool> stop{false};
  DeviceStats dst;
  std::thread device([&] { device_loop(tx.dev, rx.dev, !Ring::in_order, stop, dst); });

  uint64_t tx_serial = 0, rx_serial = 0, tx_done = 0, rx_done = 0;
  bool rx_ok = true;
  Buf* toks[64];
  uint32_t lens[64];
  const auto seg_of = [](Buf* b) { return ring::Single{reinterpret_cast<uint64_t>(b->bytes.data()), kPayload}; };
  while ((tx_done < total || rx_done < total) && tx.q.broken() == ring::Broken::none &&
         rx.q.broken() == ring::Broken::none && dst.error.empty()) {
    // TX: stamp payloads, post in a burst, publish once.
    Buf* burst[32];
    size_t n = 0;
    while (n < 32 && !tx_free.empty() && tx_serial + n < total) {
      Buf* b = burst[n] = tx_free.back();
      tx_free.pop_back();
      b->serial = tx_serial + n;
      model::fill_pattern(b->bytes, kTxSeed, b->serial);
      ++n;
    }
    const uint16_t added = tx.q.add_singles(std::span<Buf* const>(burst, n), false, seg_of);
    for (size_t i = added; i < n; ++i) tx_free.push_back(burst[i]);
    tx_serial += added;
    tx.q.publish();
    for (uint16_t k; (k = tx.q.reap(toks, lens)) != 0; tx_done += k)
      for (uint16_t i = 0; i < k; ++i) tx_free.push_back(toks[i]);

    // RX: refill, publish, reap and check what the device wrote.
    n = 0;
    while (n < 32 && !rx_free.empty()) {
      Buf* b = burst[n] = rx_free.back();
      rx_free.pop_back();
      b->serial = rx_serial + n;
      ++n;
    }
    const uint16_t posted = rx.q.add_singles(std::span<Buf* const>(burst, n), true, seg_of);
    for (size_t i = posted; i < n; ++i) rx_free.push_back(burst[i]);
    rx_serial += posted;
    rx.q.publish();
    for (uint16_t k; (k = rx.q.reap(toks, lens)) != 0;) {
      for (uint16_t i = 0; i < k; ++i) {
        if (rx_done + i < total && (lens[i] != kPayload || model::check_pattern(toks[i]->bytes, kRxSeed, toks[i]->serial) != kPayload))
          rx_ok = false;
        rx_free.push_back(toks[i]);
      }
      rx_done += k;
    }
  }
  stop = true;
  device.join();
  CHECK(dst.error == "");
  CHECK(tx.q.broken() == ring::Broken::none);
  CHECK(rx.q.broken() == ring::Broken::none);
  CHECK(tx_done == total);
  CHECK(dst.tx == total);
  CHECK(rx_done >= total);
  CHECK(dst.payload_ok);
  CHECK(rx_ok);
  // Teardown: what is still posted on RX comes back exactly once.
  size_t detached = 0;
  rx.q.detach_all([&](Buf*) { ++detached; });
  CHECK(detached + rx_free.size() == rx_bufs.size());
}

}  // namespace

TEST_CASE("two threads: split ring, any order", "[ring][threads]") { two_threads<ring::SplitRing<ring::AnyOrder<Buf>>>("split"); }
TEST_CASE("two threads: split ring, in order", "[ring][threads]") { two_threads<ring::SplitRing<ring::InOrder<Buf>>>("split-inorder"); }
TEST_CASE("two threads: packed ring, any order", "[ring][threads]") { two_threads<ring::PackedRing<ring::AnyOrder<Buf>>>("packed"); }
TEST_CASE("two threads: packed ring, in order", "[ring][threads]") { two_threads<ring::PackedRing<ring::InOrder<Buf>>>("packed-inorder"); }
