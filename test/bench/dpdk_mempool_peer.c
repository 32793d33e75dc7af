/* bench_pool_dpdk: the work of bench_pool (pool_bench.cpp) done with DPDK's
 * rte_mempool, for test/bench/pool-compare. Same row names, same bulk, same
 * object count, same hand-over queue; output `name value unit` lines and
 * --json FILE.
 *   pool_cache_bulk32_1t     rte_mempool_get_bulk/put_bulk(32), default per-lcore cache of 256:
 *                            only pointers move, no mbuf is touched (vpmd: alloc_bulk/put_bulk)
 *   pool_nocache_bulk32_1t   the same on a pool created with cache size 0 (ring_mp_mc)
 *   pool_cache_bulk32_2t     lcore 0 gets 32, hands them to lcore 1 which puts them
 *   api_cache_bulk32_1t      rte_pktmbuf_alloc_bulk/free_bulk(32), cached: the API that
 *                            resets and checks mbufs (vpmd: alloc_bulk/free_bulk)
 *   api_nocache_bulk32_1t    the same on the pool without a cache
 *   api_cache_bulk32_2t      lcore 0 rte_pktmbuf_alloc_bulk, lcore 1 rte_pktmbuf_free_bulk
 *   objring_bulk32_1t        rte_ring MP/MC dequeue+enqueue of 32 pointers, 8192 slots
 * EAL arguments: --no-pci --in-memory -l 0-1 --log-level=error (then ours). */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#define POOL_COUNT 8191u
#define BULK 32u
#define SPSC_SIZE 1024u

struct figure {
  const char *name;
  double value;
};

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double one_thread(struct rte_mempool *mp, uint64_t iters) {
  void *objs[BULK];
  uint64_t failed = 0;
  for (uint64_t i = 0; i < iters / 16; ++i) /* warm-up */
    if (rte_mempool_get_bulk(mp, objs, BULK) == 0) rte_mempool_put_bulk(mp, objs, BULK);
  double t0 = now_ns();
  for (uint64_t i = 0; i < iters; ++i) {
    if (rte_mempool_get_bulk(mp, objs, BULK) != 0) {
      ++failed;
      continue;
    }
    rte_mempool_put_bulk(mp, objs, BULK);
  }
  double ns = now_ns() - t0;
  if (failed) fprintf(stderr, "bench_pool_dpdk: %llu allocations failed\n", (unsigned long long)failed);
  return ns / (double)(iters * BULK);
}

static double one_thread_pktmbuf(struct rte_mempool *mp, uint64_t iters) {
  struct rte_mbuf *objs[BULK];
  for (uint64_t i = 0; i < iters / 16; ++i)
    if (rte_pktmbuf_alloc_bulk(mp, objs, BULK) == 0) rte_pktmbuf_free_bulk(objs, BULK);
  double t0 = now_ns();
  for (uint64_t i = 0; i < iters; ++i) {
    if (rte_pktmbuf_alloc_bulk(mp, objs, BULK) != 0) continue;
    rte_pktmbuf_free_bulk(objs, BULK);
  }
  return (now_ns() - t0) / (double)(iters * BULK);
}

/* The same single-producer single-consumer queue as pool_bench.cpp. */
struct spsc {
  _Alignas(64) _Atomic uint32_t head; /* written by the producer */
  _Alignas(64) _Atomic uint32_t tail; /* written by the consumer */
  _Alignas(64) void *slot[SPSC_SIZE];
};

static int spsc_push(struct spsc *q, void *const *objs) {
  uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
  if (SPSC_SIZE - (h - atomic_load_explicit(&q->tail, memory_order_acquire)) < BULK) return 0;
  for (uint32_t i = 0; i < BULK; ++i) q->slot[(h + i) & (SPSC_SIZE - 1)] = objs[i];
  atomic_store_explicit(&q->head, h + BULK, memory_order_release);
  return 1;
}

static int spsc_pop(struct spsc *q, void **objs) {
  uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (atomic_load_explicit(&q->head, memory_order_acquire) - t < BULK) return 0;
  for (uint32_t i = 0; i < BULK; ++i) objs[i] = q->slot[(t + i) & (SPSC_SIZE - 1)];
  atomic_store_explicit(&q->tail, t + BULK, memory_order_release);
  return 1;
}

struct two_thread_ctx {
  struct rte_mempool *mp;
  struct spsc *q;
  uint64_t iters;
  int api; /* 1: rte_pktmbuf_alloc_bulk / rte_pktmbuf_free_bulk */
  _Atomic int ready;
  double consumer_ns;
};

static int consumer_main(void *arg) {
  struct two_thread_ctx *c = arg;
  void *objs[BULK];
  atomic_fetch_add(&c->ready, 1);
  while (atomic_load(&c->ready) < 2) {
  }
  double t0 = now_ns();
  for (uint64_t i = 0; i < c->iters; ++i) {
    while (!spsc_pop(c->q, objs)) {
    }
    if (c->api)
      rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, BULK);
    else
      rte_mempool_put_bulk(c->mp, objs, BULK);
  }
  c->consumer_ns = now_ns() - t0;
  return 0;
}

