#pragma once
// The one barrier vocabulary of the ring layer. Every access to a field the
// device also touches goes through these, on plain fields via std::atomic_ref
// (never std::atomic objects laid over DMA memory). Each call site comments
// what it pairs with on the device side and the spec section that asks for it.
//
//  publish(f, v)     release store: everything written before it (descriptors,
//                    ring entries) is visible before f (virtio-v1.2 §2.7.13,
//                    §2.8.21 "memory barrier before updating idx / flags").
//  observe(f)        acquire load: what the device wrote before publishing f
//                    (used ring entries, used descriptor id/len) is visible
//                    after it (§2.7.14, §2.8.22).
//  peek(f) / poke(f) relaxed load/store of a shared field whose ordering is
//                    provided by a neighbouring publish/observe or fence.
//  store_load_fence  the full barrier between publishing available buffers and
//                    reading the device's suppression (or between re-enabling
//                    notifications and re-checking the used ring): a release
//                    store followed by a load may otherwise be reordered
//                    (§2.7.13.4 "suitable memory barrier before reading flags
//                    or avail_event"; Linux virtio_mb). TSan does not model
//                    fences (gcc warns, the tsan preset passes -Wno-tsan): the
//                    accesses they order are all atomic, so TSan still sees no
//                    race; the no-lost-notification property itself is checked
//                    by test/ring/ring_notify_test.
#include <atomic>
#include <concepts>

namespace vpmd::ring::barrier {

template <std::integral T>
inline void publish(T& shared, T v) noexcept {
  std::atomic_ref<T>(shared).store(v, std::memory_order_release);
}

template <std::integral T>
[[nodiscard]] inline T observe(T& shared) noexcept {
  return std::atomic_ref<T>(shared).load(std::memory_order_acquire);
}

template <std::integral T>
[[nodiscard]] inline T peek(T& shared) noexcept {
  return std::atomic_ref<T>(shared).load(std::memory_order_relaxed);
}

template <std::integral T>
inline void poke(T& shared, T v) noexcept {
  std::atomic_ref<T>(shared).store(v, std::memory_order_relaxed);
}

// gcc emits `lock orq $0,(%rsp)` for this on x86-64 (not mfence): the same
// full barrier as Linux's smp_mb and DPDK's rte_smp_mb, at the same cost.
inline void store_load_fence() noexcept { std::atomic_thread_fence(std::memory_order_seq_cst); }

}  // namespace vpmd::ring::barrier
