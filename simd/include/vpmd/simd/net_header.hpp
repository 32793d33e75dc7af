#pragma once
// The virtio-net header in front of a TX packet when no offload is asked
// (virtio-v1.2 §5.1.6.2): every field zero (flags 0, gso_type NONE).
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vpmd::simd {

// Offsets in struct virtio_net_hdr (§5.1.6) the RX paths read.
inline constexpr uint32_t hdr_flags_off = 0;
inline constexpr uint32_t hdr_num_buffers_off = 10;
inline constexpr uint8_t hdr_f_data_valid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID

// The header sizes clear_net_header zeroes with overlapping 8-byte stores,
// without a loop (10, 12 and 20 are the sizes virtio-net has, §5.1.6).
inline constexpr uint32_t inline_hdr_min = 8, inline_hdr_max = 32;

// Zeroes hdr bytes at h, storing only if one of them is not zero already.
// The device reads this header's cache line for every packet it takes; a
// buffer that went out before still holds a zero header, and not writing it
// leaves that line shared with the device's core, where a store would make
// the device fetch it from ours again (a transfer per packet on the device
// side; DPDK's virtio PMD skips such stores the same way).
// Always inline: the per-level kernels call it too (Group::zero_header),
// and an out-of-line copy compiled with their -m flags could be the one the
// linker keeps for baseline code (ctest simd_odr_guard).
[[gnu::always_inline]] inline void clear_net_header(std::byte* h, uint32_t hdr) noexcept {
  if (hdr >= inline_hdr_min && hdr <= inline_hdr_max) {
    // Overlapping 8-byte loads and stores cover 8..32 bytes (10, 12 and 20
    // are the header sizes, §5.1.6) without a loop or a call to memset,
    // which a forwarder pays on every packet: a received buffer holds the
    // device's header (num_buffers at least).
    const size_t b = hdr > 16 ? 8 : 0, c = hdr > 16 ? hdr - 16 : 0;
    uint64_t w[4];
    std::memcpy(&w[0], h, 8);
    std::memcpy(&w[1], h + hdr - 8, 8);
    std::memcpy(&w[2], h + b, 8);
    std::memcpy(&w[3], h + c, 8);
    if ((w[0] | w[1] | w[2] | w[3]) == 0) return;
    constexpr uint64_t zero = 0;
    std::memcpy(h, &zero, 8);
    std::memcpy(h + hdr - 8, &zero, 8);
    std::memcpy(h + b, &zero, 8);
    std::memcpy(h + c, &zero, 8);
    return;
  }
  uint64_t any = 0;
  for (uint32_t i = 0; i < hdr; ++i) any |= std::to_integer<uint64_t>(h[i]);
  if (any != 0) std::memset(h, 0, hdr);
}

}  // namespace vpmd::simd
