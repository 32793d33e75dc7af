#pragma once
// The dispatch table: one RX and one TX function per queue, bound at start
// by the path selector, one indirect call per burst. Compiled variants:
// {split, packed} x {scalar (any order, chains, indirect), in-order}; the
// vector policy will add entries to the same table.
#include <cstdint>

#include "vpmd/mem/packet.hpp"
#include "vpmd/ring/layout.hpp"

namespace vpmd::simd {

using RxFn = uint16_t (*)(void* queue, Packet** out, uint16_t n) noexcept;
using TxFn = uint16_t (*)(void* queue, Packet* const* pkts, uint16_t n) noexcept;

enum class Policy : uint8_t { scalar, in_order };
const char* to_string(Policy p) noexcept;

// Instruction-set levels for the vector paths, lowest first. A port's
// `max_simd` caps the level the path selector may take (like DPDK's
// --force-max-simd-bitwidth); `scalar` forbids vector paths altogether.
enum class SimdLevel : uint8_t { scalar, sse42, avx2, avx512 };

struct BurstOps {
  RxFn rx = nullptr;
  TxFn tx = nullptr;
  const char* name = "";  // e.g. "split/in-order"
};

// The compiled pair for a ring kind and policy.
BurstOps burst_ops(ring::RingKind kind, Policy policy) noexcept;

}  // namespace vpmd::simd
