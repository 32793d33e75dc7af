#include "vpmd/pmd/path_select.hpp"

#include "vpmd/pmd/net_spec.hpp"

namespace vpmd::pmd {

CpuCaps detect_cpu() {
  CpuCaps c;
#if defined(__x86_64__)
  __builtin_cpu_init();
  c.sse42 = __builtin_cpu_supports("sse4.2");
  c.avx2 = __builtin_cpu_supports("avx2");
  c.avx512bw = __builtin_cpu_supports("avx512bw");
#endif
  return c;
}

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
    p.reasons.push_back("IN_ORDER negotiated: in-order path, batched completions, no free list");
  } else if (r.features & net_feature::in_order) {
    p.reasons.push_back("IN_ORDER negotiated but in-order path disabled by config: scalar path");
  } else {
    p.reasons.push_back("IN_ORDER not negotiated: scalar path (any completion order, chains, indirect)");
  }
  p.reasons.push_back(r.features & net_feature::mrg_rxbuf ? "MRG_RXBUF: RX joins num_buffers chains"
                                                          : "no MRG_RXBUF: one RX buffer per frame");
  p.reasons.push_back(std::string("vector paths not built yet (CPU: ") + (r.cpu.avx512bw ? "avx512bw" : r.cpu.avx2 ? "avx2" : r.cpu.sse42 ? "sse4.2" : "baseline") + ")");
  p.ops = simd::burst_ops(p.kind, p.policy);
  return p;
}

std::string PathChoice::describe() const {
  std::string s = ops.name;
  s += ": ";
  for (size_t i = 0; i < reasons.size(); ++i) s += (i ? "; " : "") + reasons[i];
  return s;
}

}  // namespace vpmd::pmd
