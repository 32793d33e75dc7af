#pragma once
// txonly frames: Ethernet + IPv4 + UDP, as testpmd's txonly builds them.
// One template per port; each frame copies it and varies the UDP source
// port, so the IPv4 header (and its checksum) stays the same.
#include <array>
#include <cstdint>

#include "vpmd/mem/packet.hpp"

namespace vpmd::fwd {

inline constexpr uint16_t eth_hdr_len = 14, ipv4_hdr_len = 20, udp_hdr_len = 8;
inline constexpr uint16_t min_frame = eth_hdr_len + ipv4_hdr_len + udp_hdr_len;
inline constexpr uint16_t max_frame = 2048;

// RFC 1071 one's-complement checksum of an IPv4 header (checksum field 0).
uint16_t ipv4_checksum(const uint8_t* hdr, uint16_t len);

class UdpFrame {
 public:
  // len: whole frame without FCS, min_frame..max_frame.
  UdpFrame(const std::array<uint8_t, 6>& dst, const std::array<uint8_t, 6>& src, uint16_t len);
  uint16_t size() const { return len_; }
  // Writes frame `seq` (UDP source port 1024 + seq % 16384) into an empty packet.
  void write(Packet* p, uint32_t seq) const noexcept;
  // Frames seq, seq+1, ... into n empty packets: one call per burst.
  void write(Packet* const* pkts, uint16_t n, uint32_t seq) const noexcept;
  const uint8_t* bytes() const { return bytes_.data(); }

 private:
  std::array<uint8_t, max_frame> bytes_{};
  uint16_t len_;
};

}  // namespace vpmd::fwd