static double two_threads(struct rte_mempool *mp, uint64_t iters, int api) {
  unsigned worker = rte_get_next_lcore(rte_lcore_id(), 1, 0);
  if (worker >= RTE_MAX_LCORE) {
    fprintf(stderr, "bench_pool_dpdk: needs two lcores (-l 0-1)\n");
    exit(1);
  }
  struct spsc *q = aligned_alloc(64, sizeof(*q));
  if (q == NULL) exit(1);
  memset(q, 0, sizeof(*q));
  struct two_thread_ctx c = {.mp = mp, .q = q, .iters = iters, .api = api};
  atomic_init(&c.ready, 0);
  if (rte_eal_remote_launch(consumer_main, &c, worker) != 0) {
    fprintf(stderr, "bench_pool_dpdk: cannot launch on lcore %u\n", worker);
    exit(1);
  }
  while (atomic_load(&c.ready) < 1) {
  }
  atomic_fetch_add(&c.ready, 1);
  void *objs[BULK];
  for (uint64_t i = 0; i < iters; ++i) {
    if (api) {
      while (rte_pktmbuf_alloc_bulk(mp, (struct rte_mbuf **)objs, BULK) != 0) {
      }
    } else {
      while (rte_mempool_get_bulk(mp, objs, BULK) != 0) {
      }
    }
    while (!spsc_push(q, objs)) {
    }
  }
  rte_eal_wait_lcore(worker);
  free(q);
  return c.consumer_ns / (double)(iters * BULK);
}

static double ring_only(uint64_t iters) {
  struct rte_ring *r = rte_ring_create("cmp_ring", 8192, (int)rte_socket_id(), 0); /* 0: MP/MC */
  if (r == NULL) {
    fprintf(stderr, "bench_pool_dpdk: rte_ring_create: %s\n", rte_strerror(rte_errno));
    exit(1);
  }
  static void *fill[POOL_COUNT];
  for (uintptr_t i = 0; i < POOL_COUNT; ++i) fill[i] = (void *)((i + 1) * 64);
  if (rte_ring_enqueue_bulk(r, fill, POOL_COUNT, NULL) != POOL_COUNT) exit(1);
  void *objs[BULK];
  double t0 = now_ns();
  for (uint64_t i = 0; i < iters; ++i) {
    if (rte_ring_dequeue_bulk(r, objs, BULK, NULL) != BULK) continue;
    rte_ring_enqueue_bulk(r, objs, BULK, NULL);
  }
  double ns = now_ns() - t0;
  rte_ring_free(r);
  return ns / (double)(iters * BULK);
}

static struct rte_mempool *make_pool(const char *name, unsigned cache) {
  struct rte_mempool *mp =
      rte_pktmbuf_pool_create(name, POOL_COUNT, cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
  if (mp == NULL) {
    fprintf(stderr, "bench_pool_dpdk: rte_pktmbuf_pool_create(%s): %s\n", name, rte_strerror(rte_errno));
    exit(1);
  }
  return mp;
}

int main(int argc, char **argv) {
  char *eal[] = {argv[0], "--no-pci", "--in-memory", "-l", "0-1", "--log-level=error", NULL};
  int eal_argc = (int)(sizeof(eal) / sizeof(eal[0])) - 1;
  if (rte_eal_init(eal_argc, eal) < 0) {
    fprintf(stderr, "bench_pool_dpdk: rte_eal_init failed: %s (hugepages reserved? echo 512 > /proc/sys/vm/nr_hugepages)\n",
            rte_strerror(rte_errno));
    return 1;
  }
  const char *json = NULL;
  int quick = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = 1;
    } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--quick] [--json FILE]\n", argv[0]);
      return 2;
    }
  }
  uint64_t iters = quick ? 20000 : 4000000;
  enum { NFIGS = 7 };
  struct figure figs[NFIGS];
  struct rte_mempool *cached = make_pool("cmp_cache", 256);
  struct rte_mempool *nocache = make_pool("cmp_nocache", 0);
  struct rte_mempool *two = make_pool("cmp_2t", 256);
  figs[0] = (struct figure){"pool_cache_bulk32_1t", one_thread(cached, iters * 4)};
  figs[1] = (struct figure){"pool_nocache_bulk32_1t", one_thread(nocache, iters)};
  figs[2] = (struct figure){"pool_cache_bulk32_2t", two_threads(two, iters, 0)};
  figs[3] = (struct figure){"api_cache_bulk32_1t", one_thread_pktmbuf(cached, iters * 4)};
  figs[4] = (struct figure){"api_nocache_bulk32_1t", one_thread_pktmbuf(nocache, iters)};
  figs[5] = (struct figure){"api_cache_bulk32_2t", two_threads(two, iters, 1)};
  figs[6] = (struct figure){"objring_bulk32_1t", ring_only(iters)};
  for (int i = 0; i < NFIGS; ++i) printf("%s %.3f ns/obj\n", figs[i].name, figs[i].value);
  if (json != NULL) {
    FILE *out = fopen(json, "w");
    if (out == NULL) {
      fprintf(stderr, "bench_pool_dpdk: cannot write %s: %s\n", json, strerror(errno));
      return 1;
    }
    fprintf(out, "{\"bench\": \"bench_pool_dpdk\", \"results\": [");
    for (int i = 0; i < NFIGS; ++i)
      fprintf(out, "%s\n  {\"name\": \"%s\", \"value\": %.4f, \"unit\": \"ns/obj\"}", i ? "," : "", figs[i].name, figs[i].value);
    fprintf(out, "\n]}\n");
    fclose(out);
  }
  rte_mempool_free(cached);
  rte_mempool_free(nocache);
  rte_mempool_free(two);
  rte_eal_cleanup();
  return 0;
}
