/* bench_pingpong_dpdk: DPDK's arm of the latency ping-pong (test/bench/vhost-compare).
 * A test peer linked against Debian's libdpdk, never part of vpmd.
 *
 * DPDK's virtio PMD as a vhost-user front end (net_virtio_user) on one queue
 * pair; the back end (dpdk-testpmd with net_vhost) runs in macswap. One
 * 64-byte frame in flight: send it, busy-poll RX until it comes back, check
 * it (MACs swapped, the rest and its sequence number intact), next one.
 *
 * Round-trip time, the same definition as vpmd-fwd --mode pingpong
 * (tools/vpmd-fwd/pingpong.cpp):
 *   - the frame is allocated and written before the clock starts;
 *   - t0 = rdtsc just before the first tx_burst call, t1 = rdtsc just after
 *     the rx_burst call that returned it (TX retries while the ring is full
 *     and empty RX polls are inside);
 *   - the check and the free come after t1;
 *   - TSC Hz calibrated against CLOCK_MONOTONIC_RAW over 200 ms;
 *   - percentiles are nearest-rank over all timed round trips: the value at
 *     rank ceil(q * n) of the sorted samples (p50, p99, p99.9), and the max.
 * Output: `name value unit` lines and, with --json FILE, the same as JSON.
 *
 *   bench_pingpong_dpdk --path SOCK [--devargs ,packed_vq=1,in_order=0] [--round-trips N]
 *                       [--warmup N] [--lcore CPU] [--size N] [--timeout-ms MS] [--json FILE]
 *                       [--eal ARG]...
 * Exit 0 only if every round trip completed with the right frame. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#define MAX_EAL 32
#define BURST 32
#define RING 256
#define FRAME_MAX 1514
#define SEQ_OFF 42 /* after Ethernet (14) + IPv4 (20) + UDP (8) headers */
#define MAX_LOST 10

struct figure {
  const char *name;
  double value;
  const char *unit;
};

static uint64_t mono_raw_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC_RAW, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The same calibration as tools/vpmd-fwd/pingpong.cpp: TSC ticks over 200 ms of CLOCK_MONOTONIC_RAW. */
static double tsc_hz(void) {
  const uint64_t n0 = mono_raw_ns(), c0 = rte_rdtsc();
  uint64_t n1;
  do n1 = mono_raw_ns();
  while (n1 - n0 < 200000000ull);
  const uint64_t c1 = rte_rdtsc();
  return (double)(c1 - c0) * 1e9 / (double)(n1 - n0);
}

static int cmp_u64(const void *a, const void *b) {
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest rank: the value at rank ceil(q * n) (1-based) of the sorted samples. */
static uint64_t percentile(const uint64_t *sorted, uint64_t n, double q) {
  uint64_t rank = (uint64_t)(q * (double)n);
  if ((double)rank < q * (double)n) ++rank;
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return sorted[rank - 1];
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* Ethernet (to a locally administered peer MAC, from ours) + IPv4 + UDP, the
 * bytes after the sequence number a fixed pattern: the same frame as vpmd-fwd's. */
static void build_frame(uint8_t *f, uint16_t len, const uint8_t src[6]) {
  static const uint8_t peer[6] = {0x02, 0, 0, 0, 0, 0x01};
  memset(f, 0, len);
  memcpy(f, peer, 6);
  memcpy(f + 6, src, 6);
  put16(f + 12, 0x0800);
  uint8_t *ip = f + 14;
  ip[0] = 0x45;
  put16(ip + 2, (uint16_t)(len - 14));
  ip[6] = 0x40;
  ip[8] = 64;
  ip[9] = 17;
  const uint8_t saddr[4] = {198, 18, 0, 1}, daddr[4] = {198, 18, 0, 2};
  memcpy(ip + 12, saddr, 4);
  memcpy(ip + 16, daddr, 4);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(ip + 10, (uint16_t)(~sum & 0xffff));
  uint8_t *udp = ip + 20;
  put16(udp, 1024);
  put16(udp + 2, 5001);
  put16(udp + 4, (uint16_t)(len - 34));
  for (uint16_t i = SEQ_OFF + 8; i < len; ++i) f[i] = (uint8_t)i;
}

static void put_seq(uint8_t *f, uint64_t seq) {
  for (int i = 0; i < 8; ++i) f[SEQ_OFF + i] = (uint8_t)(seq >> (8 * i));
}

static uint64_t get_seq(const uint8_t *f) {
  uint64_t s = 0;
  for (int i = 0; i < 8; ++i) s |= (uint64_t)f[SEQ_OFF + i] << (8 * i);
  return s;
}

/* The frame as the back end's macswap returns it: the two MACs swapped, the rest as sent. */
static int frame_ok(const struct rte_mbuf *m, const uint8_t *sent, uint16_t len) {
  if (m->nb_segs != 1 || m->pkt_len != len || m->data_len != len) return 0;
  const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
  return memcmp(d, sent + 6, 6) == 0 && memcmp(d + 6, sent, 6) == 0 && memcmp(d + 12, sent + 12, len - 12u) == 0;
}

static int usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s --path SOCK [--devargs ,packed_vq=1,in_order=0] [--round-trips N] [--warmup N]\n"
          "       [--lcore CPU] [--size BYTES] [--timeout-ms MS] [--json FILE] [--eal ARG]...\n",
          argv0);
  return 2;
}

