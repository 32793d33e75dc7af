// The vector burst paths against a hostile device, differentially: the same
// driver operations and the same device writes go to two rings, one driven
// through simd::ScalarPath (the reference) and one through
// simd::VectorPath<level> (issue #8). Whatever the device writes (the
// model's Hostile script, virtio-v1.2 §2.7.8 / §2.8), both must hand back
// the same buffers in the same order with the same lengths, break at the
// same point for the same reason, and keep the same counters; neither may
// crash or touch memory out of bounds; teardown returns every packet once.
//
// Input: byte 0 picks the ring (bit 0 packed, bit 3 EVENT_IDX) and the level
// (bits 4-5: sse4.2, avx2, avx512, the CPU's best; a level the CPU lacks
// becomes its best), byte 1 the size; then driver ops of one byte (+ args),
// op 2 carrying Hostile records.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "../ring/test_memory.hpp"
#include "vpmd/model/hostile.hpp"
#include "vpmd/simd/cpu.hpp"
#include "vpmd/simd/kernel_path.hpp"

namespace {

namespace ring = vpmd::ring;
namespace simd = vpmd::simd;
using vpmd::Packet;
using vpmd::model::Hostile;

unsigned long g_runs = 0, g_broken[8] = {}, g_fused_rx = 0, g_fused_tx = 0, g_level[4] = {};

// Says which check failed (vector and scalar disagreeing is the finding), then traps.
#define FUZZ_CHECK(c)                                                                  \
  do {                                                                                 \
    if (!(c)) {                                                                        \
      std::fprintf(stderr, "vector_fuzz.cpp:%d: check failed: %s\n", __LINE__, #c);   \
      __builtin_trap();                                                                \
    }                                                                                  \
  } while (0)

constexpr uint32_t kRoom = 128;  // bytes per packet buffer
constexpr uint16_t kHdr = 12;

// One side: a ring, its hostile device, and packets of its own.
template <class Ring>
struct Side {
  Side(uint16_t size, uint64_t features) : cfg{.size = size, .features = features, .indirect_entries = 4},
        mem(Ring::layout_for(cfg).total + 64), q(std::move(Ring::create(cfg, mem.ring()).value())),
        dev({size, q.areas().desc, q.areas().driver, q.areas().device,
             features | (Ring::kind == ring::RingKind::packed ? ring::feature::ring_packed : 0),
             vpmd::model::identity_translate()}, 1),
        pkts(std::make_unique<Packet[]>(size_t{size} + 8)), bufs(std::make_unique<std::byte[]>((size_t{size} + 8) * kRoom)),
        out_flag(size_t{size} + 8, false) {
    for (size_t i = 0; i < size_t{size} + 8; ++i) {
      Packet& p = pkts[i];
      std::memset(static_cast<void*>(&p), 0, sizeof p);
      p.buf_addr = bufs.get() + i * kRoom;
      p.buf_iova = reinterpret_cast<uint64_t>(p.buf_addr);
      p.buf_len = kRoom;
    }
  }
  size_t index(const Packet* p) const {
    FUZZ_CHECK(p >= pkts.get() && p < pkts.get() + out_flag.size());  // one of ours
    return static_cast<size_t>(p - pkts.get());
  }
  ring::RingConfig cfg;
  vpmd::test::TestMemory mem;
  Ring q;
  Hostile dev;
  std::unique_ptr<Packet[]> pkts;
  std::unique_ptr<std::byte[]> bufs;
  std::vector<bool> out_flag;
};

template <class Ring>
void same_state(Side<Ring>& a, Side<Ring>& b) {
  FUZZ_CHECK(a.q.broken() == b.q.broken());
  FUZZ_CHECK(a.q.in_flight() == b.q.in_flight());
  FUZZ_CHECK(a.q.free_descriptors() == b.q.free_descriptors());
  FUZZ_CHECK(a.q.next_id() == b.q.next_id());
}

// Taken buffers: same packets (by index), same lens, each out exactly once.
template <class Ring>
void take(Side<Ring>& a, Side<Ring>& b, Packet** oa, Packet** ob, const uint32_t* la, const uint32_t* lb, uint16_t n) {
  for (uint16_t i = 0; i < n; ++i) {
    const size_t ia = a.index(oa[i]), ib = b.index(ob[i]);
    FUZZ_CHECK(ia == ib && la[i] == lb[i]);
    FUZZ_CHECK(a.out_flag[ia] && b.out_flag[ib]);  // never twice, never one not added
    a.out_flag[ia] = b.out_flag[ib] = false;
  }
}

template <class Ring, simd::SimdLevel L>
void run(uint16_t size, uint64_t features, std::span<const uint8_t> s) {
  using Vec = simd::VectorPath<L>;
  Side<Ring> a(size, features), b(size, features);  // a: scalar reference, b: vector
  Packet* oa[64];
  Packet* ob[64];
  uint32_t la[64], lb[64];
  size_t pos = 0, next = 0;
  auto byte = [&]() -> uint8_t { return pos < s.size() ? s[pos++] : 0; };
  // Pick up to k packets not in flight, the same indices on both sides.
  auto pick = [&](unsigned k, Packet** pa, Packet** pb) {
    unsigned got = 0;
    for (unsigned tries = 0; got < k && tries < a.out_flag.size(); ++tries, ++next) {
      const size_t i = next % a.out_flag.size();
      if (a.out_flag[i]) continue;
      pa[got] = &a.pkts[i];
      pb[got++] = &b.pkts[i];
    }
    return got;
  };
  static const bool trace = std::getenv("VECTOR_FUZZ_TRACE") != nullptr;
  while (pos < s.size()) {
    const int op = byte() % 6;
    if (trace) std::fprintf(stderr, "op %d: in flight %u/%u free %u/%u broken %d/%d\n", op, a.q.in_flight(), b.q.in_flight(),
                            a.q.free_descriptors(), b.q.free_descriptors(), int(a.q.broken()), int(b.q.broken()));
    switch (op) {
      case 0: {  // k single-descriptor buffers: RX refill (post) or TX-like (readable, header in headroom)
        const unsigned k = 1 + byte() % 16;
        const uint8_t how = byte();
        Packet* pa[16];
        Packet* pb[16];
        const unsigned got = pick(k, pa, pb);
        for (unsigned i = 0; i < got; ++i) {
          pa[i]->data_off = pb[i]->data_off = static_cast<uint16_t>(kHdr + how % 8);
          pa[i]->data_len = pb[i]->data_len = static_cast<uint16_t>(20 + how % 60);
        }
        uint16_t na, nb;
        if (how & 1) {  // the RX refill: added and made available
          const uint32_t off = how % 8, len = 32u + how % 96u;
          na = simd::ScalarPath::post(a.q, {pa, got}, off, len);
          nb = Vec::post(b.q, {pb, got}, off, len);
        } else {  // readable buffers through the ring's own add (tx_burst's body), published or not yet
          const auto seg = [](Packet* p) { return ring::Single{p->buf_iova + p->data_off - kHdr, uint32_t{p->data_len} + kHdr}; };
          na = a.q.add_singles({pa, got}, false, seg);
          nb = b.q.add_singles({pb, got}, false, seg);
          if (how & 2) {
            simd::ScalarPath::publish(a.q);
            Vec::publish(b.q);
          }
        }
        FUZZ_CHECK(na == nb);
        for (uint16_t i = 0; i < na; ++i) a.out_flag[a.index(pa[i])] = b.out_flag[b.index(pb[i])] = true;
        FUZZ_CHECK(a.q.needs_notify() == b.q.needs_notify());
        break;
      }
      case 1: {  // a chain of 2-3 segments (the vector groups must leave it to the scalar reap)
        Packet* pa[1];
        Packet* pb[1];
        if (pick(1, pa, pb) != 1) break;
        const unsigned nseg = 2 + byte() % 2;
        ring::Segment sa[3], sb[3];
        for (unsigned j = 0; j < nseg; ++j) {
          sa[j] = {pa[0]->buf_iova + 32 * j, 32, j != 0};
          sb[j] = {pb[0]->buf_iova + 32 * j, 32, j != 0};
        }
        const bool ka = a.q.add_chain({sa, nseg}, pa[0]), kb = b.q.add_chain({sb, nseg}, pb[0]);
        FUZZ_CHECK(ka == kb);
        if (ka) a.out_flag[a.index(pa[0])] = b.out_flag[b.index(pb[0])] = true;
        simd::ScalarPath::publish(a.q);
        Vec::publish(b.q);
        break;
      }
      case 2: {  // hostile device writes, the same records on both sides
        const size_t m = 1 + byte() % 8;
        const size_t len = std::min(m * Hostile::kRecordBytes, s.size() - pos);
        a.dev.apply(s.subspan(pos, len));
        b.dev.apply(s.subspan(pos, len));
        pos += len;
        break;
      }
      case 3: {  // reap
        const size_t max = 1 + byte() % 64;
        const uint16_t na = simd::ScalarPath::reap(a.q, {oa, max}, {la, max});
        const uint16_t nb = Vec::reap(b.q, {ob, max}, {lb, max});
        FUZZ_CHECK(na == nb);
        take(a, b, oa, ob, la, lb, na);
        break;
      }
      case 4: {  // RX fused, then the reap for the rest, against one scalar reap
        const auto max = static_cast<uint16_t>(1 + byte() % 64);
        const simd::RxHead h{.hdr = kHdr, .post_off = 0, .port = 7, .queue = 3, .mergeable = (byte() & 1) != 0};
        // Header bytes the fused path reads: flags and num_buffers (§5.1.6).
        const uint8_t seed = byte();
        for (size_t i = 0; i < a.out_flag.size(); ++i) {
          const auto v = static_cast<uint8_t>(seed + i * 37);
          const uint16_t nb = v % 5 == 0 ? 2 : 1;
          for (Side<Ring>* sd : {&a, &b}) {
            sd->bufs[i * kRoom] = std::byte{v};
            std::memcpy(&sd->bufs[i * kRoom + 10], &nb, sizeof nb);
          }
        }
        const uint16_t na = simd::ScalarPath::reap(a.q, {oa, max}, {la, max});
        uint64_t bytes = 0;
        const uint16_t k = Vec::rx(b.q, h, ob, max, bytes);
        uint64_t expect = 0;
        for (uint16_t i = 0; i < k; ++i) {
          lb[i] = ob[i]->data_len + uint32_t{kHdr};
          FUZZ_CHECK(lb[i] >= kHdr && ob[i]->pkt_len == ob[i]->data_len && ob[i]->port == 7 && ob[i]->queue == 3);
          expect += ob[i]->data_len;
        }
        FUZZ_CHECK(bytes == expect);
        g_fused_rx += k;
        const uint16_t m = Vec::reap(b.q, {ob + k, size_t{max} - k}, {lb + k, size_t{max} - k});
        FUZZ_CHECK(na == k + m);
        take(a, b, oa, ob, la, lb, na);
        break;
      }
      default: {  // TX fused, against add_singles of the same run
        const unsigned k = 1 + byte() % 16;
        Packet* pa[16];
        Packet* pb[16];
        const unsigned got = pick(k, pa, pb);
        const uint8_t how = byte();
        // Header sizes: 12 (VERSION_1), 10 (legacy), 20 (hash report), 6 (none
        // real: the kernels do not zero it inline, the scalar fused pass does).
        static constexpr uint16_t kSizes[] = {12, 10, 20, 6};
        const uint16_t th = kSizes[how >> 6];
        unsigned run = 0;  // what tx_burst would add with one bulk add: one segment, headroom for the header
        for (unsigned i = 0; i < got; ++i) {
          const bool plain = (how >> (i % 6) & 1) != 0 || i < 2;
          pa[i]->nb_segs = pb[i]->nb_segs = 1;
          pa[i]->data_off = pb[i]->data_off = static_cast<uint16_t>(plain ? th + i % 4 : th - 1);
          pa[i]->data_len = pb[i]->data_len = static_cast<uint16_t>(10 + i);
          if (run == i && plain) ++run;
        }
        uint64_t bytes = 0;
        const uint16_t nb = Vec::tx(b.q, th, pb, static_cast<uint16_t>(got), bytes);
        const uint16_t na = a.q.add_singles({pa, run}, false, [th](Packet* p) {
          return ring::Single{p->buf_iova + p->data_off - th, uint32_t{p->data_len} + th};
        });
        FUZZ_CHECK(na == nb);
        g_fused_tx += nb;
        uint64_t expect = 0;
        for (uint16_t i = 0; i < na; ++i) {
          a.out_flag[a.index(pa[i])] = b.out_flag[b.index(pb[i])] = true;
          std::memset(pa[i]->buf_addr + pa[i]->data_off - th, 0, th);  // what tx_burst does on the scalar path
          expect += pa[i]->data_len;
        }
        FUZZ_CHECK(bytes == expect);
        simd::ScalarPath::publish(a.q);
        Vec::publish(b.q);
        FUZZ_CHECK(std::memcmp(a.bufs.get(), b.bufs.get(), a.out_flag.size() * kRoom) == 0);
        break;
      }
    }
    same_state(a, b);
  }
  ++g_runs;
  if (a.q.broken() != ring::Broken::none) ++g_broken[static_cast<int>(a.q.broken())];
  // Teardown: every packet still out comes back exactly once, on both sides.
  for (Side<Ring>* sd : {&a, &b}) {
    sd->q.detach_all([&](Packet* p) {
      const size_t i = sd->index(p);
      FUZZ_CHECK(sd->out_flag[i]);
      sd->out_flag[i] = false;
    });
    for (bool o : sd->out_flag) FUZZ_CHECK(!o);
    FUZZ_CHECK(sd->q.in_flight() == 0 && sd->q.free_descriptors() == size);
  }
}

template <class Ring>
void run_level(simd::SimdLevel l, uint16_t size, uint64_t features, std::span<const uint8_t> s) {
  ++g_level[static_cast<int>(l)];
  switch (l) {
    case simd::SimdLevel::sse42: return run<Ring, simd::SimdLevel::sse42>(size, features, s);
    case simd::SimdLevel::avx2: return run<Ring, simd::SimdLevel::avx2>(size, features, s);
    case simd::SimdLevel::avx512: return run<Ring, simd::SimdLevel::avx512>(size, features, s);
    case simd::SimdLevel::scalar: break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const simd::SimdLevel best = simd::best_level(simd::detect_cpu());
  if (size < 2 || best == simd::SimdLevel::scalar) return 0;  // no vector kernels on this CPU
  const uint8_t c = data[0];
  const uint64_t features = c & 8 ? ring::feature::event_idx : 0;
  const bool packed = c & 1;
  static constexpr simd::SimdLevel asked[] = {simd::SimdLevel::sse42, simd::SimdLevel::avx2, simd::SimdLevel::avx512,
                                              simd::SimdLevel::avx512};
  const simd::SimdLevel level = std::min(asked[(c >> 4) & 3], best);
  static constexpr uint16_t split_sizes[] = {4, 8, 16, 32, 64, 128, 256, 1024};
  static constexpr uint16_t packed_sizes[] = {4, 5, 8, 17, 33, 64, 255, 256};
  const uint16_t n = packed ? packed_sizes[data[1] % 8] : split_sizes[data[1] % 8];
  const std::span<const uint8_t> script(data + 2, size - 2);
  if (packed) run_level<simd::PackedAny>(level, n, features, script);
  else run_level<simd::SplitAny>(level, n, features, script);
  return 0;
}

extern "C" const char* vpmd_fuzz_summary() {
  static char buf[320];
  std::snprintf(buf, sizeof buf,
                "%lu runs (sse4.2 %lu, avx2 %lu, avx512 %lu); fused RX %lu, TX %lu buffers; broken: used_idx_overrun %lu, "
                "bad_id %lu, bad_len %lu, bad_flags %lu",
                g_runs, g_level[1], g_level[2], g_level[3], g_fused_rx, g_fused_tx, g_broken[1], g_broken[2], g_broken[3],
                g_broken[4]);
  return buf;
}
