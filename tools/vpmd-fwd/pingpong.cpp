#include "pingpong.hpp"

#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "clock.hpp"
#include "setup.hpp"
#include "udp_frame.hpp"

namespace vpmd::fwd {

namespace {

// Every definition below is shared with test/bench/dpdk_pingpong.c, so the
// two arms of test/bench/vhost-compare measure the same thing.
constexpr uint16_t seq_offset = min_frame;  // the sequence number follows the UDP header
constexpr uint64_t max_lost = 10;           // give up after this many round trips without an answer
constexpr uint16_t rx_burst_size = 32;
// A locally administered destination: testpmd's macswap does not look at it.
constexpr std::array<uint8_t, 6> peer_mac{0x02, 0, 0, 0, 0, 0x01};

uint64_t mono_raw_ns() noexcept {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC_RAW, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(t.tv_nsec);
}

// TSC ticks over 200 ms of CLOCK_MONOTONIC_RAW.
double tsc_hz() noexcept {
  const uint64_t n0 = mono_raw_ns(), c0 = cycles();
  uint64_t n1 = n0;
  while (n1 - n0 < 200'000'000ull) n1 = mono_raw_ns();
  const uint64_t c1 = cycles();
  return static_cast<double>(c1 - c0) * 1e9 / static_cast<double>(n1 - n0);
}

// Nearest rank: the value at rank ceil(q * n) (1-based) of the sorted samples.
uint64_t percentile(const std::vector<uint64_t>& sorted, double q) {
  const auto n = static_cast<double>(sorted.size());
  const auto rank = std::clamp<uint64_t>(static_cast<uint64_t>(std::ceil(q * n)), 1, sorted.size());
  return sorted[rank - 1];
}

void put_seq(uint8_t* f, uint64_t seq) {
  for (int i = 0; i < 8; ++i) f[seq_offset + i] = static_cast<uint8_t>(seq >> (8 * i));
}

uint64_t get_seq(const std::byte* f) {
  uint64_t s = 0;
  for (int i = 0; i < 8; ++i) s |= std::to_integer<uint64_t>(f[seq_offset + i]) << (8 * i);
  return s;
}

// The frame as macswap returns it: the two MACs swapped, the rest as sent.
bool frame_ok(const Packet* p, const uint8_t* sent, uint16_t len) {
  if (p->nb_segs != 1 || p->pkt_len != len || p->data_len != len) return false;
  const std::byte* d = p->data();
  return std::memcmp(d, sent + 6, 6) == 0 && std::memcmp(d + 6, sent, 6) == 0 &&
         std::memcmp(d + 12, sent + 12, len - 12u) == 0;
}

struct Figure {
  const char* name;
  double value;
  const char* unit;
};

bool write_json(const std::string& file, const std::vector<Figure>& figs) {
  FILE* f = std::fopen(file.c_str(), "w");
  if (f == nullptr) return false;
  std::fprintf(f, "[\n");
  for (size_t i = 0; i < figs.size(); ++i)
    std::fprintf(f, "  {\"name\": \"%s\", \"value\": %.3f, \"unit\": \"%s\"}%s\n", figs[i].name, figs[i].value,
                 figs[i].unit, i + 1 < figs.size() ? "," : "");
  std::fprintf(f, "]\n");
  return std::fclose(f) == 0;
}

}  // namespace

uint64_t run_pingpong(FwdPort& fp, PacketPool& pool, PacketPool::Cache* cache, const Options& o,
                      const volatile std::sig_atomic_t& stop) {
  Port& port = *fp.port;
  // UdpFrame gives the Ethernet/IPv4/UDP headers (UDP source port 1024) and
  // the byte pattern; the sequence number goes over the first 8 payload bytes.
  const UdpFrame tmpl(peer_mac, port.mac(), o.txpkts);
  const uint16_t len = tmpl.size();
  std::array<uint8_t, max_frame> sent{};
  std::memcpy(sent.data(), tmpl.bytes(), len);
  std::printf("pingpong: port %s  transport %s  MAC %s  link %s\n  features: %s\n  path: %s\n", fp.spec.c_str(),
              port.transport().c_str(), mac_string(port.mac()).c_str(), port.link_up() ? "up" : "DOWN",
              port.features_string().c_str(), port.path().c_str());
  std::printf("pingpong: %u-byte frames, one in flight, %llu warm-up + %llu timed round trips\n", len,
              static_cast<unsigned long long>(o.warmup_trips), static_cast<unsigned long long>(o.round_trips));
  std::fflush(stdout);

  std::vector<uint64_t> samples;
  samples.reserve(o.round_trips);  // no allocation in the loop
  const double hz = tsc_hz();
  const auto timeout = static_cast<uint64_t>(hz * o.pingpong_timeout_ms / 1e3);
  uint64_t lost = 0, bad = 0, late = 0, pool_empty = 0;
  std::array<Packet*, rx_burst_size> rx{};
  for (uint64_t seq = 0; seq < o.warmup_trips + o.round_trips && lost < max_lost && stop == 0; ++seq) {
    put_seq(sent.data(), seq);
    Packet* m = pool.alloc(cache);
    if (m == nullptr) {
      ++pool_empty;
      break;
    }
    std::memcpy(m->data(), sent.data(), len);
    m->data_len = len;
    m->pkt_len = len;
    // Timed: from just before the first tx_burst to just after the rx_burst
    // that returned the frame (TX retries and empty polls included).
    const uint64_t t0 = cycles();
    uint64_t t1 = t0;
    bool queued = false;
    while (!(queued = port.tx_burst(0, {&m, 1}) == 1) && cycles() - t0 <= timeout) {
    }
    if (!queued) {
      pool.free(m, cache);
      ++lost;
      std::fprintf(stderr, "pingpong: round trip %llu: the TX ring stayed full\n", static_cast<unsigned long long>(seq));
      continue;
    }
    bool back = false;
    while (!back) {
      const uint16_t n = port.rx_burst(0, rx);
      t1 = cycles();
      for (uint16_t i = 0; i < n; ++i) {
        if (frame_ok(rx[i], sent.data(), len)) back = true;
        else if (rx[i]->pkt_len == len && get_seq(rx[i]->data()) < seq) ++late;
        else if (bad++ < 5)
          std::fprintf(stderr, "pingpong: round trip %llu: a wrong frame came back (%u bytes)\n",
                       static_cast<unsigned long long>(seq), rx[i]->pkt_len);
      }
      if (n != 0) pool.free_bulk({rx.data(), n}, cache);
      if (!back && t1 - t0 > timeout) break;
    }
    if (!back) {
      ++lost;
      std::fprintf(stderr, "pingpong: round trip %llu: no frame back within %u ms\n", static_cast<unsigned long long>(seq),
                   o.pingpong_timeout_ms);
      continue;
    }
    if (seq >= o.warmup_trips) samples.push_back(t1 - t0);
  }

  uint64_t problems = lost + bad;
  if (pool_empty) {
    std::fprintf(stderr, "pingpong: the pool ran empty (packets leaked?)\n");
    ++problems;
  }
  if (!samples.empty()) {
    std::sort(samples.begin(), samples.end());
    const double ns = 1e9 / hz;
    const std::vector<Figure> figs = {
        {"pingpong.round_trips", static_cast<double>(samples.size()), "count"},
        {"pingpong.p50", static_cast<double>(percentile(samples, 0.50)) * ns, "ns"},
        {"pingpong.p99", static_cast<double>(percentile(samples, 0.99)) * ns, "ns"},
        {"pingpong.p999", static_cast<double>(percentile(samples, 0.999)) * ns, "ns"},
        {"pingpong.max", static_cast<double>(samples.back()) * ns, "ns"},
        {"pingpong.min", static_cast<double>(samples.front()) * ns, "ns"},
        {"pingpong.lost", static_cast<double>(lost), "count"},
        {"pingpong.bad_frames", static_cast<double>(bad), "count"},
        {"pingpong.tsc", hz / 1e6, "MHz"},
        // Notifications rung (eventfd writes on vhost-user): DPDK's arm has no such counter.
        {"pingpong.tx_kicks", static_cast<double>(port.tx_stats(0).kicks), "count"},
        {"pingpong.rx_kicks", static_cast<double>(port.rx_stats(0).kicks), "count"},
    };
    for (const Figure& f : figs) std::printf("%s %.3f %s\n", f.name, f.value, f.unit);
    std::fflush(stdout);
    if (!o.json.empty() && !write_json(o.json, figs)) {
      std::fprintf(stderr, "pingpong: cannot write %s: %s\n", o.json.c_str(), std::strerror(errno));
      ++problems;
    }
  }
  if (late) std::fprintf(stderr, "pingpong: %llu frames came back after their time-out\n", static_cast<unsigned long long>(late));
  if (samples.size() != o.round_trips) {
    std::fprintf(stderr, "pingpong: FAIL: %zu of %llu timed round trips%s\n", samples.size(),
                 static_cast<unsigned long long>(o.round_trips), stop ? " (stopped by a signal)" : "");
    ++problems;
  }
  return problems;
}

}  // namespace vpmd::fwd
