#pragma once
// The two ways the RX/TX bodies (rx_burst.hpp, tx_burst.hpp) touch a ring:
//   ScalarPath     the ring's own reap / add_singles / publish (the reference);
//   VectorPath<L>  Kernels<L> (vector_kernels.hpp) on whole groups, then the
//                  ring's scalar reap for whatever a group could not take
//                  (fewer than a group used, a group crossing the ring's end,
//                  a chain, anything the device got wrong), so the result is
//                  the scalar one, buffer for buffer, state for state.
// Each has two fused entries more: rx() (reap + rx_burst's per-packet work
// on whole-packet first buffers) and tx() (tx_burst's leading run of plain
// packets: header zeroed + added); each body takes whatever they leave, the
// same way on both paths. ScalarPath fuses through the rings' reap_each and
// add_each (a sink and a source per buffer, inlined into the ring's loop).
// Both are compiled in baseline translation units; VectorPath calls the
// kernels out of line, once per group run, never per packet.
#include <concepts>
#include <cstring>
#include <span>

#include "vpmd/simd/net_header.hpp"
#include "vpmd/simd/queues.hpp"
#include "vpmd/simd/vector_kernels.hpp"

namespace vpmd::simd {

template <class P>
concept BurstPath = requires {
  { P::vector } -> std::convertible_to<bool>;
  { P::level } -> std::convertible_to<SimdLevel>;
};

// What rx_burst delivers on a whole packet's first buffer (§5.1.6.4): the
// lengths without the header, port and queue, and DATA_VALID as a flag,
// read only with GUEST_CSUM negotiated (RxQueue::guest_csum).
[[gnu::always_inline]] inline void finish_first(Packet* p, const std::byte* hdr_bytes, uint32_t data_len, uint16_t port,
                                                uint16_t queue, bool guest_csum) noexcept {
  p->data_len = static_cast<uint16_t>(data_len);
  p->pkt_len = data_len;
  p->port = port;
  p->queue = queue;
  if (guest_csum && (static_cast<uint8_t>(hdr_bytes[hdr_flags_off]) & hdr_f_data_valid)) p->ol_flags |= ol::rx_csum_good;
}

struct ScalarPath {
  static constexpr bool vector = false;
  static constexpr SimdLevel level = SimdLevel::scalar;
  template <class Ring>
  [[gnu::always_inline]] static uint16_t reap(Ring& r, std::span<Packet*> toks, std::span<uint32_t> lens) noexcept {
    return r.reap(toks, lens);
  }
  // RX fused: the ring's reap with a sink that finishes each whole-packet
  // first buffer as rx_burst's body would (Group::rx_finish is the vector
  // twin), stopping at the first it would not deliver whole (too short for
  // the header, num_buffers != 1): the body then takes it.
  template <class Ring>
  [[gnu::always_inline]] static uint16_t rx(Ring& r, const RxHead& h, Packet** out, uint16_t max, uint64_t& bytes) noexcept {
    const uint32_t hdr = h.hdr;
    const uint16_t post_off = h.post_off, port = h.port, queue = h.queue;
    const bool mergeable = h.mergeable, guest_csum = h.guest_csum;
    uint64_t b = 0;  // a local: `bytes` could alias the packets written
    const uint16_t k = r.reap_each(max, [&](uint16_t i, Packet* p, uint32_t len) __attribute__((always_inline)) {
      if (len < hdr) return false;
      const std::byte* hd = p->buf_addr + post_off;
      if (mergeable) {
        uint16_t nb;
        std::memcpy(&nb, hd + hdr_num_buffers_off, sizeof nb);
        if (nb != 1) return false;
      }
      const uint32_t data_len = len - hdr;
      finish_first(p, hd, data_len, port, queue, guest_csum);
      b += data_len;
      out[i] = p;
      return true;
    });
    bytes += b;
    return k;
  }
  // TX fused: tx_burst's leading run of plain packets (one segment,
  // headroom for the header), each header zeroed and the packet added in
  // the ring's add loop; the body takes the rest.
  template <class Ring>
  [[gnu::always_inline]] static uint16_t tx(Ring& r, uint16_t hdr, Packet* const* pkts, uint16_t n, uint64_t& bytes) noexcept {
    uint64_t b = 0;  // a local: see rx()
    // One loop per usual header size (H; 0: any other), so that the header
    // stores are fixed offsets, as in the vector kernels.
    const auto run = [&]<uint32_t H>() __attribute__((always_inline)) {
      const uint32_t hs = H != 0 ? H : hdr;
      return r.add_each(n, false, [&](uint16_t i, ring::Single& s) __attribute__((always_inline)) -> Packet* {
        Packet* p = pkts[i];
        if (p->nb_segs != 1 || p->data_off < hs) return nullptr;
        const uint32_t off = p->data_off - hs;
        clear_net_header(p->buf_addr + off, hs);
        s = {p->buf_iova + off, uint32_t{p->data_len} + hs};
        b += p->data_len;
        return p;
      });
    };
    const uint16_t k = hdr == 12   ? run.template operator()<12>()
                       : hdr == 10 ? run.template operator()<10>()
                                   : run.template operator()<0>();
    bytes += b;
    return k;
  }
  // RX refill: device-writable single buffers {buf_iova + off, len}, as
  // many as there are free descriptors, made available. Returns how many.
  template <class Ring>
  static uint16_t post(Ring& r, std::span<Packet* const> bufs, uint32_t off, uint32_t len) noexcept {
    const uint16_t n = r.add_singles(bufs, true, [off, len](Packet* p) { return ring::Single{p->buf_iova + off, len}; });
    r.publish();
    return n;
  }
  template <class Ring>
  static void publish(Ring& r) noexcept { r.publish(); }
};

// The any-order rings the vector kernels are written for.
template <class Ring>
concept VectorRing = std::same_as<Ring, SplitAny> || std::same_as<Ring, PackedAny>;

template <SimdLevel L>
struct VectorPath {
  static_assert(L != SimdLevel::scalar);
  static constexpr bool vector = true;
  static constexpr SimdLevel level = L;
  // Scalar steps between kernel calls: at least one group of the widest level.
  static constexpr uint16_t kScalarStep = 8;

