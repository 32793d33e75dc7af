#pragma once
// ModelDevice<Queue>: a device that serves one model queue with test policies
// (completion order, written lengths, batch sizes, IN_ORDER batching, payload
// patterns), stepped from the test's thread or run in its own thread.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <vpmd/model/device_queue.hpp>
#include <vpmd/model/layout.hpp>
#include <vpmd/model/pattern.hpp>
#include <vpmd/model/rng.hpp>

namespace vpmd::model {

struct Policy {
  enum class Order : std::uint8_t { in_order, random };
  enum class Written : std::uint8_t { full, random, zero };
  Order order = Order::in_order;        // forced to in_order when IN_ORDER is negotiated
  Written written = Written::full;      // bytes written into each buffer's writable part
  std::uint32_t batch_min = 1;          // buffers completed per publish(): uniform in
  std::uint32_t batch_max = 0;          //   [batch_min, batch_max]; 0 = everything in flight
  bool in_order_batching = false;       // IN_ORDER: publish a batch as ONE used entry (§2.7.9/§2.8.9)
  bool check_payload = false;           // verify pattern(payload_seed, serial, off) in readable bytes
  bool fill_payload = false;            // write pattern(payload_seed, serial, off) into written bytes
  std::uint64_t payload_seed = 0;
  std::uint64_t seed = 1;               // RNG for order, lengths and batch sizes
  // Threaded run(): when idle, enable notifications and sleep until notify()
  // (a kick), as a real device does. A driver that publishes buffers without a
  // needed kick is caught after kick_timeout (lost_kicks(), error()).
  bool wait_for_kick = false;
  std::chrono::milliseconds kick_timeout{500};
};

struct Stats {
  std::uint64_t steps = 0;
  std::uint64_t consumed = 0;    // buffers popped
  std::uint64_t completed = 0;   // buffers pushed used and published
  std::uint64_t interrupts = 0;  // should_interrupt() == true after a publish
  std::uint64_t kicks = 0;       // notify() calls
  std::uint64_t lost_kicks = 0;  // wait_for_kick: buffers found without a kick after kick_timeout
};

template <DeviceQueue Queue>
class ModelDevice {
 public:
  ModelDevice(QueueConfig cfg, Policy policy)
      : q_(std::move(cfg)), policy_(policy), rng_(policy.seed),
        in_order_(has_feature(q_.features(), kFeatureInOrder)) {
    q_.set_in_order_batching(policy_.in_order_batching);
    inflight_.reserve(q_.size());
    spare_.reserve(q_.size());
  }
  ~ModelDevice() { stop(); }
  ModelDevice(const ModelDevice&) = delete;
  ModelDevice& operator=(const ModelDevice&) = delete;

  // Called from the interrupt path (the device's thread when running).
  void on_interrupt(std::function<void()> fn) { on_interrupt_ = std::move(fn); }

  // One round: pop up to max_buffers available buffers, then complete a batch
  // of what is in flight per the policy, publish, and raise an interrupt if
  // the driver's suppression asks for one. Returns buffers completed.
  std::uint32_t step(std::uint32_t max_buffers = UINT32_MAX) {
    stat(stats_.steps, 1);
    std::uint32_t popped = 0;
    while (popped < max_buffers) {
      Chain c = take_spare();
      if (!q_.pop_avail(c)) {
        spare_.push_back(std::move(c));
        break;
      }
      if (policy_.check_payload) check_readable(c);
      inflight_.push_back(std::move(c));
      ++popped;
    }
    stat(stats_.consumed, popped);
    if (inflight_.empty()) return 0;
    const std::uint32_t n = static_cast<std::uint32_t>(inflight_.size());
    const std::uint32_t hi = policy_.batch_max == 0 ? n : std::min(policy_.batch_max, n);
    const auto k = static_cast<std::uint32_t>(rng_.between(std::min(policy_.batch_min, hi), hi));
    complete(k);
    return k;
  }

  // Completes everything in flight (and anything still available).
  std::uint32_t drain() {
    std::uint32_t total = 0;
    for (;;) {
      std::uint32_t popped_any = 0;
      Chain c = take_spare();
      while (q_.pop_avail(c)) {
        if (policy_.check_payload) check_readable(c);
        inflight_.push_back(std::move(c));
        c = take_spare();
        ++popped_any;
      }
      spare_.push_back(std::move(c));
      stat(stats_.consumed, popped_any);
      if (inflight_.empty()) return total;
      const auto n = static_cast<std::uint32_t>(inflight_.size());
      complete(n);
      total += n;
    }
  }

  // The device's own thread: step until stopped (then it returns; what is in
  // flight stays in flight: call drain() after stop() to finish it).
  void run(std::stop_token st) {
    using clock = std::chrono::steady_clock;
    while (!st.stop_requested()) {
      if (step() != 0 || !inflight_.empty()) continue;
      if (!policy_.wait_for_kick) {
        std::this_thread::yield();
        continue;
      }
      // Idle: ask for a kick, then re-check (the driver may have published
      // just before seeing the request, §2.7.10 / §2.8.10).
      const std::uint64_t seen = kicks_.load(std::memory_order_acquire);
      q_.set_notifications(true);
      if (step() == 0 && inflight_.empty()) {
        const auto t0 = clock::now();
        std::uint32_t spins = 0;
        while (!st.stop_requested() && kicks_.load(std::memory_order_acquire) == seen) {
          std::this_thread::yield();
          if (++spins % 256 == 0 && clock::now() - t0 > policy_.kick_timeout) {
            q_.set_notifications(false);
            if (step() != 0 || !inflight_.empty()) {
              // Grace period: the kick may be on its way right now.
              const auto t1 = clock::now();
              while (kicks_.load(std::memory_order_acquire) == seen && clock::now() - t1 < policy_.kick_timeout / 10)
                std::this_thread::yield();
              if (kicks_.load(std::memory_order_acquire) != seen) break;
              stat(stats_.lost_kicks, 1);
              set_error("driver made buffers available but did not notify within kick_timeout although the device "
                        "asked for notifications (virtio-v1.2 §2.7.10 / §2.8.10): check the driver's kick decision");
            }
            break;
          }
        }
      }
      q_.set_notifications(false);
    }
  }

