#include "options.hpp"

#include <cerrno>
#include <cstdlib>
#include <string_view>

namespace vpmd::fwd {

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::io: return "io";
    case Mode::macswap: return "macswap";
    case Mode::txonly: return "txonly";
    case Mode::rxonly: return "rxonly";
  }
  return "?";
}

std::string usage() {
  return
      "usage: vpmd-fwd [options] PORT [PORT]\n"
      "  PORT                 pci:DDDD:BB:DD.F, a virtio-net device bound to vfio-pci (vfio-bind bind BDF)\n"
      "  --mode M[,M]         io | macswap | txonly | rxonly | pingpong (default io); a comma list gives each port\n"
      "                       its own mode, e.g. --mode txonly,rxonly\n"
      "                         io       port A <-> port B (one port: back out the same port)\n"
      "                         macswap  swap the MACs, send back out the same port\n"
      "                         txonly   send UDP/IPv4 frames (and count and free what arrives)\n"
      "                         rxonly   count and free\n"
      "                         pingpong one frame in flight to a macswap peer (one port): round-trip\n"
      "                                  p50/p99/p99.9/max in ns as `name value unit` lines\n"
      "  --burst N            packets per burst (default 32)\n"
      "  --duration S         stop after S seconds (default: at SIGINT/SIGTERM)\n"
      "  --stats-period S     print rates every S seconds (default 1, 0: never)\n"
      "  --ring-size N        descriptors per ring (default: the device's maximum)\n"
      "  --pool N             packets in the pool (default 8191)\n"
      "  --txpkts N           txonly frame size in bytes without FCS (default 64, 42..2048)\n"
      "  --window N           txonly: at most N frames sent and not yet received by the other port\n"
      "                       (by this port itself when only one port is given); 0: no cap\n"
      "  --warmup S           poll S seconds before the measured window (default 0); with it the\n"
      "                       summary counts only that window (not the warm-up, not the drain)\n"
      "  --round-trips N      pingpong: timed round trips (default 1000000)\n"
      "  --warmup-trips N     pingpong: untimed round trips first (default 10000)\n"
      "  --json FILE          write the final summary as JSON\n"
      "  --no-packed          do not take VIRTIO_F_RING_PACKED\n"
      "  --no-mrg             do not take VIRTIO_NET_F_MRG_RXBUF\n"
      "  --no-event-idx       do not take VIRTIO_F_EVENT_IDX\n"
      "  --max-simd L         scalar | sse4.2 | avx2 | avx512: cap on the vector burst paths (default scalar:\n"
      "                       opt-in, as DPDK's vectorized=1; they match scalar exactly and are 1.3-2.3x faster\n"
      "                       in bench_burst; the start line says which runs)\n";
}

namespace {

Result<uint64_t> number(std::string_view opt, const char* s, uint64_t lo, uint64_t hi) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
    return make_error(EINVAL, std::string(opt) + " takes a number from " + std::to_string(lo) + " to " +
                                  std::to_string(hi) + ", not '" + s + "'");
  return uint64_t{v};
}

Result<double> seconds(std::string_view opt, const char* s) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || !(v >= 0) || v > 1e7)
    return make_error(EINVAL, std::string(opt) + " takes seconds (e.g. 2.5), not '" + s + "'");
  return v;
}

Result<Mode> parse_mode(std::string_view s) {
  if (s == "io") return Mode::io;
  if (s == "macswap") return Mode::macswap;
  if (s == "txonly") return Mode::txonly;
  if (s == "rxonly") return Mode::rxonly;
  return make_error(EINVAL, "--mode: '" + std::string(s) + "' is not io, macswap, txonly, rxonly or pingpong (alone)");
}

}  // namespace

