// clear_net_header (simd/net_header.hpp): every header size zeroed exactly,
// nothing outside it touched, a single dirty byte anywhere found.
#include <catch2/catch.hpp>
#include <array>
#include <cstring>

#include "vpmd/simd/net_header.hpp"

using vpmd::simd::clear_net_header;

TEST_CASE("clear_net_header zeroes exactly hdr bytes, for every size", "[simd][unit]") {
  for (uint32_t hdr = 0; hdr <= 40; ++hdr) {
    INFO("hdr " << hdr);
    std::array<std::byte, 64> buf;
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = std::byte{static_cast<uint8_t>(0xA0 + i)};
    std::byte* h = buf.data() + 8;
    clear_net_header(h, hdr);
    for (size_t i = 0; i < buf.size(); ++i) {
      const bool inside = i >= 8 && i < 8 + hdr;
      CHECK(buf[i] == (inside ? std::byte{0} : std::byte{static_cast<uint8_t>(0xA0 + i)}));
    }
    // One non-zero byte anywhere in the header is found and cleared.
    for (uint32_t k = 0; k < hdr; ++k) {
      h[k] = std::byte{1};
      clear_net_header(h, hdr);
      CHECK(h[k] == std::byte{0});
    }
  }
}
