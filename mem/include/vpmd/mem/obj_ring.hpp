#pragma once
// ObjRing: a bounded lock-free multi-producer / multi-consumer ring of small
// trivially-copyable objects (Packet* in PacketPool), after the rte_ring
// design: each side has a head (claimed by CAS) and a tail (published in
// claim order). Bulk operations are all-or-nothing.
//
// Indices are free-running uint32_t; capacity is a power of two, so
// `index & mask` is the slot and `prod - cons` (mod 2^32) is the fill level.
#include <atomic>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <type_traits>

namespace vpmd {

template <class T>
concept RingObject = std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(std::uint64_t);

inline constexpr std::size_t cache_line = 64;

namespace detail {
// Copies n small objects, 4 per step in two 16-byte moves (as rte_ring's
// copies do). For the few dozen a bulk moves, this inline loop beats a call
// to memcpy, which is what the compiler would turn a plain loop into.
template <RingObject T>
inline void copy_objs(T* __restrict dst, const T* __restrict src, std::uint32_t n) noexcept {
  using Pair = std::uint64_t __attribute__((vector_size(16)));
  if constexpr (sizeof(T) == sizeof(std::uint64_t)) {
    for (std::uint32_t k = n / 4; k != 0; --k, src += 4, dst += 4) {
      Pair a, b;
      std::memcpy(&a, src, sizeof(a));
      std::memcpy(&b, src + 2, sizeof(b));
      std::memcpy(dst, &a, sizeof(a));
      std::memcpy(dst + 2, &b, sizeof(b));
    }
    n %= 4;
  }
  for (; n != 0; --n) *dst++ = *src++;
}
}  // namespace detail

template <RingObject T>
class ObjRing {
 public:
  static constexpr std::uint32_t max_capacity = std::uint32_t{1} << 31;

  // Capacity is min_capacity rounded up to a power of two (at least 1).
  // Precondition: min_capacity <= max_capacity.
  explicit ObjRing(std::uint32_t min_capacity)
      : capacity_(std::bit_ceil(min_capacity == 0 ? 1u : min_capacity)),
        mask_(capacity_ - 1),
        slots_(std::make_unique<T[]>(capacity_)) {}

  ObjRing(const ObjRing&) = delete;
  ObjRing& operator=(const ObjRing&) = delete;

  std::uint32_t capacity() const noexcept { return capacity_; }

  // Objects published and not yet claimed. Exact when no operation is in
  // flight; a snapshot otherwise. Safe from any thread.
  std::uint32_t count() const noexcept {
    // cons tail first: it only grows, and prod tail >= any earlier cons tail.
    const std::uint32_t c = cons_.tail.load(std::memory_order_acquire);
    const std::uint32_t p = prod_.tail.load(std::memory_order_acquire);
    const std::uint32_t n = p - c;
    return n > capacity_ ? capacity_ : n;
  }

  // Enqueues all of objs, or nothing if there is not room for all of them.
  bool enqueue_bulk(std::span<const T> objs) noexcept {
    const auto n = static_cast<std::uint32_t>(objs.size());
    if (n == 0) return true;
    std::uint32_t head = prod_.head.load(std::memory_order_acquire);
    for (;;) {
      // acquire pairs with the release store of cons_.tail in dequeue_bulk:
      // the slots we are about to overwrite have been read by their consumer.
      const std::uint32_t cons_tail = cons_.tail.load(std::memory_order_acquire);
      if (n > capacity_ - (head - cons_tail)) return false;
      // The CAS only claims [head, head+n) among producers; it publishes
      // nothing. Acquire (both outcomes) keeps the next iteration's load of
      // the opposite tail after this read of head: a tail older than head
      // would make the free/used count wrap (the bug rte_ring fixed with a
      // fence). On x86 this costs nothing.
      if (prod_.head.compare_exchange_weak(head, head + n, std::memory_order_acquire, std::memory_order_acquire)) break;
    }
    copy_in(head, objs.data(), n);
    publish(prod_, head, n);
    return true;
  }

  // Dequeues exactly out.size() objects, or nothing if fewer are available.
  bool dequeue_bulk(std::span<T> out) noexcept {
    const auto n = static_cast<std::uint32_t>(out.size());
    if (n == 0) return true;
    std::uint32_t head = cons_.head.load(std::memory_order_acquire);
    for (;;) {
      // acquire pairs with the release store of prod_.tail in enqueue_bulk:
      // the slots up to prod tail hold the objects their producer wrote.
      const std::uint32_t prod_tail = prod_.tail.load(std::memory_order_acquire);
      if (n > prod_tail - head) return false;
      if (cons_.head.compare_exchange_weak(head, head + n, std::memory_order_acquire, std::memory_order_acquire)) break;
    }
    copy_out(head, out.data(), n);
    publish(cons_, head, n);
    return true;
  }

  bool enqueue(T obj) noexcept { return enqueue_bulk(std::span<const T>(&obj, 1)); }
  bool dequeue(T& obj) noexcept { return dequeue_bulk(std::span<T>(&obj, 1)); }

 private:
  struct alignas(cache_line) HeadTail {
    std::atomic<std::uint32_t> head{0};
    std::atomic<std::uint32_t> tail{0};
  };

  // Publishes [head, head+n) once every earlier claim on this side is
  // published, so the opposite side sees a gap-free prefix.
  static void publish(HeadTail& side, std::uint32_t head, std::uint32_t n) noexcept {
    // acquire pairs with the release store of the previous claimer: its slot
    // accesses happen-before ours, and so before what our release covers.
    while (side.tail.load(std::memory_order_acquire) != head) pause();
    // release pairs with the acquire load of this tail on the other side (and
    // with the wait above in the next claimer on this side).
    side.tail.store(head + n, std::memory_order_release);
  }

  static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  void copy_in(std::uint32_t head, const T* src, std::uint32_t n) noexcept {
    const std::uint32_t idx = head & mask_;
    const std::uint32_t first = n <= capacity_ - idx ? n : capacity_ - idx;
    detail::copy_objs(slots_.get() + idx, src, first);
    if (first < n) detail::copy_objs(slots_.get(), src + first, n - first);
  }

  void copy_out(std::uint32_t head, T* dst, std::uint32_t n) const noexcept {
    const std::uint32_t idx = head & mask_;
    const std::uint32_t first = n <= capacity_ - idx ? n : capacity_ - idx;
    detail::copy_objs(dst, slots_.get() + idx, first);
    if (first < n) detail::copy_objs(dst + first, slots_.get(), n - first);
  }

  HeadTail prod_;  // producers' line
  HeadTail cons_;  // consumers' line
  alignas(cache_line) const std::uint32_t capacity_;
  const std::uint32_t mask_;
  std::unique_ptr<T[]> slots_;
};

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

}  // namespace vpmd
