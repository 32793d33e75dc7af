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

const char* to_string(Policy p) noexcept { return p == Policy::in_order ? "in-order" : "scalar"; }

BurstOps burst_ops(ring::RingKind kind, Policy policy) noexcept {
  if (kind == ring::RingKind::split)
    return policy == Policy::in_order ? ops<SplitInOrder>("split/in-order") : ops<SplitAny>("split/scalar");
  return policy == Policy::in_order ? ops<PackedInOrder>("packed/in-order") : ops<PackedAny>("packed/scalar");
}

}  // namespace vpmd::simd
