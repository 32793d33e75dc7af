#include "udp_frame.hpp"

#include <algorithm>
#include <cstring>

namespace vpmd::fwd {

uint16_t ipv4_checksum(const uint8_t* hdr, uint16_t len) {
  uint32_t sum = 0;
  for (uint16_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(hdr[i] << 8 | hdr[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

namespace {
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
}  // namespace

UdpFrame::UdpFrame(const std::array<uint8_t, 6>& dst, const std::array<uint8_t, 6>& src, uint16_t len)
    : len_(std::clamp(len, min_frame, max_frame)) {
  uint8_t* e = bytes_.data();
  std::memcpy(e, dst.data(), 6);
  std::memcpy(e + 6, src.data(), 6);
  put16(e + 12, 0x0800);  // IPv4
  uint8_t* ip = e + eth_hdr_len;
  ip[0] = 0x45;  // version 4, 5 words
  put16(ip + 2, static_cast<uint16_t>(len_ - eth_hdr_len));
  ip[6] = 0x40;  // don't fragment
  ip[8] = 64;    // TTL
  ip[9] = 17;    // UDP
  const uint8_t saddr[4] = {198, 18, 0, 1}, daddr[4] = {198, 18, 0, 2};  // RFC 2544 benchmark range
  std::memcpy(ip + 12, saddr, 4);
  std::memcpy(ip + 16, daddr, 4);
  put16(ip + 10, ipv4_checksum(ip, ipv4_hdr_len));
  uint8_t* udp = ip + ipv4_hdr_len;
  put16(udp, 1024);
  put16(udp + 2, 5001);
  put16(udp + 4, static_cast<uint16_t>(len_ - eth_hdr_len - ipv4_hdr_len));
  // UDP checksum 0: "no checksum", allowed over IPv4 (RFC 768).
  for (uint16_t i = min_frame; i < len_; ++i) e[i] = static_cast<uint8_t>(i);
}

void UdpFrame::write(Packet* p, uint32_t seq) const noexcept {
  std::byte* d = p->data();
  // The usual 64-byte frame with a constant size: the copy is inlined (four
  // 16-byte moves) instead of a call to memcpy per frame, as testpmd's
  // txonly inlines rte_memcpy.
  if (len_ == 64) std::memcpy(d, bytes_.data(), 64);
  else std::memcpy(d, bytes_.data(), len_);
  const uint16_t sport = static_cast<uint16_t>(1024 + seq % 16384);
  d[eth_hdr_len + ipv4_hdr_len] = std::byte{static_cast<uint8_t>(sport >> 8)};
  d[eth_hdr_len + ipv4_hdr_len + 1] = std::byte{static_cast<uint8_t>(sport)};
  p->data_len = len_;
  p->pkt_len = len_;
}

void UdpFrame::write(Packet* const* pkts, uint16_t n, uint32_t seq) const noexcept {
  for (uint16_t i = 0; i < n; ++i) write(pkts[i], seq + i);
}

}  // namespace vpmd::fwd
