// The fuzzer is a hostile device: it interleaves driver operations on vpmd's
// ring with arbitrary writes into every device-writable field (the model's
// Hostile script, virtio-v1.2 §2.7.8 / §2.8). Whatever it writes, the driver
// must not crash, read or write out of bounds, hand out a token twice or one
// it never added; and after teardown every token is back exactly once.
//
// Input: byte 0 picks the ring (bit 0 packed, bit 1 in order, bit 2 indirect,
// bit 3 EVENT_IDX), byte 1 the size; then a stream of driver ops, each one
// byte (+ argument bytes), op 2 carrying Hostile records.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "../ring/test_memory.hpp"
#include "vpmd/model/hostile.hpp"
#include "vpmd/ring/packed_ring.hpp"
#include "vpmd/ring/split_ring.hpp"

namespace {

using vpmd::model::Hostile;

// What the runs reached, for the replay summary: a fuzzer that never breaks
// the ring proves nothing about validation.
unsigned long g_runs = 0, g_broken[8] = {};
namespace ring = vpmd::ring;

struct Tok {
  std::byte bytes[96];
  bool out = false;
  uint32_t cap = 0;
};

#define FUZZ_CHECK(c) \
  do {                \
    if (!(c)) __builtin_trap(); \
  } while (0)

template <class Ring>
void run(uint16_t size, uint64_t features, std::span<const uint8_t> s) {
  ring::RingConfig cfg{.size = size, .features = features, .indirect_entries = 4};
  vpmd::test::TestMemory mem(Ring::layout_for(cfg).total + 64);
  auto made = Ring::create(cfg, mem.ring());
  FUZZ_CHECK(made.ok());
  Ring& q = *made;
  uint64_t dev_features = features;
  if constexpr (Ring::kind == ring::RingKind::packed) dev_features |= ring::feature::ring_packed;
  if constexpr (Ring::in_order) dev_features |= ring::feature::in_order;
  Hostile dev({size, q.areas().desc, q.areas().driver, q.areas().device, dev_features,
               vpmd::model::identity_translate()},
              1);
  std::vector<Tok> toks(size_t{size} + 8);
  Tok* out[64];
  uint32_t lens[64];
  size_t pos = 0, next_tok = 0;
  auto byte = [&]() -> uint8_t { return pos < s.size() ? s[pos++] : 0; };

  while (pos < s.size()) {
    switch (byte() % 4) {
      case 0: {  // add up to k buffers of 1..3 segments
        const unsigned k = 1 + byte() % 8;
        for (unsigned i = 0; i < k; ++i) {
          Tok& t = toks[next_tok++ % toks.size()];
          if (t.out) continue;
          const unsigned nseg = 1 + byte() % 3, nread = byte() % (nseg + 1);
          ring::Segment segs[3];
          t.cap = 0;
          for (unsigned j = 0; j < nseg; ++j) {
            segs[j] = {reinterpret_cast<uint64_t>(t.bytes + 32 * j), 32, j >= nread};
            t.cap += j >= nread ? 32 : 0;
          }
          const bool broken = q.broken() != ring::Broken::none;
          const bool added = q.add_chain({segs, nseg}, &t);
          if (broken) FUZZ_CHECK(!added);  // a broken ring hands out nothing
          if (added) t.out = true;
        }
        q.publish();
        (void)q.needs_notify();
        break;
      }
      case 1: {  // reap
        const size_t max = 1 + byte() % 64;
        const bool broken = q.broken() != ring::Broken::none;
        const uint16_t n = q.reap({out, max}, {lens, max});
        if (broken) FUZZ_CHECK(n == 0);
        for (uint16_t i = 0; i < n; ++i) {
          FUZZ_CHECK(out[i] >= toks.data() && out[i] < toks.data() + toks.size());
          FUZZ_CHECK(out[i]->out);       // never twice, never one not added
          FUZZ_CHECK(lens[i] <= out[i]->cap);
          out[i]->out = false;
        }
        break;
      }
      case 2: {  // hostile device writes: m records of 7 bytes
        const size_t m = 1 + byte() % 8;
        const size_t len = std::min(m * Hostile::kRecordBytes, s.size() - pos);
        dev.apply(s.subspan(pos, len));
        pos += len;
        break;
      }
      default: {  // interrupt control
        if (byte() & 1) (void)q.enable_interrupts();
        else q.disable_interrupts();
        (void)q.has_used();
        break;
      }
    }
  }
  ++g_runs;
  if (q.broken() != ring::Broken::none) ++g_broken[static_cast<int>(q.broken())];
  // Teardown: every token still out comes back exactly once.
  q.detach_all([&](Tok* t) {
    FUZZ_CHECK(t >= toks.data() && t < toks.data() + toks.size());
    FUZZ_CHECK(t->out);
    t->out = false;
  });
  for (auto& t : toks) FUZZ_CHECK(!t.out);
  FUZZ_CHECK(q.in_flight() == 0 && q.free_descriptors() == size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t c = data[0];
  const uint64_t features = (c & 4 ? ring::feature::indirect_desc : 0) | (c & 8 ? ring::feature::event_idx : 0);
  const bool packed = c & 1, in_order = c & 2;
  static constexpr uint16_t split_sizes[] = {1, 2, 4, 8, 16, 64, 256, 1024};
  static constexpr uint16_t packed_sizes[] = {1, 2, 3, 5, 8, 17, 64, 255};
  const uint16_t n = packed ? packed_sizes[data[1] % 8] : split_sizes[data[1] % 8];
  const std::span<const uint8_t> script(data + 2, size - 2);
  if (packed && in_order) run<ring::PackedRing<ring::InOrder<Tok>>>(n, features, script);
  else if (packed) run<ring::PackedRing<ring::AnyOrder<Tok>>>(n, features, script);
  else if (in_order) run<ring::SplitRing<ring::InOrder<Tok>>>(n, features, script);
  else run<ring::SplitRing<ring::AnyOrder<Tok>>>(n, features, script);
  return 0;
}

extern "C" const char* vpmd_fuzz_summary() {
  static char buf[256];
  std::snprintf(buf, sizeof buf, "%lu runs; broken: used_idx_overrun %lu, bad_id %lu, bad_len %lu, bad_flags %lu", g_runs,
                g_broken[1], g_broken[2], g_broken[3], g_broken[4]);
  return buf;
}
