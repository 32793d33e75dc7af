// The ring's API contract without a device: creation errors, bad input,
// full rings, layout numbers cross-checked against <linux/virtio_ring.h>.
#include <catch2/catch.hpp>
#include <vector>

#include "test_memory.hpp"
#include "vpmd/ring/packed_ring.hpp"
#include "vpmd/ring/split_ring.hpp"

using namespace vpmd::ring;
using vpmd::test::TestMemory;

namespace {
struct Tok { int v; };
using Split = SplitRing<AnyOrder<Tok>>;
using SplitIO = SplitRing<InOrder<Tok>>;
using Packed = PackedRing<AnyOrder<Tok>>;
using PackedIO = PackedRing<InOrder<Tok>>;
}  // namespace

extern "C" unsigned long vpmd_uapi_layout(int what, unsigned n);

static_assert(Virtqueue<Split> && Virtqueue<SplitIO> && Virtqueue<Packed> && Virtqueue<PackedIO>);

TEST_CASE("spec structs match the kernel's <linux/virtio_ring.h>", "[ring][layout]") {
  CHECK(vpmd_uapi_layout(0, 0) == sizeof(SplitDesc));
  CHECK(vpmd_uapi_layout(1, 0) == offsetof(SplitDesc, flags));
  CHECK(vpmd_uapi_layout(2, 0) == offsetof(SplitDesc, next));
  CHECK(vpmd_uapi_layout(3, 0) == sizeof(SplitUsedElem));
  CHECK(vpmd_uapi_layout(4, 0) == sizeof(PackedDesc));
  CHECK(vpmd_uapi_layout(5, 0) == offsetof(PackedDesc, id));
  CHECK(vpmd_uapi_layout(6, 0) == offsetof(PackedDesc, flags));
  CHECK(vpmd_uapi_layout(7, 0) == sizeof(PackedEvent));
  CHECK(vpmd_uapi_layout(9, 0) == (desc_flag::next | desc_flag::write << 4 | desc_flag::indirect << 8));
  CHECK(vpmd_uapi_layout(10, 0) == (desc_flag::avail | desc_flag::used));
  CHECK(vpmd_uapi_layout(11, 0) == (used_f_no_notify | avail_f_no_interrupt << 4));
  CHECK(vpmd_uapi_layout(12, 0) == (event_flag::enable | event_flag::disable << 4 | event_flag::desc << 8));
}

TEST_CASE("legacy split layout matches the kernel's vring_size", "[ring][layout]") {
  for (unsigned n : {1u, 2u, 64u, 256u, 1024u, 32768u}) {
    const Layout l = split_layout(n, LayoutKind::legacy);
    CHECK(l.total == vpmd_uapi_layout(8, n));
    CHECK(l.device % 4096 == 0);
  }
}

TEST_CASE("ring creation rejects bad sizes, small and misaligned memory", "[ring][api]") {
  TestMemory mem(1 << 20);
  for (uint16_t bad : {uint16_t{0}, uint16_t{3}, uint16_t{100}}) {
    auto r = Split::create({.size = bad}, mem.ring());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == EINVAL);
    CHECK_THAT(r.error().message, Catch::Contains("power of two"));
  }
  CHECK_FALSE(Packed::create({.size = 0}, mem.ring()));
  CHECK(Packed::create({.size = 3}, mem.ring()));  // packed rings take any size
  auto legacy_packed = Packed::create({.size = 4, .layout = LayoutKind::legacy}, mem.ring());
  CHECK_FALSE(legacy_packed);

  RingMemory small = mem.ring();
  small.len = 100;
  auto r = Split::create({.size = 256}, small);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("too small"));

  RingMemory skew = mem.ring();
  skew.va += 8;
  skew.iova += 8;
  skew.len -= 8;
  CHECK_FALSE(Split::create({.size = 8}, skew));
  CHECK_FALSE(Packed::create({.size = 8}, skew));
}

