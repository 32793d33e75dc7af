#pragma once
// The path selector: a pure function from what was negotiated, what the CPU
// offers and what the user asked, to the burst functions bound at start and
// the reasons, printed at start and unit-tested as a table.
#include <string>
#include <vector>

#include "vpmd/simd/burst_ops.hpp"

namespace vpmd::pmd {

struct CpuCaps {
  bool sse42 = false, avx2 = false, avx512bw = false;
};
CpuCaps detect_cpu();

struct PathRequest {
  uint64_t features = 0;   // negotiated
  CpuCaps cpu;
  bool allow_in_order = true;  // the user may forbid the in-order path
  simd::SimdLevel max_simd = simd::SimdLevel::avx512;  // the user's cap on vector paths
};

struct PathChoice {
  ring::RingKind kind = ring::RingKind::split;
  simd::Policy policy = simd::Policy::scalar;
  simd::BurstOps ops;
  std::vector<std::string> reasons;
  std::string describe() const;  // "split/scalar: reason; reason"
};

PathChoice select_path(const PathRequest& req);

}  // namespace vpmd::pmd
