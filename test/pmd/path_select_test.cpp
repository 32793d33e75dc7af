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
