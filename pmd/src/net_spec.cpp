#include "vpmd/pmd/net_spec.hpp"

#include <array>
#include <utility>

namespace vpmd::pmd {

std::string feature_names(uint64_t f) {
  static constexpr std::array<std::pair<uint64_t, const char*>, 31> names{{
      {net_feature::csum, "CSUM"}, {net_feature::guest_csum, "GUEST_CSUM"},
      {net_feature::ctrl_guest_offloads, "CTRL_GUEST_OFFLOADS"}, {net_feature::mtu, "MTU"},
      {net_feature::mac, "MAC"}, {net_feature::guest_tso4, "GUEST_TSO4"}, {net_feature::guest_tso6, "GUEST_TSO6"},
      {net_feature::host_tso4, "HOST_TSO4"}, {net_feature::host_tso6, "HOST_TSO6"},
      {net_feature::mrg_rxbuf, "MRG_RXBUF"}, {net_feature::status, "STATUS"}, {net_feature::ctrl_vq, "CTRL_VQ"},
      {net_feature::ctrl_rx, "CTRL_RX"}, {net_feature::ctrl_vlan, "CTRL_VLAN"},
      {net_feature::guest_announce, "GUEST_ANNOUNCE"}, {net_feature::mq, "MQ"},
      {net_feature::ctrl_mac_addr, "CTRL_MAC_ADDR"}, {net_feature::notify_on_empty, "NOTIFY_ON_EMPTY"},
      {net_feature::any_layout, "ANY_LAYOUT"}, {net_feature::indirect_desc, "INDIRECT_DESC"},
      {net_feature::event_idx, "EVENT_IDX"}, {net_feature::version_1, "VERSION_1"},
      {net_feature::access_platform, "ACCESS_PLATFORM"}, {net_feature::ring_packed, "RING_PACKED"},
      {net_feature::in_order, "IN_ORDER"}, {net_feature::order_platform, "ORDER_PLATFORM"},
      {net_feature::notification_data, "NOTIFICATION_DATA"}, {net_feature::ring_reset, "RING_RESET"},
      {net_feature::hash_report, "HASH_REPORT"}, {net_feature::rss, "RSS"}, {net_feature::speed_duplex, "SPEED_DUPLEX"},
  }};
  std::string out;
  uint64_t known = 0;
  for (const auto& [bit, name] : names) {
    known |= bit;
    if (f & bit) {
      if (!out.empty()) out += '|';
      out += name;
    }
  }
  for (unsigned b = 0; b < 64; ++b)
    if ((f & ~known) & (1ull << b)) {
      if (!out.empty()) out += '|';
      out += "bit" + std::to_string(b);
    }
  return out.empty() ? "none" : out;
}

}  // namespace vpmd::pmd