static int write_json(const char *path, const struct figure *f, int n) {
  FILE *out = fopen(path, "w");
  if (out == NULL) return -1;
  fprintf(out, "[\n");
  for (int i = 0; i < n; ++i)
    fprintf(out, "  {\"name\": \"%s\", \"value\": %.3f, \"unit\": \"%s\"}%s\n", f[i].name, f[i].value, f[i].unit,
            i + 1 < n ? "," : "");
  fprintf(out, "]\n");
  return fclose(out);
}

int main(int argc, char **argv) {
  const char *path = NULL, *devargs = "", *json = NULL, *lcore = "0";
  uint64_t round_trips = 1000000, warmup = 10000, timeout_ms = 100;
  unsigned long size = 64;
  char *eal[MAX_EAL];
  int eal_argc = 0;
  char vdev[1024], lcores[64];
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (v == NULL) return usage(argv[0]);
    ++i;
    if (strcmp(a, "--path") == 0) path = v;
    else if (strcmp(a, "--devargs") == 0) devargs = v;
    else if (strcmp(a, "--json") == 0) json = v;
    else if (strcmp(a, "--lcore") == 0) lcore = v;
    else if (strcmp(a, "--round-trips") == 0) round_trips = strtoull(v, NULL, 10);
    else if (strcmp(a, "--warmup") == 0) warmup = strtoull(v, NULL, 10);
    else if (strcmp(a, "--timeout-ms") == 0) timeout_ms = strtoull(v, NULL, 10);
    else if (strcmp(a, "--size") == 0) size = strtoul(v, NULL, 10);
    else if (strcmp(a, "--eal") == 0) {
      if (eal_argc >= MAX_EAL - 12) return usage(argv[0]);
      eal[8 + eal_argc++] = argv[i];
    } else return usage(argv[0]);
  }
  if (path == NULL || round_trips == 0 || timeout_ms == 0 || size < SEQ_OFF + 8 || size > FRAME_MAX) return usage(argv[0]);
  snprintf(vdev, sizeof vdev, "net_virtio_user0,path=%s,queues=1%s", path, devargs);
  snprintf(lcores, sizeof lcores, "--lcores=0@%s", lcore);
  /* --in-memory: no hugepage files left behind; --single-file-segments: one
   * memory region per segment list, so the back end's limit of 8 regions holds. */
  char *fixed[8] = {argv[0], "--no-pci", "--in-memory", "--single-file-segments", lcores, "--log-level=error", "--vdev", vdev};
  memcpy(eal, fixed, sizeof fixed);
  eal_argc += 8;
  eal[eal_argc] = NULL;
  if (rte_eal_init(eal_argc, eal) < 0) {
    fprintf(stderr, "bench_pingpong_dpdk: rte_eal_init failed: %s (hugepages free? see /proc/meminfo)\n", rte_strerror(rte_errno));
    return 1;
  }
  int status = 1;
  uint64_t *samples = NULL;
  if (rte_eth_dev_count_avail() != 1) {
    fprintf(stderr, "bench_pingpong_dpdk: no virtio-user port on %s: is the back end (dpdk-testpmd, net_vhost) listening there?\n", path);
    goto out;
  }
  const uint16_t port = 0;
  struct rte_mempool *mp = rte_pktmbuf_pool_create("pingpong", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
  struct rte_eth_conf conf;
  memset(&conf, 0, sizeof conf);
  if (mp == NULL || rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
      rte_eth_rx_queue_setup(port, 0, RING, rte_eth_dev_socket_id(port), NULL, mp) != 0 ||
      rte_eth_tx_queue_setup(port, 0, RING, rte_eth_dev_socket_id(port), NULL) != 0 || rte_eth_dev_start(port) != 0) {
    fprintf(stderr, "bench_pingpong_dpdk: port setup failed: %s\n", rte_strerror(rte_errno));
    goto out;
  }
  struct rte_ether_addr mac;
  rte_eth_macaddr_get(port, &mac);
  samples = malloc(round_trips * sizeof *samples);
  if (samples == NULL) {
    fprintf(stderr, "bench_pingpong_dpdk: no memory for %llu samples\n", (unsigned long long)round_trips);
    goto stop;
  }
  const double hz = tsc_hz();
  const uint64_t timeout = (uint64_t)(hz * (double)timeout_ms / 1e3);
  const uint16_t len = (uint16_t)size;
  uint8_t sent[FRAME_MAX];
  build_frame(sent, len, mac.addr_bytes);
  uint64_t done = 0, lost = 0, bad = 0, late = 0;
  struct rte_mbuf *rx[BURST];
  for (uint64_t seq = 0; seq < warmup + round_trips && lost < MAX_LOST; ++seq) {
    put_seq(sent, seq);
    struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
    if (m == NULL) {
      fprintf(stderr, "bench_pingpong_dpdk: pool empty at round trip %llu (mbufs leaked?)\n", (unsigned long long)seq);
      break;
    }
    memcpy(rte_pktmbuf_append(m, len), sent, len);
    const uint64_t t0 = rte_rdtsc();
    uint64_t t1 = t0;
    int back = 0, queued;
    while (!(queued = rte_eth_tx_burst(port, 0, &m, 1)) && rte_rdtsc() - t0 <= timeout) {
    }
    if (!queued) {
      rte_pktmbuf_free(m);
      ++lost;
      fprintf(stderr, "bench_pingpong_dpdk: round trip %llu: the TX ring stayed full\n", (unsigned long long)seq);
      continue;
    }
    while (!back) {
      const uint16_t n = rte_eth_rx_burst(port, 0, rx, BURST);
      t1 = rte_rdtsc();
      for (uint16_t i = 0; i < n; ++i) {
        if (frame_ok(rx[i], sent, len)) back = 1;
        else if (rx[i]->pkt_len == len && get_seq(rte_pktmbuf_mtod(rx[i], const uint8_t *)) < seq) ++late;
        else if (bad++ < 5) fprintf(stderr, "bench_pingpong_dpdk: round trip %llu: a wrong frame came back (%u bytes)\n",
                                    (unsigned long long)seq, rx[i]->pkt_len);
        rte_pktmbuf_free(rx[i]);
      }
      if (!back && t1 - t0 > timeout) break;
    }
    if (!back) {
      ++lost;
      fprintf(stderr, "bench_pingpong_dpdk: round trip %llu: no frame back within %llu ms\n", (unsigned long long)seq,
              (unsigned long long)timeout_ms);
      continue;
    }
    if (seq >= warmup) samples[done++] = t1 - t0;
  }

  if (done > 0) {
    qsort(samples, done, sizeof *samples, cmp_u64);
    const double ns = 1e9 / hz;
    struct figure f[] = {
        {"pingpong.round_trips", (double)done, "count"},
        {"pingpong.p50", (double)percentile(samples, done, 0.50) * ns, "ns"},
        {"pingpong.p99", (double)percentile(samples, done, 0.99) * ns, "ns"},
        {"pingpong.p999", (double)percentile(samples, done, 0.999) * ns, "ns"},
        {"pingpong.max", (double)samples[done - 1] * ns, "ns"},
        {"pingpong.min", (double)samples[0] * ns, "ns"},
        {"pingpong.lost", (double)lost, "count"},
        {"pingpong.bad_frames", (double)bad, "count"},
        {"pingpong.tsc", hz / 1e6, "MHz"},
    };
    const int nf = (int)(sizeof f / sizeof f[0]);
    for (int i = 0; i < nf; ++i) printf("%s %.3f %s\n", f[i].name, f[i].value, f[i].unit);
    fflush(stdout);
    if (json != NULL && write_json(json, f, nf) != 0) {
      fprintf(stderr, "bench_pingpong_dpdk: cannot write %s: %s\n", json, strerror(errno));
      goto stop;
    }
  }
  if (late) fprintf(stderr, "bench_pingpong_dpdk: %llu frames came back after their time-out\n", (unsigned long long)late);
  if (done == round_trips && lost == 0 && bad == 0) status = 0;
  else
    fprintf(stderr, "bench_pingpong_dpdk: FAIL: %llu of %llu timed round trips, %llu lost, %llu wrong frames\n",
            (unsigned long long)done, (unsigned long long)round_trips, (unsigned long long)lost, (unsigned long long)bad);
stop:
  rte_eth_dev_stop(port);
  rte_eth_dev_close(port);
out:
  free(samples);
  rte_eal_cleanup();
  return status;
}
