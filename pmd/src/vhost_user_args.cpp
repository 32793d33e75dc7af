// "path=SOCK,server=1,queues=1,packed=1,..." -> VhostUserArgs.
#include <charconv>

#include "vpmd/pmd/vhost_user.hpp"

namespace vpmd::pmd {

namespace {

Result<unsigned> number(std::string_view key, std::string_view v, unsigned lo, unsigned hi) {
  unsigned n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || end != v.data() + v.size() || n < lo || n > hi)
    return make_error(EINVAL, "vhost-user: " + std::string(key) + "=" + std::string(v) + " is not a number in [" +
                                  std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return n;
}

}  // namespace

Result<VhostUserArgs> parse_vhost_user_args(std::string_view args) {
  VhostUserArgs a;
  while (!args.empty()) {
    const size_t comma = args.find(',');
    const std::string_view kv = args.substr(0, comma);
    args = comma == std::string_view::npos ? std::string_view{} : args.substr(comma + 1);
    if (kv.empty()) continue;
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos)
      return make_error(EINVAL, "vhost-user: '" + std::string(kv) + "' is not key=value");
    const std::string_view k = kv.substr(0, eq), v = kv.substr(eq + 1);
    auto flag = [&](std::optional<bool>& out) -> Result<void> {
      auto n = number(k, v, 0, 1);
      if (!n) return n.error();
      out = *n != 0;
      return {};
    };
    Result<void> r;
    if (k == "path") {
      a.path = std::string(v);
    } else if (k == "server") {
      std::optional<bool> s;
      r = flag(s);
      a.server = s.value_or(false);
    } else if (k == "queues") {
      auto n = number(k, v, 1, 128);
      if (!n) return n.error();
      a.queues = static_cast<uint16_t>(*n);
    } else if (k == "packed" || k == "packed_vq") {
      r = flag(a.packed);
    } else if (k == "in_order") {
      r = flag(a.in_order);
    } else if (k == "mrg_rxbuf") {
      r = flag(a.mrg_rxbuf);
    } else if (k == "event_idx") {
      r = flag(a.event_idx);
    } else if (k == "timeout") {
      auto n = number(k, v, 0, 86400);
      if (!n) return n.error();
      a.timeout_s = *n;
    } else {
      return make_error(EINVAL, "vhost-user: unknown key '" + std::string(k) +
                                    "' (known: path, server, queues, packed, in_order, mrg_rxbuf, event_idx, timeout)");
    }
    if (!r) return r.error();
  }
  if (a.path.empty()) return make_error(EINVAL, "vhost-user: path=SOCKET is required");
  return a;
}

}  // namespace vpmd::pmd
