#pragma once
// Time for vpmd-fwd: the TSC for busy cycles, CLOCK_MONOTONIC for rates.
#include <time.h>

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace vpmd::fwd {

inline uint64_t now_ns() noexcept {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(t.tv_nsec);
}

// Cycle counter for "busy cycles per packet". Under QEMU's TCG this is the
// emulated TSC: compare figures within one machine only.
inline uint64_t cycles() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return now_ns();
#endif
}

}  // namespace vpmd::fwd