Result<Options> parse_options(int argc, char** argv) {
  Options o;
  std::string modes = "io";
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    auto need = [&](const char* v) -> Result<const char*> {
      if (v == nullptr) return make_error(EINVAL, std::string(a) + " needs a value (see --help)");
      return v;
    };
#define VPMD_FWD_TRY(var, expr)          \
  auto var = (expr);                     \
  if (!var) return var.error();
    if (a == "-h" || a == "--help") return make_error(0, usage());
    if (a == "--mode") { VPMD_FWD_TRY(v, need(value())); modes = *v; }
    else if (a == "--burst") { VPMD_FWD_TRY(v, need(value())); VPMD_FWD_TRY(n, number(a, *v, 1, 512)); o.burst = static_cast<uint16_t>(*n); }
    else if (a == "--duration") { VPMD_FWD_TRY(v, need(value())); VPMD_FWD_TRY(d, seconds(a, *v)); o.duration_s = *d; }
    else if (a == "--stats-period") { VPMD_FWD_TRY(v, need(value())); VPMD_FWD_TRY(d, seconds(a, *v)); o.stats_period_s = *d; }
    else if (a == "--ring-size") { VPMD_FWD_TRY(v, need(value())); VPMD_FWD_TRY(n, number(a, *v, 0, 32768)); o.ring_size = static_cast<uint16_t>(*n); }
    else if (a == "--pool") { VPMD_FWD_TRY(v, need(value())); VPMD_FWD_TRY(n, number(a, *v, 64, 1u << 24)); o.pool = static_cast<uint32_t>(*n); }
    else if (a == "--txpkts") { VPMD_FWD_TRY(v, need(value())); VPMD_FWD_TRY(n, number(a, *v, 42, 2048)); o.txpkts = static_cast<uint16_t>(*n); }
    else if (a == "--window") { VPMD_FWD_TRY(v, need(value())); VPMD_FWD_TRY(n, number(a, *v, 0, 1u << 24)); o.window = static_cast<uint32_t>(*n); }
    else if (a == "--warmup") { VPMD_FWD_TRY(v, need(value())); VPMD_FWD_TRY(d, seconds(a, *v)); o.warmup_s = *d; }
    else if (a == "--round-trips") { VPMD_FWD_TRY(v, need(value())); VPMD_FWD_TRY(n, number(a, *v, 1, 1ull << 32)); o.round_trips = *n; }
    else if (a == "--warmup-trips") { VPMD_FWD_TRY(v, need(value())); VPMD_FWD_TRY(n, number(a, *v, 0, 1ull << 32)); o.warmup_trips = *n; }
    else if (a == "--json") { VPMD_FWD_TRY(v, need(value())); o.json = *v; }
    else if (a == "--max-simd") { VPMD_FWD_TRY(v, need(value())); o.max_simd = *v; }
    else if (a.starts_with("--max-simd=")) o.max_simd = std::string(a.substr(11));
    else if (a == "--no-packed") o.packed = false;
    else if (a == "--no-mrg") o.mergeable = false;
    else if (a == "--no-event-idx") o.event_idx = false;
    else if (a.starts_with("-")) return make_error(EINVAL, "unknown option " + std::string(a) + " (see --help)");
    else o.ports.emplace_back(a);
#undef VPMD_FWD_TRY
  }
  if (o.ports.empty() || o.ports.size() > 2)
    return make_error(EINVAL, "give one or two ports, e.g. vpmd-fwd pci:0000:00:01.0 (see --help)");
  if (o.max_simd != "scalar" && o.max_simd != "sse4.2" && o.max_simd != "avx2" && o.max_simd != "avx512")
    return make_error(EINVAL, "--max-simd takes scalar, sse4.2, avx2 or avx512, not '" + o.max_simd + "'");
  if (modes == "pingpong") {  // not an Engine mode: pingpong.cpp runs it on the one port
    if (o.ports.size() != 1) return make_error(EINVAL, "--mode pingpong takes one port (its peer returns the frames)");
    if (o.txpkts < 50) return make_error(EINVAL, "--mode pingpong needs --txpkts 50 or more (its sequence number ends at byte 50)");
    o.pingpong = true;
    modes = "io";
  }
  for (size_t p = 0; p <= modes.size();) {
    size_t q = modes.find(',', p);
    if (q == std::string::npos) q = modes.size();
    auto m = parse_mode(std::string_view(modes).substr(p, q - p));
    if (!m) return m.error();
    o.modes.push_back(*m);
    p = q + 1;
  }
  if (o.modes.size() == 1) o.modes.resize(o.ports.size(), o.modes[0]);
  if (o.modes.size() != o.ports.size())
    return make_error(EINVAL, "--mode lists " + std::to_string(o.modes.size()) + " modes for " +
                                  std::to_string(o.ports.size()) + " port(s): give one, or one per port");
  return o;
}

}  // namespace vpmd::fwd
