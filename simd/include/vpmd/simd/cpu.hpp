#pragma once
// What the CPU offers the vector paths, read once at start (cpuid through
// the compiler's builtins), and the highest SimdLevel it can run.
#include "vpmd/simd/burst_ops.hpp"

namespace vpmd::simd {

struct CpuCaps {
  bool sse42 = false, avx2 = false;
  // Kernels<avx512> are built for xsimd::avx512bw, which assumes F, CD, DQ and BW.
  bool avx512f = false, avx512cd = false, avx512dq = false, avx512bw = false;
};

CpuCaps detect_cpu() noexcept;

// The highest level whose kernels this CPU can execute.
SimdLevel best_level(const CpuCaps& c) noexcept;

// "avx512bw avx2 sse4.2" or "baseline": for the path selector's reasons.
const char* describe_cpu(const CpuCaps& c) noexcept;

}  // namespace vpmd::simd
