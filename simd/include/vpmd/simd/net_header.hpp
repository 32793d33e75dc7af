#pragma once
// The virtio-net header in front of a TX packet when no offload is asked
// (virtio-v1.2 §5.1.6.2): every field zero (flags 0, gso_type NONE).
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vpmd::simd {

// Zeroes hdr bytes at h, storing only if one of them is not zero already.
// The device reads this header's cache line for every packet it takes; a
// buffer that went out before still holds a zero header, and not writing it
// leaves that line shared with the device's core, where a store would make
// the device fetch it from ours again (a transfer per packet on the device
// side; DPDK's virtio PMD skips such stores the same way).
inline void clear_net_header(std::byte* h, uint32_t hdr) noexcept {
  uint64_t any = 0;
  if (hdr >= 8 && hdr <= 32) {
    // Overlapping 8-byte loads cover 8..32 bytes without a loop.
    uint64_t w[4];
    std::memcpy(&w[0], h, 8);
    std::memcpy(&w[1], h + hdr - 8, 8);
    std::memcpy(&w[2], h + (hdr > 16 ? 8 : 0), 8);
    std::memcpy(&w[3], h + (hdr > 16 ? hdr - 16 : 0), 8);
    any = w[0] | w[1] | w[2] | w[3];
  } else {
    for (uint32_t i = 0; i < hdr; ++i) any |= std::to_integer<uint64_t>(h[i]);
  }
  if (any != 0) std::memset(h, 0, hdr);
}

}  // namespace vpmd::simd