  template <VectorRing Ring>
  static uint16_t reap(Ring& r, std::span<Packet*> toks, std::span<uint32_t> lens) noexcept {
    using I = ring::RingInternals<Ring>;
    const auto max = static_cast<uint16_t>(std::min<size_t>(toks.size(), lens.size()));
    uint16_t got = 0;
    while (got < max && I::usable(r)) {
      const auto left = static_cast<uint16_t>(max - got);
      if (left >= 4 && I::group_ready(r)) {  // a kernel call only when a group may be there
        auto s = I::load(r);
        uint16_t k;
        if constexpr (Ring::kind == ring::RingKind::split) k = Kernels<L>::split_reap(s, toks.data() + got, lens.data() + got, left);
        else k = Kernels<L>::packed_reap(s, toks.data() + got, lens.data() + got, left);
        I::store(r, s);
        if (k != 0) I::after_reap(r);  // the same event write the scalar reap makes (§2.7.10, §2.8.10)
        got = static_cast<uint16_t>(got + k);
        if (got == max) break;
      }
      const auto step = std::min<uint16_t>(kScalarStep, static_cast<uint16_t>(max - got));
      const uint16_t m = r.reap(toks.subspan(got, step), lens.subspan(got, step));
      got = static_cast<uint16_t>(got + m);
      if (m < step) break;  // nothing more used (or the ring broke)
    }
    return got;
  }

  // RX fused (Kernels<L>::*_rx): whole groups of plain first buffers
  // reaped and finished in one pass, then whatever whole packets they left
  // (fewer than a group, a group across the ring's end) through the scalar
  // fused pass; rx_burst's body takes the rest.
  template <VectorRing Ring>
  static uint16_t rx(Ring& r, const RxHead& h, Packet** out, uint16_t max, uint64_t& bytes) noexcept {
    using I = ring::RingInternals<Ring>;
    uint16_t k = 0;
    if (max >= 4 && I::usable(r) && I::group_ready(r)) {
      auto s = I::load(r);
      if constexpr (Ring::kind == ring::RingKind::split) k = Kernels<L>::split_rx(s, h, out, max, bytes);
      else k = Kernels<L>::packed_rx(s, h, out, max, bytes);
      if (k != 0) {
        I::store(r, s);
        I::after_reap(r);  // the same event write the scalar reap makes (§2.7.10, §2.8.10)
      }
    }
    return static_cast<uint16_t>(k + ScalarPath::rx(r, h, out + k, static_cast<uint16_t>(max - k), bytes));
  }

