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

// Polls every port until the deadline or a signal; periodic stats between.
void run(Engine& engine, Reporter& reporter, const Options& o, uint64_t start) {
  const uint64_t end = o.duration_s > 0 ? start + static_cast<uint64_t>(o.duration_s * 1e9) : UINT64_MAX;
  const uint64_t period = static_cast<uint64_t>(o.stats_period_s * 1e9);
  uint64_t next_stats = period ? start + period : UINT64_MAX;
  for (uint32_t round = 0; g_stop == 0; ++round) {
    engine.poll();
    if ((round & 63) != 0) continue;  // the clock every 64 rounds: polls stay syscall-free
    const uint64_t now = now_ns();
    if (now >= next_stats) {
      reporter.period(now);
      next_stats += period;
    }
    if (now >= end) break;
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
  if (auto r = start_ports(o, *ports, pl); !r) {
    for (FwdPort& p : *ports) p.port->stop();
    return fail(r.error().message);
  }
  print_ports(o, *ports);

  Engine engine(*ports, pl, cache->get(), o);
  const uint64_t start = now_ns();
  Reporter reporter(*ports, start);
  run(engine, reporter, o, start);
  const double seconds = static_cast<double>(now_ns() - start) / 1e9;
  std::printf("vpmd-fwd: %s after %.1f s; draining frames still in flight\n", g_stop ? "signal" : "duration reached", seconds);
  drain(engine);

  Summary sum = summarize(*ports, seconds);
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
