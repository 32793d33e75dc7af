// The vector entries of the dispatch table: the same RX/TX bodies as
// burst_ops.cpp, instantiated with VectorPath<level> on the any-order rings.
// Baseline code: the kernels it calls live in simd/src/arch/.
#include "vpmd/simd/burst_ops.hpp"
#include "vpmd/simd/rx_burst.hpp"
#include "vpmd/simd/tx_burst.hpp"

namespace vpmd::simd {

namespace {
template <class Ring, SimdLevel L>
uint16_t rx_entry(void* q, Packet** out, uint16_t n) noexcept {
  return rx_burst<Ring, VectorPath<L>>(*static_cast<RxQueue<Ring>*>(q), out, n);
}
template <class Ring, SimdLevel L>
uint16_t tx_entry(void* q, Packet* const* pkts, uint16_t n) noexcept {
  return tx_burst<Ring, VectorPath<L>>(*static_cast<TxQueue<Ring>*>(q), pkts, n);
}
template <SimdLevel L>
BurstOps ops(ring::RingKind kind, const char* split_name, const char* packed_name) {
  if (kind == ring::RingKind::split) return {&rx_entry<SplitAny, L>, &tx_entry<SplitAny, L>, split_name};
  return {&rx_entry<PackedAny, L>, &tx_entry<PackedAny, L>, packed_name};
}
}  // namespace

BurstOps vector_burst_ops(ring::RingKind kind, SimdLevel level) noexcept {
  switch (level) {
    case SimdLevel::sse42: return ops<SimdLevel::sse42>(kind, "split/vector-sse4.2", "packed/vector-sse4.2");
    case SimdLevel::avx2: return ops<SimdLevel::avx2>(kind, "split/vector-avx2", "packed/vector-avx2");
    case SimdLevel::avx512: return ops<SimdLevel::avx512>(kind, "split/vector-avx512", "packed/vector-avx512");
    case SimdLevel::scalar: break;
  }
  return {};
}

}  // namespace vpmd::simd