TEMPLATE_TEST_CASE("add refuses bad input and a full ring without side effects", "[ring][api]", Split, SplitIO,
                   Packed, PackedIO) {
  TestMemory mem(1 << 16);
  auto r = TestType::create({.size = 4}, mem.ring());
  REQUIRE(r);
  auto& q = *r;
  Tok toks[8]{};
  Segment seg{0x1000, 64, true};
  CHECK_FALSE(q.add_chain({}, &toks[0]));           // no segments
  CHECK_FALSE(q.add_chain({&seg, 1}, nullptr));     // no token
  std::vector<Segment> five(5, seg);
  CHECK_FALSE(q.add_chain(five, &toks[0]));         // longer than the ring, no indirect
  CHECK(q.free_descriptors() == 4);
  CHECK(q.in_flight() == 0);
  for (int i = 0; i < 4; ++i) CHECK(q.add_chain({&seg, 1}, &toks[i]));
  CHECK_FALSE(q.add_chain({&seg, 1}, &toks[4]));    // full
  CHECK(q.free_descriptors() == 0);
  CHECK(q.in_flight() == 4);
  q.publish();
  Tok* out[4];
  uint32_t lens[4];
  CHECK(q.reap(out, lens) == 0);                     // nothing used yet
  CHECK(q.reap({out, 0}, {lens, 0}) == 0);           // empty output
  int detached = 0;
  q.detach_all([&](Tok* t) { CHECK(t == &toks[detached]); ++detached; });
  CHECK(detached == 4);
  CHECK(q.free_descriptors() == 4);
  CHECK(q.in_flight() == 0);
  CHECK(q.broken() == Broken::none);
}

TEMPLATE_TEST_CASE("areas are laid out inside the memory, aligned as the spec asks", "[ring][layout]", Split, Packed) {
  TestMemory mem(1 << 16);
  auto r = TestType::create({.size = 64, .features = feature::indirect_desc, .indirect_entries = 8}, mem.ring());
  REQUIRE(r);
  const RingAreas a = r->areas();
  const uint64_t base = mem.ring().iova;
  CHECK(a.desc == base);
  CHECK(a.desc % 16 == 0);
  CHECK(a.driver % 2 == 0);
  CHECK(a.device % 4 == 0);
  CHECK(a.device > a.driver);
  CHECK(a.device < base + TestType::layout_for({.size = 64, .features = feature::indirect_desc, .indirect_entries = 8}).total);
}

// DPDK's vhost returns a batch of device-readable (TX) buffers with one used
// element and leaves the len field as the driver wrote it (it writes only id
// and flags). A readable buffer has nothing to report, so that len is no
// error; in a writable buffer the same len would be (§2.7.8.1).
namespace {
template <class Ring>
void add_four(Ring& r, Tok (&toks)[4], bool writable) {
  const Segment seg{0x1000, 64, writable};
  for (auto& t : toks) REQUIRE(r.add_chain({&seg, 1}, &t));
  r.publish();
}
// After the device completed all four with one used element.
template <class Ring>
void check_batch(Ring& r, Tok (&toks)[4], bool writable) {
  Tok* out[4];
  uint32_t lens[4];
  if (writable) {
    CHECK(r.reap(out, lens) == 0);
    CHECK(r.broken() == Broken::bad_len);
  } else {
    REQUIRE(r.reap(out, lens) == 4);
    for (int i = 0; i < 4; ++i) CHECK((out[i] == &toks[i] && lens[i] == 0));
    CHECK(r.broken() == Broken::none);
  }
}
}  // namespace

