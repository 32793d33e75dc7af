#include "report.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vpmd::fwd {

namespace {
double mpps(uint64_t pkts, double s) { return s > 0 ? static_cast<double>(pkts) / s / 1e6 : 0; }
// Frame bytes only (no preamble, inter-frame gap or FCS), as the ports count them.
double gbps(uint64_t bytes, double s) { return s > 0 ? static_cast<double>(bytes) * 8 / s / 1e9 : 0; }
double per_pkt(uint64_t cyc, uint64_t pkts) { return pkts ? static_cast<double>(cyc) / static_cast<double>(pkts) : 0; }
// testpmd 22.11's "CPU cycles/packet" (--record-core-cycles): cycles of the
// polls that received or offered packets over frames sent (txonly) or
// received (every other mode). In txonly a burst the full ring refused costs
// cycles and sends nothing, so under back pressure this is higher than ours.
double testpmd_per_pkt(const PortSummary& p) {
  return per_pkt(p.c.work_cycles, p.mode == mode_name(Mode::txonly) ? p.tx.packets : p.rx.packets);
}
}  // namespace

Reporter::Reporter(std::vector<FwdPort>& ports, uint64_t start_ns)
    : ports_(ports), last_(ports.size()), start_ns_(start_ns), last_ns_(start_ns) {
  for (size_t i = 0; i < ports.size(); ++i) last_[i] = {ports[i].port->rx_stats(0), ports[i].port->tx_stats(0), ports[i].c};
}

void Reporter::period(uint64_t now_ns) {
  const double s = static_cast<double>(now_ns - last_ns_) / 1e9;
  for (size_t i = 0; i < ports_.size(); ++i) {
    const FwdPort& p = ports_[i];
    const Snap now{p.port->rx_stats(0), p.port->tx_stats(0), p.c};
    const Snap& was = last_[i];
    std::printf("[%6.1fs] port %zu q0 %-7s rx %7.3f Mpps %6.3f Gbit/s  tx %7.3f Mpps %6.3f Gbit/s  drop %llu  %.0f cycles/pkt\n",
                static_cast<double>(now_ns - start_ns_) / 1e9, i, mode_name(p.mode), mpps(now.rx.packets - was.rx.packets, s),
                gbps(now.rx.bytes - was.rx.bytes, s), mpps(now.tx.packets - was.tx.packets, s),
                gbps(now.tx.bytes - was.tx.bytes, s), static_cast<unsigned long long>(now.c.tx_dropped - was.c.tx_dropped),
                per_pkt(now.c.busy_cycles - was.c.busy_cycles, now.c.moved - was.c.moved));
    last_[i] = now;
  }
  std::fflush(stdout);
  last_ns_ = now_ns;
}

uint64_t Summary::errors() const {
  uint64_t e = problems.size();
  for (const PortSummary& p : ports) e += p.errors + p.problems.size();
  return e;
}

Summary summarize(const std::vector<FwdPort>& ports, double seconds) {
  Summary s;
  s.seconds = seconds;
  for (const FwdPort& p : ports) {
    if (!s.modes.empty()) s.modes += ",";
    s.modes += mode_name(p.mode);
    PortSummary ps{p.spec, mode_name(p.mode), p.port->path(), p.port->rx_stats(0), p.port->tx_stats(0), p.c, 0, {}};
    for (const auto& [name, v] : p.port->xstats())
      if (name.ends_with("_errors")) ps.errors += v;
    // The port's counters and the frames vpmd-fwd handled must agree.
    if (ps.rx.packets != p.c.rx)
      ps.problems.push_back("port RX counter " + std::to_string(ps.rx.packets) + " != frames received " + std::to_string(p.c.rx));
    if (p.c.offered != p.c.tx + p.c.tx_dropped)
      ps.problems.push_back("frames offered " + std::to_string(p.c.offered) + " != accepted + dropped");
    if (ps.tx.packets != p.c.tx)
      ps.problems.push_back("port TX counter " + std::to_string(ps.tx.packets) + " != frames accepted " + std::to_string(p.c.tx));
    s.ports.push_back(std::move(ps));
  }
  return s;
}