  void start() {
    if (thread_.joinable()) return;
    thread_ = std::jthread([this](std::stop_token st) { run(st); });
  }
  void stop() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    thread_.join();
  }

  // A driver notification; thread-safe (only an atomic counter is touched).
  void notify() {
    kicks_.fetch_add(1, std::memory_order_release);
    stats_.kicks.fetch_add(1, std::memory_order_relaxed);
  }

  Stats stats() const {
    return Stats{stats_.steps.load(std::memory_order_relaxed), stats_.consumed.load(std::memory_order_relaxed),
                 stats_.completed.load(std::memory_order_relaxed), stats_.interrupts.load(std::memory_order_relaxed),
                 stats_.kicks.load(std::memory_order_relaxed), stats_.lost_kicks.load(std::memory_order_relaxed)};
  }

  // Not thread-safe: use while stopped (or from the device's own thread).
  Queue& queue() { return q_; }
  const Queue& queue() const { return q_; }
  std::uint32_t in_flight() const { return static_cast<std::uint32_t>(inflight_.size()); }
  // First problem found: the queue's driver_error(), a payload mismatch, a
  // lost kick, or a model misuse; empty when all is well.
  std::string error() const {
    if (!q_.driver_error().empty()) return "driver error: " + q_.driver_error();
    if (!error_.empty()) return error_;
    if (!q_.model_error().empty()) return "model misuse: " + q_.model_error();
    return {};
  }

 private:
  struct AtomicStats {
    std::atomic<std::uint64_t> steps{0}, consumed{0}, completed{0}, interrupts{0}, kicks{0}, lost_kicks{0};
  };
  static void stat(std::atomic<std::uint64_t>& a, std::uint64_t n) { a.fetch_add(n, std::memory_order_relaxed); }

  Chain take_spare() {
    if (spare_.empty()) return Chain{};
    Chain c = std::move(spare_.back());
    spare_.pop_back();
    return c;
  }

  void set_error(std::string e) {
    if (error_.empty()) error_ = std::move(e);
  }

  void check_readable(const Chain& c) {
    std::uint64_t off = 0;
    for (const Segment& s : c.segs) {
      if (s.device_writable) break;
      const std::size_t bad = check_pattern({s.data, s.len}, policy_.payload_seed, c.serial, off);
      if (bad != s.len) {
        set_error("payload mismatch in buffer serial " + std::to_string(c.serial) + " (id " + std::to_string(c.id) +
                  ") at readable byte " + std::to_string(off + bad) +
                  ": the driver must fill readable bytes with pattern(seed, serial, offset)");
        return;
      }
      off += s.len;
    }
  }

  std::uint32_t written_len(const Chain& c) {
    const std::uint64_t cap = c.writable_bytes();
    const std::uint64_t cap32 = std::min<std::uint64_t>(cap, UINT32_MAX);
    switch (policy_.written) {
      case Policy::Written::full: return static_cast<std::uint32_t>(cap32);
      case Policy::Written::zero: return 0;
      case Policy::Written::random: return static_cast<std::uint32_t>(rng_.between(0, cap32));
    }
    return 0;
  }

  void fill_writable(const Chain& c, std::uint32_t len) {
    std::uint64_t off = 0;
    for (const Segment& s : c.segs) {
      if (!s.device_writable || off >= len) continue;
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(s.len, len - off));
      fill_pattern({s.data, n}, policy_.payload_seed, c.serial, off);
      off += n;
    }
  }

  void complete(std::uint32_t k) {
    const bool random = policy_.order == Policy::Order::random && !in_order_;
    for (std::uint32_t i = 0; i < k; ++i) {
      std::size_t at = 0;
      if (random) {
        at = static_cast<std::size_t>(rng_.between(0, inflight_.size() - 1));
        std::swap(inflight_[at], inflight_.back());
        at = inflight_.size() - 1;
      }
      Chain& c = inflight_[at];
      const std::uint32_t len = written_len(c);
      if (policy_.fill_payload) fill_writable(c, len);
      q_.push_used(c, len);
      spare_.push_back(std::move(c));
      inflight_.erase(inflight_.begin() + static_cast<std::ptrdiff_t>(at));
    }
    q_.publish();
    stat(stats_.completed, k);
    if (q_.should_interrupt()) {
      stat(stats_.interrupts, 1);
      if (on_interrupt_) on_interrupt_();
    }
  }

  Queue q_;
  Policy policy_;
  Rng rng_;
  bool in_order_;
  std::vector<Chain> inflight_;  // popped, in avail order unless Order::random reshuffles
  std::vector<Chain> spare_;     // completed chains kept for their segs' capacity
  std::function<void()> on_interrupt_;
  std::atomic<std::uint64_t> kicks_{0};
  AtomicStats stats_;
  std::string error_;
  std::jthread thread_;
};

}  // namespace vpmd::model
