#pragma once
// FreeState: the free-packet invariant of packet.hpp as data, and a
// branch-free check of a whole bulk against it.
//
// A free packet has data_off == headroom, nb_segs == 1, pkt_len == 0,
// data_len == 0 and ol_flags == 0. Bytes 16..31 of a Packet (data_off,
// nb_segs, port, queue, pkt_len, data_len, buf_len) are one 16-byte load;
// ol_flags (32..39) is one more. Both sit on line 0, which the caller has
// just used, so the check adds no cache-line traffic.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <vpmd/mem/packet.hpp>

namespace vpmd {

namespace detail {
using Line0Word = std::uint64_t __attribute__((vector_size(16)));
inline constexpr std::size_t line0_word_offset = offsetof(Packet, data_off);
static_assert(offsetof(Packet, buf_len) + sizeof(Packet::buf_len) == line0_word_offset + sizeof(Line0Word),
              "data_off .. buf_len must be the 16 bytes FreeState loads");

inline Line0Word load_line0_word(const Packet* p) noexcept {
  Line0Word w;
  std::memcpy(&w, reinterpret_cast<const unsigned char*>(p) + line0_word_offset, sizeof(w));
  return w;
}
}  // namespace detail

class FreeState {
 public:
  FreeState(std::uint16_t headroom, std::uint16_t buf_len) noexcept {
    // Built from real Packets so that layout and byte order come from the
    // compiler: which bits matter (mask_) and their free value (bits_).
    Packet clean{};
    clean.data_off = headroom;
    clean.nb_segs = 1;
    Packet mask{};
    mask.data_off = UINT16_MAX;
    mask.nb_segs = UINT16_MAX;
    mask.pkt_len = UINT32_MAX;
    mask.data_len = UINT16_MAX;
    bits_ = detail::load_line0_word(&clean);
    mask_ = detail::load_line0_word(&mask);
    clean.buf_len = buf_len;
    image_ = detail::load_line0_word(&clean);
  }

  // What reset_single stores in bytes 16..31: the free values, the pool's
  // buf_len (which never changes), port and queue 0 (undefined after alloc).
  detail::Line0Word image() const noexcept { return image_; }

  // Puts a one-segment packet (nb_segs is 1 already) of the pool whose
  // image() this is in the free state: two stores, the 16 bytes from
  // data_off to buf_len and ol_flags, whether or not they differ.
  static void reset_single(Packet* p, detail::Line0Word image) noexcept {
    std::memcpy(reinterpret_cast<unsigned char*>(p) + detail::line0_word_offset, &image, sizeof(image));
    p->ol_flags = 0;
  }

  // Accumulates a bulk without a branch per packet: every masked bit is
  // equal in all packets and equal to its free value iff the OR and the AND
  // of the words both equal the free image; ol_flags must OR to 0.
  class Scan {
   public:
    void add(const Packet* p) noexcept {
      const detail::Line0Word w = detail::load_line0_word(p);
      any_ |= w;
      all_ &= w;
      flags_ |= p->ol_flags;
    }
    bool clean(const FreeState& s) const noexcept {
      const detail::Line0Word d = ((any_ & s.mask_) ^ s.bits_) | ((all_ & s.mask_) ^ s.bits_);
      return (d[0] | d[1] | flags_) == 0;
    }

   private:
    detail::Line0Word any_{0, 0};
    detail::Line0Word all_{~std::uint64_t{0}, ~std::uint64_t{0}};
    std::uint64_t flags_ = 0;
  };

 private:
  detail::Line0Word mask_;
  detail::Line0Word bits_;
  detail::Line0Word image_;
};

}  // namespace vpmd
