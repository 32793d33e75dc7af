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
// kernels are correct (equal to scalar, test/simd/vector_equiv_test.cpp) and
// measure 1.34-2.35x the scalar paths in driver time at every level and
// burst (bench_burst at 71266e7); against DPDK's vhost back end they are
// ahead of the scalar paths on RX (split 24-29 against 42-45, packed 38-39
// against 42-45 cycles per packet at best) and on par on TX (split 66-71
// against 65-70, packed 52-68 against 59-62), vhost-compare runs at
// d3a659e-a20c4ed. They are new code: a caller opts in with max_simd, as
// DPDK's virtio PMD asks for vectorized=1, and one who upgrades keeps the
// path he had.
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
