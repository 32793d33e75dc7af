#include "vpmd/pmd/path_select.hpp"

#include "vpmd/pmd/net_spec.hpp"

namespace vpmd::pmd {

namespace {

// The vector level for an any-order ring: the CPU's best, capped by the user.
// Says why in one reason: level chosen, the cap, what the CPU has.
simd::SimdLevel pick_level(const PathRequest& r, std::string& why) {
  const simd::SimdLevel cpu = simd::best_level(r.cpu);
  const simd::SimdLevel level = std::min(cpu, r.max_simd);
  const std::string facts = std::string("max_simd=") + simd::to_string(r.max_simd) + ", CPU: " + simd::describe_cpu(r.cpu);
  if (level == simd::SimdLevel::scalar)
    why = (r.max_simd == simd::SimdLevel::scalar
               ? "vector paths forbidden by max_simd=scalar (the default, as DPDK's vectorized=1 is opt-in: the "
                 "vector kernels are 1.3-2.3x the scalar paths in bench_burst; ask for sse4.2/avx2/avx512): "
                 "scalar path ("
               : "CPU lacks sse4.2, no vector kernels: scalar path (") +
          facts + ")";
  else if (level < cpu)
    why = std::string("vector path ") + simd::to_string(level) + ": capped by " + facts;
  else
    why = std::string("vector path ") + simd::to_string(level) + ": the CPU's best level (" + facts + ")";
  return level;
}

}  // namespace

PathChoice select_path(const PathRequest& r) {
  PathChoice p;
  if (r.features & net_feature::ring_packed) {
    p.kind = ring::RingKind::packed;
    p.reasons.push_back("RING_PACKED negotiated: packed ring (virtio-v1.2 §2.8)");
  } else {
    p.reasons.push_back("RING_PACKED not negotiated: split ring (virtio-v1.2 §2.7)");
  }
  if ((r.features & net_feature::in_order) && r.allow_in_order) {
    p.policy = simd::Policy::in_order;
    p.reasons.push_back("IN_ORDER negotiated: in-order path, batched completions, no free list "
                        "(the vector kernels serve any-order rings only)");
  } else {
    p.reasons.push_back(r.features & net_feature::in_order
                            ? "IN_ORDER negotiated but in-order path disabled by config: any-order ring"
                            : "IN_ORDER not negotiated: any-order ring (any completion order, chains, indirect)");
    std::string why;
    p.level = pick_level(r, why);
    if (p.level != simd::SimdLevel::scalar) p.policy = simd::Policy::vector;
    p.reasons.push_back(std::move(why));
  }
  p.reasons.push_back(r.features & net_feature::mrg_rxbuf ? "MRG_RXBUF: RX joins num_buffers chains"
                                                          : "no MRG_RXBUF: one RX buffer per frame");
  p.ops = simd::burst_ops(p.kind, p.policy, p.level);
  return p;
}

std::string PathChoice::describe() const {
  std::string s = ops.name;
  s += ": ";
  for (size_t i = 0; i < reasons.size(); ++i) s += (i ? "; " : "") + reasons[i];
  return s;
}

}  // namespace vpmd::pmd
