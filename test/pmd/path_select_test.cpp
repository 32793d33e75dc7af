// The path selector as a table: (negotiated features, CPU, config) -> burst
// ops and reasons. Pure, so every row is checked without a device.
#include <catch2/catch.hpp>

#include "vpmd/pmd/net_spec.hpp"
#include "vpmd/pmd/path_select.hpp"

using namespace vpmd;
using namespace vpmd::pmd;

namespace {
bool mentions(const PathChoice& p, const std::string& what) {
  for (const auto& r : p.reasons)
    if (r.find(what) != std::string::npos) return true;
  return false;
}
}  // namespace

TEST_CASE("path selector table", "[pmd][path]") {
  struct Row {
    uint64_t features;
    bool allow_in_order;
    ring::RingKind kind;
    simd::Policy policy;
    const char* name;
    const char* reason;
  };
  const uint64_t base = net_feature::version_1 | net_feature::mrg_rxbuf;
  const Row rows[] = {
      {base, true, ring::RingKind::split, simd::Policy::scalar, "split/scalar", "IN_ORDER not negotiated"},
      {base | net_feature::ring_packed, true, ring::RingKind::packed, simd::Policy::scalar, "packed/scalar", "RING_PACKED negotiated"},
      {base | net_feature::in_order, true, ring::RingKind::split, simd::Policy::in_order, "split/in-order", "IN_ORDER negotiated: in-order path"},
      {base | net_feature::in_order | net_feature::ring_packed, true, ring::RingKind::packed, simd::Policy::in_order, "packed/in-order", "IN_ORDER negotiated"},
      {base | net_feature::in_order, false, ring::RingKind::split, simd::Policy::scalar, "split/scalar", "disabled by config"},
      {net_feature::version_1, true, ring::RingKind::split, simd::Policy::scalar, "split/scalar", "no MRG_RXBUF"},
  };
  for (const Row& r : rows) {
    INFO(feature_names(r.features) << " allow_in_order=" << r.allow_in_order);
    const PathChoice p = select_path({.features = r.features, .cpu = {}, .allow_in_order = r.allow_in_order});
    CHECK(p.kind == r.kind);
    CHECK(p.policy == r.policy);
    CHECK(std::string(p.ops.name) == r.name);
    CHECK(p.ops.rx != nullptr);
    CHECK(p.ops.tx != nullptr);
    CHECK(mentions(p, r.reason));
    CHECK(p.describe().rfind(r.name, 0) == 0);
  }
  // Four distinct compiled pairs, no copies.
  CHECK(simd::burst_ops(ring::RingKind::split, simd::Policy::scalar).rx != simd::burst_ops(ring::RingKind::split, simd::Policy::in_order).rx);
  CHECK(simd::burst_ops(ring::RingKind::packed, simd::Policy::scalar).tx != simd::burst_ops(ring::RingKind::split, simd::Policy::scalar).tx);
}

TEST_CASE("feature names are readable", "[pmd]") {
  CHECK(feature_names(net_feature::mac | net_feature::version_1) == "MAC|VERSION_1");
  CHECK(feature_names(0) == "none");
  CHECK(feature_names(1ull << 20) == "bit20");
  CHECK(net_hdr_size(net_feature::version_1) == 12);
  CHECK(net_hdr_size(net_feature::mrg_rxbuf) == 12);
  CHECK(net_hdr_size(0) == 10);
}

TEST_CASE("path selector picks the vector level: CPU's best, capped by max_simd, explained", "[pmd][path][simd]") {
  const uint64_t base = net_feature::version_1 | net_feature::mrg_rxbuf;
  CpuCaps avx512;
  avx512.sse42 = avx512.avx2 = avx512.avx512f = avx512.avx512cd = avx512.avx512dq = avx512.avx512bw = true;
  CpuCaps avx2;
  avx2.sse42 = avx2.avx2 = true;
  CpuCaps sse;
  sse.sse42 = true;
  struct Row {
    uint64_t features;
    CpuCaps cpu;
    simd::SimdLevel cap;
    simd::Policy policy;
    simd::SimdLevel level;
    const char* name;
    const char* reason;
  };
  const Row rows[] = {
      {base, avx512, simd::SimdLevel::avx512, simd::Policy::vector, simd::SimdLevel::avx512, "split/vector-avx512", "the CPU's best level"},
      {base, avx512, simd::SimdLevel::avx2, simd::Policy::vector, simd::SimdLevel::avx2, "split/vector-avx2", "capped by max_simd=avx2"},
      {base, avx512, simd::SimdLevel::sse42, simd::Policy::vector, simd::SimdLevel::sse42, "split/vector-sse4.2", "capped by max_simd=sse4.2"},
      {base, avx512, simd::SimdLevel::scalar, simd::Policy::scalar, simd::SimdLevel::scalar, "split/scalar", "forbidden by max_simd=scalar"},
      {base | net_feature::ring_packed, avx2, simd::SimdLevel::avx512, simd::Policy::vector, simd::SimdLevel::avx2, "packed/vector-avx2", "no avx512bw"},
      {base | net_feature::ring_packed, sse, simd::SimdLevel::avx512, simd::Policy::vector, simd::SimdLevel::sse42, "packed/vector-sse4.2", "no avx2"},
      {base, CpuCaps{}, simd::SimdLevel::avx512, simd::Policy::scalar, simd::SimdLevel::scalar, "split/scalar", "CPU lacks sse4.2"},
      {base | net_feature::in_order, avx512, simd::SimdLevel::avx512, simd::Policy::in_order, simd::SimdLevel::scalar, "split/in-order", "any-order rings only"},
  };
  for (const Row& r : rows) {
    INFO(feature_names(r.features) << " cap " << simd::to_string(r.cap));
    const PathChoice p = select_path({.features = r.features, .cpu = r.cpu, .max_simd = r.cap});
    CHECK(p.policy == r.policy);
    CHECK(p.level == r.level);
    CHECK(std::string(p.ops.name) == r.name);
    CHECK(p.ops.rx != nullptr);
    CHECK(p.ops.tx != nullptr);
    CHECK(mentions(p, r.reason));
  }
  // Nobody asking: no vector path (opt-in, as DPDK's vectorized=1), and it says so.
  const PathChoice d = select_path({.features = base, .cpu = avx512});
  CHECK(d.policy == simd::Policy::scalar);
  CHECK(mentions(d, "opt-in"));
  // Each level its own compiled pair.
  CHECK(simd::burst_ops(ring::RingKind::split, simd::Policy::vector, simd::SimdLevel::avx2).rx !=
        simd::burst_ops(ring::RingKind::split, simd::Policy::vector, simd::SimdLevel::avx512).rx);
  CHECK(simd::burst_ops(ring::RingKind::packed, simd::Policy::vector, simd::SimdLevel::sse42).tx !=
        simd::burst_ops(ring::RingKind::packed, simd::Policy::scalar).tx);
}
