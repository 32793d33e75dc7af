#pragma once
// The dispatch table: one RX and one TX function per queue, bound at start
// by the path selector, one indirect call per burst. Compiled variants:
// {split, packed} x {scalar (any order, chains, indirect), in-order,
// vector (any order, per-ISA kernels: sse4.2, avx2, avx512bw)}.
#include <cstdint>

#include "vpmd/mem/packet.hpp"
#include "vpmd/ring/layout.hpp"

namespace vpmd::simd {

using RxFn = uint16_t (*)(void* queue, Packet** out, uint16_t n) noexcept;
using TxFn = uint16_t (*)(void* queue, Packet* const* pkts, uint16_t n) noexcept;

// vector: the any-order rings, whole groups of descriptors through the
// Kernels of a SimdLevel (vector_kernels.hpp), the scalar ring code for the
// rest; same queue type and results as `scalar`.
enum class Policy : uint8_t { scalar, in_order, vector };
const char* to_string(Policy p) noexcept;

// Instruction-set levels for the vector paths, lowest first. A port's
// `max_simd` caps the level the path selector may take (like DPDK's
// --force-max-simd-bitwidth); `scalar` forbids vector paths altogether.
enum class SimdLevel : uint8_t { scalar, sse42, avx2, avx512 };
const char* to_string(SimdLevel l) noexcept;  // "scalar", "sse4.2", "avx2", "avx512"

struct BurstOps {
  RxFn rx = nullptr;
  TxFn tx = nullptr;
  const char* name = "";  // e.g. "split/in-order"
};

// The compiled pair for a ring kind and policy; `level` picks the kernels of
// Policy::vector (ignored otherwise; scalar with Policy::vector gives the
// scalar pair). The caller checks the CPU has the level (cpu.hpp).
BurstOps burst_ops(ring::RingKind kind, Policy policy, SimdLevel level = SimdLevel::scalar) noexcept;

// The vector pair of one level (vector_ops.cpp).
BurstOps vector_burst_ops(ring::RingKind kind, SimdLevel level) noexcept;

}  // namespace vpmd::simd
