#pragma once
// The path selector: a pure function from what was negotiated, what the CPU
// offers and what the user asked, to the burst functions bound at start and
// the reasons, printed at start and unit-tested as a table.
#include <string>
#include <vector>

#include "vpmd/simd/burst_ops.hpp"
#include "vpmd/simd/cpu.hpp"

namespace vpmd::pmd {

using simd::CpuCaps;     // moved to simd/ (cpu.hpp), next to the kernels it gates
using simd::detect_cpu;

// The level the selector may take when nobody asks: scalar. The vector
// kernels are correct (equal to scalar, test/simd/vector_equiv_test.cpp) but
// measure 1.1-1.25x the scalar paths in callgrind instructions per packet and
// 0.95-1.45x in time (bench_burst), under issue #8's bar of 1.3x at every
// level: a caller opts in with max_simd.
inline constexpr simd::SimdLevel kDefaultMaxSimd = simd::SimdLevel::scalar;

struct PathRequest {
  uint64_t features = 0;   // negotiated
  CpuCaps cpu;
  bool allow_in_order = true;  // the user may forbid the in-order path
  simd::SimdLevel max_simd = kDefaultMaxSimd;  // the user's cap on vector paths
};

struct PathChoice {
  ring::RingKind kind = ring::RingKind::split;
  simd::Policy policy = simd::Policy::scalar;
  simd::SimdLevel level = simd::SimdLevel::scalar;  // the kernels' level when policy == vector
  simd::BurstOps ops;
  std::vector<std::string> reasons;
  std::string describe() const;  // "split/vector-avx2: reason; reason"
};

PathChoice select_path(const PathRequest& req);

}  // namespace vpmd::pmd
