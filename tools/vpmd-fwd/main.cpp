// vpmd-fwd: a testpmd-like forwarder and benchmark on vpmd ports.
//   vpmd-fwd [options] PORT [PORT]     (vpmd-fwd --help)
// Opens the ports, prints what was negotiated and which burst path runs,
// polls until --duration or SIGINT/SIGTERM with periodic rates, drains what
// is still in flight, prints a summary, stops the ports and checks that every
// packet is back in the pool. Exit 0 only if nothing went wrong.
#include <csignal>
#include <cstdio>

#include "clock.hpp"
#include "engine.hpp"
#include "options.hpp"
#include "pingpong.hpp"
#include "report.hpp"
#include "setup.hpp"

using namespace vpmd;
using namespace vpmd::fwd;

namespace {

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }

int fail(const std::string& what) {
  std::fprintf(stderr, "vpmd-fwd: %s\n", what.c_str());
  return 1;
}

// Port upkeep every 10 ms (Port::upkeep: the TX watchdog, and for
// vhost-user the back end's comings and goings). link_up() notices a
// vhost-user back end that went away (the port hands its packets back) and
// brings the port back when it returns. Prints each change.
void upkeep(std::vector<FwdPort>& ports, std::vector<char>& up) {
  up.resize(ports.size(), 1);
  for (size_t i = 0; i < ports.size(); ++i) {
    // Only vhost-user devices come and go; a PCI port's link_up() would be
    // a config-space read (an I/O exit) every 10 ms for nothing.
    if (ports[i].port->transport() != "vhost-user") {
      ports[i].port->upkeep();
      continue;
    }
    const char now = ports[i].port->link_up();  // upkeep() included
    if (now != up[i]) std::printf("port %zu: link %s\n", i, now ? "up (reconnected, port restarted)" : "DOWN");
    if (!now && up[i])  // what was in flight is gone: it leaves the --window
      for (FwdPort& p : ports) {
        const FwdPort& rcv = p.peer != nullptr ? *p.peer : p;
        p.c.lost = p.c.tx - std::min(p.c.tx, rcv.c.rx);
      }
    up[i] = now;
  }
}

// Polls every port until the deadline or a signal; periodic stats between.
void run(Engine& engine, std::vector<FwdPort>& ports, Reporter& reporter, const Options& o, uint64_t start) {
  const uint64_t end = o.duration_s > 0 ? start + static_cast<uint64_t>(o.duration_s * 1e9) : UINT64_MAX;
  const uint64_t period = static_cast<uint64_t>(o.stats_period_s * 1e9);
  uint64_t next_stats = period ? start + period : UINT64_MAX;
  uint64_t next_upkeep = start;
  std::vector<char> up;
  for (uint32_t round = 0; g_stop == 0; ++round) {
    engine.poll();
    if ((round & 63) != 0) continue;  // the clock every 64 rounds: polls stay syscall-free
    const uint64_t now = now_ns();
    if (now >= next_upkeep) {
      upkeep(ports, up);
      next_upkeep = now + 10'000'000;
    }
    if (now >= next_stats) {
      reporter.period(now);
      next_stats += period;
    }
    if (now >= end) break;
  }
}

// --warmup: poll without measuring first. The counters at the start and at
// the end of the measured window bound the summary's figures.
struct Base {
  QueueStats rx, tx;
  Counters c;
};
std::vector<Base> snapshot(const std::vector<FwdPort>& ports) {
  std::vector<Base> base;
  for (const FwdPort& p : ports) base.push_back({p.port->rx_stats(0), p.port->tx_stats(0), p.c});
  return base;
}
void warm_up(Engine& engine, double seconds) {
  const uint64_t end = now_ns() + static_cast<uint64_t>(seconds * 1e9);
  for (uint32_t round = 0; g_stop == 0; ++round) {
    engine.poll();
    if ((round & 63) == 0 && now_ns() >= end) break;
  }
}

QueueStats since(const QueueStats& now, const QueueStats& was) {
  return {now.packets - was.packets, now.bytes - was.bytes,   now.errors - was.errors,
          now.missed - was.missed,   now.refill_failures - was.refill_failures, now.kicks - was.kicks,
          now.renotifies - was.renotifies};
}

