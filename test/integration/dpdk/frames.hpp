#pragma once
// Frames the vhost-user tests send and check: a sequence number and a
// pattern derived from it, so a frame that comes back is checked byte for
// byte; and the checks for testpmd's own txonly frames (UDP/IPv4).
#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "vpmd/mem/packet_pool.hpp"

namespace vpmd::test {

inline constexpr std::array<uint8_t, 6> peer_mac = {0x02, 0, 0, 0, 0, 0x02};
inline constexpr uint16_t ethertype_test = 0x88b5;  // IEEE local experimental

inline uint8_t pattern(uint64_t seq, uint32_t i) { return static_cast<uint8_t>(seq * 31 + i * 7 + (i >> 8)); }

// A frame of `len` bytes, chained over several packets when it does not fit
// one (multi-segment TX). nullptr when the pool is empty.
inline Packet* make_frame(PacketPool& pool, const std::array<uint8_t, 6>& src, uint64_t seq, uint32_t len) {
  Packet* head = nullptr;
  uint32_t at = 0;
  while (at < len) {
    Packet* p = pool.alloc();
    if (p == nullptr) {
      if (head != nullptr) pool.free(head);
      return nullptr;
    }
    const auto n = static_cast<uint16_t>(std::min<uint32_t>(len - at, p->tailroom()));
    auto* d = reinterpret_cast<uint8_t*>(p->append(n));
    for (uint16_t i = 0; i < n; ++i) d[i] = pattern(seq, at + i);
    if (at == 0) {
      std::memcpy(d, peer_mac.data(), 6);
      std::memcpy(d + 6, src.data(), 6);
      d[12] = ethertype_test >> 8;
      d[13] = ethertype_test & 0xff;
      std::memcpy(d + 14, &seq, 8);
      head = p;
    } else {
      head->chain(p);
    }
    at += n;
  }
  return head;
}

// Copies a (possibly chained) frame out.
inline std::string flatten(const Packet* p) {
  std::string s;
  for (; p != nullptr; p = p->next) s.append(reinterpret_cast<const char*>(p->data()), p->data_len);
  return s;
}

// What macswap must return for a frame we sent: MACs swapped, the rest as
// sent. Empty when right, else what is wrong.
inline std::string check_swapped(const std::string& f, const std::array<uint8_t, 6>& ours, uint64_t& seq_out) {
  if (f.size() < 22) return "frame of " + std::to_string(f.size()) + " bytes";
  const auto* d = reinterpret_cast<const uint8_t*>(f.data());
  if (std::memcmp(d, ours.data(), 6) != 0 || std::memcmp(d + 6, peer_mac.data(), 6) != 0) return "MACs not swapped";
  if (d[12] != (ethertype_test >> 8) || d[13] != (ethertype_test & 0xff)) return "ethertype changed";
  std::memcpy(&seq_out, d + 14, 8);
  for (uint32_t i = 22; i < f.size(); ++i)
    if (d[i] != pattern(seq_out, i)) return "payload byte " + std::to_string(i) + " of frame " + std::to_string(seq_out);
  return {};
}

// testpmd txonly: 64-byte UDP/IPv4 frames (--txpkts=64): lengths that agree
// with each other and a valid IPv4 header checksum.
inline std::string check_testpmd_udp(const std::string& f) {
  if (f.size() != 64) return "frame of " + std::to_string(f.size()) + " bytes, testpmd sends 64";
  const auto* d = reinterpret_cast<const uint8_t*>(f.data());
  if (d[12] != 0x08 || d[13] != 0x00) return "not IPv4";
  const uint8_t* ip = d + 14;
  if (ip[0] != 0x45) return "IPv4 version/IHL";
  if (((ip[2] << 8) | ip[3]) != 50) return "IPv4 total length";
  if (ip[9] != 17) return "not UDP";
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += static_cast<uint32_t>((ip[i] << 8) | ip[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  if (sum != 0xffff) return "IPv4 header checksum";
  const uint8_t* udp = ip + 20;
  if (((udp[4] << 8) | udp[5]) != 30) return "UDP length";
  return {};
}

}  // namespace vpmd::test
