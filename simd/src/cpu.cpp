// CPU detection for the vector paths: baseline code (no -m flags).
#include "vpmd/simd/cpu.hpp"

namespace vpmd::simd {

CpuCaps detect_cpu() noexcept {
  CpuCaps c;
#if defined(__x86_64__)
  __builtin_cpu_init();
  c.sse42 = __builtin_cpu_supports("sse4.2");
  c.avx2 = __builtin_cpu_supports("avx2");
  c.avx512f = __builtin_cpu_supports("avx512f");
  c.avx512cd = __builtin_cpu_supports("avx512cd");
  c.avx512dq = __builtin_cpu_supports("avx512dq");
  c.avx512bw = __builtin_cpu_supports("avx512bw");
#endif
  return c;
}

SimdLevel best_level(const CpuCaps& c) noexcept {
  if (c.avx512f && c.avx512cd && c.avx512dq && c.avx512bw && c.avx2) return SimdLevel::avx512;
  if (c.avx2 && c.sse42) return SimdLevel::avx2;
  if (c.sse42) return SimdLevel::sse42;
  return SimdLevel::scalar;
}

const char* describe_cpu(const CpuCaps& c) noexcept {
  switch (best_level(c)) {
    case SimdLevel::avx512: return "avx512bw avx2 sse4.2";
    case SimdLevel::avx2: return c.avx512bw ? "avx2 sse4.2 (avx512bw without F/CD/DQ)" : "avx2 sse4.2, no avx512bw";
    case SimdLevel::sse42: return "sse4.2, no avx2";
    case SimdLevel::scalar: break;
  }
  return "baseline x86-64, no sse4.2";
}

}  // namespace vpmd::simd
