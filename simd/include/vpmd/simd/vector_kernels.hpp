#pragma once
// The per-ISA vector kernels behind Policy::vector: reap, add and publish on
// the any-order rings, whole batches at a time, each level compiled in its own
// translation unit with its own -m flags (simd/src/arch/kernels_<level>.cpp)
// and explicitly instantiated there; everything else sees only these
// declarations (extern template), so baseline code never inlines an AVX
// instruction. ODR: every function a kernel TU defines with weak linkage must
// carry its level in its name (Kernels<SimdLevel::avx2>, xsimd::batch<T,
// xsimd::avx2>): ctest simd_odr_guard (test/simd/odr_guard.cmake) checks the
// object files for strays.
//
// Contract (the scalar ring methods are the reference; see kernel_path.hpp):
//  reap  takes only whole groups it can validate as the scalar reap would,
//        stops before anything it is unsure of (the scalar reap then takes
//        it, or marks the ring broken), and leaves the same ring state.
//  post  RX refill: adds exactly n device-writable single-descriptor
//        buffers (n <= free descriptors), booked as the ring's add_singles
//        books them (packed: and makes them available, as publish() would).
//  publish (packed) makes everything added available, head flags last.
//  rx    reap + the RX body's work on plain first buffers, fused per group.
#include <cstdint>

#include "vpmd/simd/burst_ops.hpp"
#include "vpmd/simd/ring_state.hpp"

namespace vpmd::simd {

// What Kernels<L>::split_reclaim_tx did: completions reaped, packets added,
// and whether the reap took all that reap() would have (else the caller
// finishes the reap and makes the add, as two calls would).
struct ReclaimTx {
  uint16_t reaped = 0, sent = 0;
  bool complete = false;
};

template <SimdLevel L>
struct Kernels {
  static uint16_t split_reap(SplitState& s, Packet** toks, uint32_t* lens, uint16_t max) noexcept;
  static void split_post(SplitState& s, Packet* const* pkts, uint16_t n, uint32_t off, uint32_t len) noexcept;
  static uint16_t packed_reap(PackedState& s, Packet** toks, uint32_t* lens, uint16_t max) noexcept;
  static void packed_post(PackedState& s, Packet* const* pkts, uint16_t n, uint32_t off, uint32_t len) noexcept;
  static void packed_publish(PackedState& s) noexcept;
  // RX fused: reap whole groups of first buffers and finish each packet as
  // rx_burst's body would (data_len, pkt_len, port, queue, csum flag); stops
  // before any group holding a buffer the body would drop or chain (short,
  // num_buffers != 1), which the body then takes. Adds the bytes delivered.
  static uint16_t split_rx(SplitState& s, const RxHead& h, Packet** out, uint16_t max, uint64_t& bytes) noexcept;
  static uint16_t packed_rx(PackedState& s, const RxHead& h, Packet** out, uint16_t max, uint64_t& bytes) noexcept;
  // TX fused: the leading plain packets (one segment, headroom >= hdr) of
  // pkts, as many as fit: header zeroed, added as add_singles adds them.
  // Returns how many; adds their data bytes.
  static uint16_t split_tx(SplitState& s, uint32_t hdr, Packet* const* pkts, uint16_t n, uint64_t& bytes) noexcept;
  static uint16_t packed_tx(PackedState& s, uint32_t hdr, Packet* const* pkts, uint16_t n, uint64_t& bytes) noexcept;
  // TX reclaim and add in one call (split): the completions reap() would
  // take, at most reap_max, into done/lens, then split_tx. Stops after the
  // reap, complete = false, when it took less than that (fewer than a
  // group, a group across the ring's end or failing a check, an overrun).
  static ReclaimTx split_reclaim_tx(SplitState& s, Packet** done, uint32_t* lens, uint16_t reap_max, uint32_t hdr,
                                    Packet* const* pkts, uint16_t n, uint64_t& bytes) noexcept;

 private:
  // The one group loop behind reap (tokens and lens out) and rx (without
  // and with MRG_RXBUF), one instantiation per mode.
  static constexpr int reap_mode = 0, rx_mode = 1, rx_mrg_mode = 2;
  template <int Mode>
  static uint16_t split_take(SplitState& s, const RxHead* h, Packet** out, uint32_t* lens, uint16_t max, uint64_t& bytes) noexcept;
  template <int Mode>
  [[gnu::noinline]] static bool split_group(SplitState& s, const RxHead* h, Packet** out, uint32_t* lens, uint64_t& bytes,
                                            uint32_t& tail) noexcept;
  [[gnu::noinline]] static uint32_t split_tx_singles(SplitState& s, uint32_t hdr, Packet* const* pkts, uint32_t n,
                                                     uint64_t& bytes) noexcept;
  template <int Mode>
  static uint16_t packed_take(PackedState& s, const RxHead* h, Packet** out, uint32_t* lens, uint16_t max, uint64_t& bytes) noexcept;
};

extern template struct Kernels<SimdLevel::sse42>;
extern template struct Kernels<SimdLevel::avx2>;
extern template struct Kernels<SimdLevel::avx512>;

}  // namespace vpmd::simd
