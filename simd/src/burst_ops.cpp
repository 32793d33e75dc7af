// The four instantiations of the RX and TX bodies and their table entries.
#include "vpmd/simd/burst_ops.hpp"

#include "vpmd/simd/rx_burst.hpp"
#include "vpmd/simd/tx_burst.hpp"

namespace vpmd::simd {

namespace {
template <class Ring>
uint16_t rx_entry(void* q, Packet** out, uint16_t n) noexcept {
  return rx_burst(*static_cast<RxQueue<Ring>*>(q), out, n);
}
template <class Ring>
uint16_t tx_entry(void* q, Packet* const* pkts, uint16_t n) noexcept {
  return tx_burst(*static_cast<TxQueue<Ring>*>(q), pkts, n);
}
template <class Ring>
constexpr BurstOps ops(const char* name) {
  return {&rx_entry<Ring>, &tx_entry<Ring>, name};
}
}  // namespace

const char* to_string(Policy p) noexcept {
  switch (p) {
    case Policy::in_order: return "in-order";
    case Policy::vector: return "vector";
    case Policy::scalar: break;
  }
  return "scalar";
}

const char* to_string(SimdLevel l) noexcept {
  switch (l) {
    case SimdLevel::sse42: return "sse4.2";
    case SimdLevel::avx2: return "avx2";
    case SimdLevel::avx512: return "avx512";
    case SimdLevel::scalar: break;
  }
  return "scalar";
}

BurstOps burst_ops(ring::RingKind kind, Policy policy, SimdLevel level) noexcept {
  if (policy == Policy::vector && level != SimdLevel::scalar) return vector_burst_ops(kind, level);
  if (policy == Policy::vector) policy = Policy::scalar;
  if (kind == ring::RingKind::split)
    return policy == Policy::in_order ? ops<SplitInOrder>("split/in-order") : ops<SplitAny>("split/scalar");
  return policy == Policy::in_order ? ops<PackedInOrder>("packed/in-order") : ops<PackedAny>("packed/scalar");
}

}  // namespace vpmd::simd