void print_summary(const Summary& s) {
  std::printf("---- summary: %.2f s, mode %s ----\n", s.seconds, s.modes.c_str());
  for (size_t i = 0; i < s.ports.size(); ++i) {
    const PortSummary& p = s.ports[i];
    std::printf("port %zu %s (%s)\n", i, p.spec.c_str(), p.mode.c_str());
    std::printf("  rx %llu frames %llu bytes  %.3f Mpps %.3f Gbit/s\n", static_cast<unsigned long long>(p.rx.packets),
                static_cast<unsigned long long>(p.rx.bytes), mpps(p.rx.packets, s.seconds), gbps(p.rx.bytes, s.seconds));
    std::printf("  tx %llu frames %llu bytes  %.3f Mpps %.3f Gbit/s  (of %llu offered)\n", static_cast<unsigned long long>(p.tx.packets),
                static_cast<unsigned long long>(p.tx.bytes), mpps(p.tx.packets, s.seconds), gbps(p.tx.bytes, s.seconds),
                static_cast<unsigned long long>(p.c.offered));
    std::printf("  dropped (TX not accepted) %llu  errors %llu  refill failures %llu  kicks rx %llu tx %llu  %.0f busy cycles/pkt"
                "  (%.0f as testpmd counts)\n",
                static_cast<unsigned long long>(p.c.tx_dropped), static_cast<unsigned long long>(p.errors),
                static_cast<unsigned long long>(p.rx.refill_failures), static_cast<unsigned long long>(p.rx.kicks),
                static_cast<unsigned long long>(p.tx.kicks), per_pkt(p.c.busy_cycles, p.c.moved), testpmd_per_pkt(p));
    if (p.tx.renotifies) std::printf("  tx renotified by the watchdog (the device missed a notification): %llu\n",
                                     static_cast<unsigned long long>(p.tx.renotifies));
    if (p.c.alloc_failures) std::printf("  txonly bursts skipped, pool empty: %llu\n", static_cast<unsigned long long>(p.c.alloc_failures));
    for (const std::string& why : p.problems) std::printf("  ERROR: %s\n", why.c_str());
  }
  std::printf("pool in use after stop: %u%s\n", s.pool_in_use, s.pool_in_use ? " (ERROR: packets leaked)" : "");
  for (const std::string& why : s.problems) std::printf("ERROR: %s\n", why.c_str());
  std::printf("result: %s (%llu error(s))\n", s.errors() ? "FAIL" : "ok", static_cast<unsigned long long>(s.errors()));
  std::fflush(stdout);
}

namespace {
std::string quoted(const std::string& v) {
  std::string o = "\"";
  for (char ch : v) {
    if (ch == '"' || ch == '\\') o += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    o += ch;
  }
  return o + "\"";
}
}  // namespace

bool write_json(const Summary& s, const std::string& file, std::string& why) {
  FILE* f = std::fopen(file.c_str(), "w");
  if (!f) {
    why = "cannot write " + file + ": " + std::strerror(errno);
    return false;
  }
  using ull = unsigned long long;
  std::fprintf(f, "{\n  \"mode\": %s,\n  \"seconds\": %.3f,\n  \"ports\": [\n", quoted(s.modes).c_str(), s.seconds);
  for (size_t i = 0; i < s.ports.size(); ++i) {
    const PortSummary& p = s.ports[i];
    // One port per line: easy to pick out with grep in a guest's busybox.
    std::fprintf(f,
                 "    {\"port\": %zu, \"spec\": %s, \"mode\": %s, \"rx_packets\": %llu, \"rx_bytes\": %llu, "
                 "\"tx_packets\": %llu, \"tx_bytes\": %llu, \"tx_dropped\": %llu, \"errors\": %llu, "
                 "\"rx_seen\": %llu, \"tx_offered\": %llu, \"tx_accepted\": %llu, \"refill_failures\": %llu, \"alloc_failures\": %llu, "
                 "\"rx_mpps\": %.4f, \"tx_mpps\": %.4f, \"rx_gbps\": %.4f, \"tx_gbps\": %.4f, \"cycles_per_packet\": %.1f, "
                 "\"testpmd_cycles_per_packet\": %.1f, \"tx_kicks\": %llu, \"rx_kicks\": %llu, \"tx_renotifies\": %llu, \"path\": %s}%s\n",
                 i, quoted(p.spec).c_str(), quoted(p.mode).c_str(), ull{p.rx.packets}, ull{p.rx.bytes}, ull{p.tx.packets},
                 ull{p.tx.bytes}, ull{p.c.tx_dropped}, ull{p.errors}, ull{p.c.rx}, ull{p.c.offered}, ull{p.c.tx}, ull{p.rx.refill_failures},
                 ull{p.c.alloc_failures}, mpps(p.rx.packets, s.seconds), mpps(p.tx.packets, s.seconds),
                 gbps(p.rx.bytes, s.seconds), gbps(p.tx.bytes, s.seconds), per_pkt(p.c.busy_cycles, p.c.moved),
                 testpmd_per_pkt(p), ull{p.tx.kicks}, ull{p.rx.kicks}, ull{p.tx.renotifies}, quoted(p.path).c_str(), i + 1 < s.ports.size() ? "," : "");
  }
  std::fprintf(f, "  ],\n  \"pool_in_use\": %u,\n  \"lost_frees\": %llu,\n  \"errors\": %llu\n}\n", s.pool_in_use,
               ull{s.lost_frees}, ull{s.errors()});
  if (std::fclose(f) != 0) {
    why = "cannot write " + file + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace vpmd::fwd