  // TX fused (Kernels<L>::*_tx): the leading plain packets; tx_burst's
  // body takes the rest. Fewer than a group, or a header size the kernels
  // do not zero inline: the scalar fused pass, which takes the same packets
  // (a kernel call's setup would only slow a ping-pong's every burst).
  template <VectorRing Ring>
  static uint16_t tx(Ring& r, uint16_t hdr, Packet* const* pkts, uint16_t n, uint64_t& bytes) noexcept {
    using I = ring::RingInternals<Ring>;
    if (n < 4 || hdr < inline_hdr_min || hdr > inline_hdr_max) return ScalarPath::tx(r, hdr, pkts, n, bytes);
    if (!I::usable(r)) return 0;
    auto s = I::load(r);
    uint16_t k;
    if constexpr (Ring::kind == ring::RingKind::split) k = Kernels<L>::split_tx(s, hdr, pkts, n, bytes);
    else k = Kernels<L>::packed_tx(s, hdr, pkts, n, bytes);
    if (k != 0) I::store(r, s);
    return k;
  }

  // TX reclaim and fused add in one kernel call (split rings,
  // Kernels<L>::split_reclaim_tx): what reap(done, reap_max) and then
  // tx() would do, with the ring state copied in and out once. When the
  // kernel's reap stops short of what reap() takes, reap() finishes it and
  // tx() follows, as the two calls would have. `reaped`: completions in done.
  template <VectorRing Ring>
    requires(Ring::kind == ring::RingKind::split)
  static uint16_t reclaim_tx(Ring& r, Packet** done, uint32_t* lens, uint16_t reap_max, uint16_t& reaped, uint16_t hdr,
                             Packet* const* pkts, uint16_t n, uint64_t& bytes) noexcept {
    using I = ring::RingInternals<Ring>;
    reaped = 0;
    if (!I::usable(r)) return 0;  // what reap() and tx() return on a broken ring
    auto s = I::load(r);
    const ReclaimTx k = Kernels<L>::split_reclaim_tx(s, done, lens, reap_max, hdr, pkts, n, bytes);
    I::store(r, s);
    if (k.reaped != 0) I::after_reap(r);  // the same event write the scalar reap makes (§2.7.10)
    reaped = k.reaped;
    if (k.complete) return k.sent;
    reaped = static_cast<uint16_t>(reaped + reap(r, std::span<Packet*>(done + reaped, reap_max - reaped),
                                                 std::span<uint32_t>(lens + reaped, reap_max - reaped)));
    return tx(r, hdr, pkts, n, bytes);
  }

  // RX refill (Kernels<L>::*_post). A packed ring holding added but
  // unpublished buffers (none on an RX ring) goes the scalar way, which
  // publishes them in their order.
  template <VectorRing Ring>
  static uint16_t post(Ring& r, std::span<Packet* const> bufs, uint32_t off, uint32_t len) noexcept {
    using I = ring::RingInternals<Ring>;
    const auto n = static_cast<uint16_t>(std::min<size_t>(bufs.size(), r.free_descriptors()));
    if (n == 0 || !I::usable(r)) return ScalarPath::post(r, bufs, off, len);  // nothing to add: the same publish()
    auto s = I::load(r);
    if constexpr (Ring::kind == ring::RingKind::split) {
      Kernels<L>::split_post(s, bufs.data(), n, off, len);
      I::store(r, s);
      r.publish();  // one release store of avail->idx (§2.7.13.3)
    } else {
      if (s.unpublished != 0) return ScalarPath::post(r, bufs, off, len);
      Kernels<L>::packed_post(s, bufs.data(), n, off, len);
      I::store(r, s);
    }
    return n;
  }

  template <VectorRing Ring>
  static void publish(Ring& r) noexcept {
    if constexpr (Ring::kind == ring::RingKind::split) {
      r.publish();  // one release store of avail->idx: nothing to batch
    } else {
      using I = ring::RingInternals<Ring>;
      auto s = I::load(r);
      Kernels<L>::packed_publish(s);
      I::store(r, s);
    }
  }
};

}  // namespace vpmd::simd