TEST_CASE("in-order: a used batch of readable buffers may carry the driver's own len", "[ring][api]") {
  const bool writable = GENERATE(false, true);
  INFO("writable " << writable);
  TestMemory mem(1 << 16);
  Tok toks[4]{};
  SECTION("packed") {
    auto r = PackedIO::create({.size = 8}, mem.ring());
    REQUIRE(r);
    add_four(*r, toks, writable);
    auto* desc = reinterpret_cast<PackedDesc*>(r->areas().desc);
    // One element in the first slot: the last buffer's id, flags AVAIL =
    // USED = wrap counter 1, len untouched.
    desc[0].id = desc[3].id;
    desc[0].len = writable ? 65 : 64;  // readable: what we wrote; writable: more than the buffer
    desc[0].flags = desc_flag::avail | desc_flag::used;
    check_batch(*r, toks, writable);
  }
  SECTION("split") {
    auto r = SplitIO::create({.size = 8}, mem.ring());
    REQUIRE(r);
    add_four(*r, toks, writable);
    auto* used = reinterpret_cast<SplitUsedHeader*>(r->areas().device);
    auto* elem = reinterpret_cast<SplitUsedElem*>(used + 1);
    elem[0] = {3, writable ? 65u : 64u};  // in-order heads are 0..3
    used->idx = 4;
    check_batch(*r, toks, writable);
  }
}

// Any order, the free descriptors form a queue (split_ring.hpp): a device
// that completes buffers in the order they were made available gets avail
// position p + size naming the same descriptor as position p, whatever the
// burst sizes, so the driver stores no avail entry after the first lap.
// Out of order, the mapping moves and every buffer still comes back right.
TEST_CASE("split any order: the free queue keeps each avail slot's descriptor lap after lap", "[ring][api][free_queue]") {
  const bool shuffle = GENERATE(false, true);
  INFO("shuffle " << shuffle);
  TestMemory mem(1 << 16);
  auto r = Split::create({.size = 8}, mem.ring());
  REQUIRE(r);
  auto& q = *r;
  auto* avail_ring = reinterpret_cast<uint16_t*>(reinterpret_cast<SplitAvailHeader*>(q.areas().driver) + 1);
  auto* used = reinterpret_cast<SplitUsedHeader*>(q.areas().device);
  auto* elem = reinterpret_cast<SplitUsedElem*>(used + 1);
  Tok toks[64]{};
  const Segment seg{0x1000, 64, true};
  std::vector<uint16_t> head_at;  // avail position -> descriptor, as the device reads it
  std::vector<Tok*> tok_at;
  uint16_t used_idx = 0;
  size_t next_tok = 0, reaped = 0;
  for (int burst = 0; burst < 40; ++burst) {
    const int add = 1 + burst % 5, done = 1 + (burst * 3) % 4;
    for (int i = 0; i < add && q.free_descriptors() != 0; ++i) {
      Tok* t = &toks[next_tok++ % 64];
      REQUIRE(q.add_chain({&seg, 1}, t));
      head_at.push_back(avail_ring[(head_at.size()) & 7]);
      tok_at.push_back(t);
    }
    q.publish();
    // The device uses the oldest `done` buffers (two swapped once, shuffled).
    const int n = std::min<int>(done, static_cast<int>(head_at.size()) - used_idx);
    for (int i = 0; i < n; ++i) elem[(used_idx + i) & 7] = {head_at[used_idx + i], 64};
    if (shuffle && burst == 17 && n >= 2) std::swap(elem[used_idx & 7], elem[(used_idx + 1) & 7]);
    used_idx = static_cast<uint16_t>(used_idx + n);
    used->idx = used_idx;
    Tok* out[8];
    uint32_t lens[8];
    const uint16_t got = q.reap(out, lens);
    REQUIRE(got == n);
    for (uint16_t i = 0; i < got; ++i) {
      const size_t p = reaped + i;
      const bool swapped = shuffle && burst == 17 && i < 2;
      CHECK(out[i] == tok_at[swapped ? reaped + 1 - i : p]);
    }
    reaped += got;
    CHECK(q.broken() == Broken::none);
  }
  REQUIRE(head_at.size() > 24);
  size_t moved = 0;
  for (size_t p = 8; p < head_at.size(); ++p) moved += head_at[p] != head_at[p - 8];
  if (!shuffle) CHECK(moved == 0);
  else CHECK(moved > 0);
}