// The summary's figures for the measured window only: frames received while
// draining are left out (its checks ran on the totals, drain included).
void rebase(Summary& sum, const std::vector<Base>& base, const std::vector<Base>& end) {
  for (size_t i = 0; i < base.size() && i < end.size() && i < sum.ports.size(); ++i) {
    PortSummary& p = sum.ports[i];
    const Counters& b = base[i].c;
    p.rx = since(end[i].rx, base[i].rx);
    p.tx = since(end[i].tx, base[i].tx);
    p.c = end[i].c;  // by name: a field added to Counters and not listed here keeps its end value
    p.c.rx -= b.rx;
    p.c.offered -= b.offered;
    p.c.tx -= b.tx;
    p.c.tx_dropped -= b.tx_dropped;
    p.c.alloc_failures -= b.alloc_failures;
    p.c.busy_cycles -= b.busy_cycles;
    p.c.moved -= b.moved;
    p.c.work_cycles -= b.work_cycles;
  }
}

// Frames already sent may still be on their way (QEMU's hub, the peer's
// queue): receive and free until 200 ms pass without one, 2 s at most.
void drain(Engine& engine) {
  const uint64_t give_up = now_ns() + 2'000'000'000ull;
  uint64_t quiet_since = now_ns();
  for (uint64_t now = quiet_since; now < give_up && now - quiet_since < 200'000'000ull; now = now_ns())
    if (engine.drain() != 0) quiet_since = now;
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = parse_options(argc, argv);
  if (!opts) {
    if (opts.error().code == 0) {
      std::fputs(opts.error().message.c_str(), stdout);
      return 0;
    }
    return fail(opts.error().message);
  }
  const Options& o = *opts;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  auto ports = open_ports(o);
  if (!ports) return fail(ports.error().message);
  auto pool = create_pool(o, *ports);
  if (!pool) return fail(pool.error().message);
  PacketPool& pl = **pool;
  auto cache = pl.make_cache();
  if (!cache) return fail("pool cache: " + cache.error().message);
  if (auto r = start_ports(o, *ports, pl, cache->get()); !r) {
    for (FwdPort& p : *ports) p.port->stop();
    return fail(r.error().message);
  }
  if (o.pingpong) {
    uint64_t problems = run_pingpong(ports->front(), pl, cache->get(), o, g_stop);
    ports->front().port->stop();
    cache->reset();
    if (const uint32_t n = pl.in_use(); n != 0) {
      std::fprintf(stderr, "vpmd-fwd: %u packets not back in the pool after stop\n", n);
      ++problems;
    }
    std::printf("result: %s (%llu problem(s))\n", problems ? "FAIL" : "ok", static_cast<unsigned long long>(problems));
    return problems == 0 ? 0 : 1;
  }
  print_ports(o, *ports);

  Engine engine(*ports, pl, cache->get(), o);
  std::vector<Base> base, end;
  if (o.warmup_s > 0) {
    warm_up(engine, o.warmup_s);
    base = snapshot(*ports);
  }
  const uint64_t start = now_ns();
  Reporter reporter(*ports, start);
  run(engine, *ports, reporter, o, start);
  const double seconds = static_cast<double>(now_ns() - start) / 1e9;
  if (!base.empty()) end = snapshot(*ports);
  std::printf("vpmd-fwd: %s after %.1f s; draining frames still in flight\n", g_stop ? "signal" : "duration reached", seconds);
  drain(engine);
  // A txonly window that never arrived: what each queue looks like now.
  for (const FwdPort& p : *ports) {
    if (p.mode == Mode::txonly && p.in_flight() != 0)
      std::printf("vpmd-fwd: %llu frames sent by %s never arrived; queues:\n%s%s",
                  static_cast<unsigned long long>(p.in_flight()), p.spec.c_str(),
                  p.port->queue_state().c_str(), p.peer != nullptr ? p.peer->port->queue_state().c_str() : "");
  }

  Summary sum = summarize(*ports, seconds);
  if (!base.empty()) rebase(sum, base, end);
  for (FwdPort& p : *ports) p.port->stop();  // returns every posted and in-flight packet to the pool
  cache->reset();                            // the cache's packets go back to the ring: in_use() counts them free
  sum.pool_in_use = pl.in_use();
  sum.lost_frees = pl.lost_frees();
  if (sum.pool_in_use != 0) sum.problems.push_back(std::to_string(sum.pool_in_use) + " packets not back in the pool after stop");
  if (sum.lost_frees != 0) sum.problems.push_back(std::to_string(sum.lost_frees) + " frees lost (double or foreign frees)");
  print_summary(sum);
  if (!o.json.empty()) {
    std::string why;
    if (!write_json(sum, o.json, why)) return fail(why);
  }
  return sum.errors() == 0 ? 0 : 1;
}
