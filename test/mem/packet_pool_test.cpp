// PacketPool: invariants, all-or-nothing bulks, exhaustion and recovery,
// in_use() through caches, chain frees, argument errors, IOVA, lifetime.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>
#include <vpmd/mem/packet_pool.hpp>

#include "hugepages.hpp"

using namespace vpmd;

namespace {

PoolConfig small_config(std::uint32_t count, std::uint32_t cache = 16) {
  PoolConfig c;
  c.count = count;
  c.cache_size = cache;
  c.page = PageSize::small_4k;
  c.allow_small_pages = true;
  c.name = "test-pool";
  return c;
}

std::unique_ptr<PacketPool> make_pool(const PoolConfig& c) {
  auto p = PacketPool::create(c);
  INFO((p.ok() ? std::string("ok") : p.error().message));
  REQUIRE(p.ok());
  return std::move(p.value());
}

void check_free_invariant(const PacketPool& pool, const Packet* p) {
  CHECK(p->next == nullptr);
  CHECK(p->nb_segs == 1);
  CHECK(p->data_off == pool.headroom());
  CHECK(p->ol_flags == 0);
  CHECK(p->pkt_len == 0);
  CHECK(p->data_len == 0);
  CHECK(p->pool == &pool);
  CHECK(p->buf_len == pool.headroom() + pool.data_room());
}

std::string error_of(const PoolConfig& c) {
  auto p = PacketPool::create(c);
  REQUIRE_FALSE(p.ok());
  return p.error().message;
}

}  // namespace

TEST_CASE("PacketPool objects: layout, IOVA, no page crossing, free invariant", "[pool]") {
  auto pool = make_pool(small_config(40));
  CHECK(pool->capacity() == 40);
  CHECK(pool->in_use() == 0);
  CHECK(pool->object_stride() % 64 == 0);
  CHECK(pool->object_stride() >= sizeof(Packet) + pool->headroom() + pool->data_room());
  REQUIRE(pool->regions().size() == 1);
  const DmaRegion& reg = pool->regions()[0];
  CHECK(reg.iova_mapped());
  std::vector<Packet*> all(40);
  REQUIRE(pool->alloc_bulk(all));
  CHECK(pool->in_use() == 40);
  std::set<Packet*> distinct(all.begin(), all.end());
  CHECK(distinct.size() == 40);
  for (Packet* p : all) {
    check_free_invariant(*pool, p);
    CHECK(pool->owns(p));
    CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
    CHECK(p->buf_addr == reinterpret_cast<std::byte*>(p) + sizeof(Packet));
    CHECK(p->buf_iova == reg.iova(p->buf_addr));
    CHECK(p->iova() == reinterpret_cast<std::uintptr_t>(p->data()));  // identity mapper
    const auto first = reinterpret_cast<std::uintptr_t>(p);
    const auto last = first + pool->object_stride() - 1;
    CHECK(first / reg.page_size() == last / reg.page_size());
  }
  CHECK_FALSE(pool->owns(reinterpret_cast<Packet*>(reinterpret_cast<std::byte*>(all[0]) + 64)));
  pool->free_bulk(all);
  CHECK(pool->in_use() == 0);
}

TEST_CASE("PacketPool bulk alloc is all-or-nothing; exhaustion then recovery", "[pool]") {
  auto pool = make_pool(small_config(64, 0));
  std::vector<Packet*> a(60);
  REQUIRE(pool->alloc_bulk(a));
  std::vector<Packet*> b(8);
  CHECK_FALSE(pool->alloc_bulk(b));
  CHECK(pool->in_use() == 60);
  std::vector<Packet*> c(4);
  REQUIRE(pool->alloc_bulk(c));
  CHECK(pool->in_use() == 64);
  CHECK(pool->alloc() == nullptr);
  pool->free(c[0]);
  CHECK(pool->in_use() == 63);
  Packet* again = pool->alloc();
  CHECK(again == c[0]);
  pool->free_bulk(a);
  pool->free_bulk(c);
  CHECK(pool->in_use() == 0);
  std::vector<Packet*> whole(64);
  CHECK(pool->alloc_bulk(whole));
  pool->free_bulk(whole);
}

TEST_CASE("PacketPool with caches: exact in_use, exhaustion and recovery", "[pool]") {
  auto pool = make_pool(small_config(100, 16));
  auto c1 = pool->make_cache();
  auto c2 = pool->make_cache();
  REQUIRE(c1.ok());
  REQUIRE(c2.ok());
  PacketPool::Cache* a = c1->get();
  PacketPool::Cache* b = c2->get();
  CHECK(a->size() == 16);
  CHECK(a->flush_threshold() == 24);

  std::vector<Packet*> x(10);
  REQUIRE(pool->alloc_bulk(x, a));
  CHECK(a->count() == 16);  // refilled to size + 10, served 10
  CHECK(pool->in_use() == 10);
  pool->free_bulk(x, b);
  CHECK(b->count() == 10);
  CHECK(pool->in_use() == 0);

  // Drain the pool through cache a: everything, including b's ten and the
  // ring, is eventually reachable only if b gives its objects back.
  std::vector<Packet*> held;
  while (Packet* p = pool->alloc(a)) held.push_back(p);
  CHECK(held.size() == 90);  // b still caches 10
  CHECK(pool->in_use() == 90);
  c2->reset();  // destroying a cache returns its objects
  CHECK(pool->in_use() == 90);
  while (Packet* p = pool->alloc(a)) held.push_back(p);
  CHECK(held.size() == 100);
  CHECK(pool->in_use() == 100);
  std::vector<Packet*> one(1);
  CHECK_FALSE(pool->alloc_bulk(one, a));

  // Free through the cache past its flush threshold: in_use stays exact.
  for (Packet* p : held) pool->free(p, a);
  CHECK(a->count() <= a->flush_threshold());
  CHECK(pool->in_use() == 0);
  std::set<Packet*> distinct(held.begin(), held.end());
  CHECK(distinct.size() == 100);
}

TEST_CASE("PacketPool cached alloc takes exactly what is left when the ring cannot refill", "[pool]") {
  auto pool = make_pool(small_config(40, 32));
  auto c = pool->make_cache();
  REQUIRE(c.ok());
  std::vector<Packet*> first(30);
  REQUIRE(pool->alloc_bulk(first, c->get()));  // ring 40 < 32 + 30: takes 30 only
  CHECK(pool->in_use() == 30);
  std::vector<Packet*> rest(10);
  REQUIRE(pool->alloc_bulk(rest, c->get()));
  CHECK(pool->in_use() == 40);
  pool->free_bulk(first, c->get());
  pool->free_bulk(rest, c->get());
  CHECK(pool->in_use() == 0);
}

TEST_CASE("PacketPool free restores the free-packet invariant", "[pool]") {
  auto pool = make_pool(small_config(8, 4));
  auto cache = pool->make_cache();
  REQUIRE(cache.ok());
  for (PacketPool::Cache* c : {static_cast<PacketPool::Cache*>(nullptr), cache->get()}) {
    std::vector<Packet*> v(8);
    REQUIRE(pool->alloc_bulk(v, c));
    for (std::size_t i = 0; i < v.size(); ++i) {
      REQUIRE(v[i]->append(static_cast<std::uint16_t>(100 + i)) != nullptr);
      REQUIRE(v[i]->prepend(12) != nullptr);
      v[i]->ol_flags = ol::tx_csum;
    }
    pool->free_bulk(std::span<Packet* const>(v.data(), 5), c);
    for (std::size_t i = 5; i < v.size(); ++i) pool->free(v[i], c);
    CHECK(pool->in_use() == 0);
    std::vector<Packet*> w(8);
    REQUIRE(pool->alloc_bulk(w, c));
    for (Packet* p : w) check_free_invariant(*pool, p);
    pool->free_bulk(w, c);
  }
}

TEST_CASE("PacketPool put_bulk returns clean packets without touching them", "[pool]") {
  auto pool = make_pool(small_config(100, 16));
  auto cache = pool->make_cache();
  REQUIRE(cache.ok());
  PacketPool::Cache* c = cache->get();
  std::set<Packet*> all;
  // Through the cache, the ring (no cache), a bulk larger than the cache
  // size, and singles past the flush threshold: in_use stays exact.
  for (PacketPool::Cache* via : {c, static_cast<PacketPool::Cache*>(nullptr)}) {
    // Without the cache, what the cache holds is out of reach: take the rest.
    const std::size_t most = via != nullptr ? 100 : 100 - c->count();
    for (std::size_t n : {std::size_t{1}, std::size_t{10}, std::size_t{17}, most}) {
      std::vector<Packet*> v(n);
      REQUIRE(pool->alloc_bulk(v, via));
      CHECK(pool->in_use() == n);
      all.insert(v.begin(), v.end());
      if (n == most) {
        for (Packet* p : v) pool->put(p, via);
        if (via != nullptr) CHECK(c->count() <= c->flush_threshold());
      } else {
        pool->put_bulk(v, via);
      }
      CHECK(pool->in_use() == 0);
    }
  }
  CHECK(all.size() == 100);  // every packet went round
  std::vector<Packet*> w(100);
  REQUIRE(pool->alloc_bulk(w, c));
  for (Packet* p : w) check_free_invariant(*pool, p);
  pool->put_bulk(w, c);
  pool->put(nullptr, c);  // as free(nullptr): nothing
  CHECK(pool->in_use() == 0);
}

TEST_CASE("PacketPool put_bulk trusts the caller: a dirty packet comes back dirty", "[pool]") {
  // put_bulk's contract is that it neither reads nor repairs packets (what
  // makes it as cheap as rte_mempool_put_bulk); free_bulk is the checked one.
  auto pool = make_pool(small_config(4, 4));
  auto cache = pool->make_cache();
  REQUIRE(cache.ok());
  Packet* p = pool->alloc(cache->get());
  REQUIRE(p != nullptr);
  REQUIRE(p->append(60) != nullptr);
  pool->put(p, cache->get());
  Packet* again = pool->alloc(cache->get());  // the cache is LIFO: the same packet
  REQUIRE(again == p);
  CHECK(again->data_len == 60);
  pool->free(again, cache->get());  // free_bulk repairs it
  Packet* clean = pool->alloc(cache->get());
  REQUIRE(clean == p);
  check_free_invariant(*pool, clean);
  pool->free(clean, cache->get());
  CHECK(pool->in_use() == 0);
}

TEST_CASE("PacketPool frees chains segment by segment, also across pools", "[pool]") {
  auto pool = make_pool(small_config(16, 4));
  auto other = make_pool(small_config(4, 0));
  auto cache = pool->make_cache();
  REQUIRE(cache.ok());
  Packet* h = pool->alloc(cache->get());
  Packet* s1 = pool->alloc(cache->get());
  Packet* s2 = other->alloc();
  REQUIRE((h && s1 && s2));
  h->append(60);
  s1->append(1000);
  s2->append(400);
  REQUIRE(h->chain(s1));
  REQUIRE(h->chain(s2));
  CHECK(h->nb_segs == 3);
  CHECK(pool->in_use() == 2);
  CHECK(other->in_use() == 1);
  pool->free(h, cache->get());
  CHECK(pool->in_use() == 0);
  CHECK(other->in_use() == 0);
  CHECK(pool->lost_frees() == 0);
  check_free_invariant(*pool, h);
  check_free_invariant(*pool, s1);
  check_free_invariant(*other, s2);
}

TEST_CASE("PacketPool argument errors say what to do", "[pool]") {
  auto c = small_config(100, 16);
  c.count = 0;
  CHECK_THAT(error_of(c), Catch::Contains("count is 0"));
  c = small_config(100, 200);
  CHECK_THAT(error_of(c), Catch::Contains("cache_size 200 is larger than count 100"));
  c = small_config(10000, 1000);
  CHECK_THAT(error_of(c), Catch::Contains("cache_size 1000 is above the maximum 512"));
  c = small_config(100);
  c.headroom = 10;
  CHECK_THAT(error_of(c), Catch::Contains("headroom 10 is below 20"));
  c = small_config(100);
  c.data_room = 8000;
  CHECK_THAT(error_of(c), Catch::Contains("larger than a page of 4096 B; lower data_room or use a larger PageSize"));
  c = small_config(100);
  c.data_room = 65500;
  CHECK_THAT(error_of(c), Catch::Contains("does not fit Packet::buf_len"));

  auto nocache = make_pool(small_config(10, 0));
  auto mc = nocache->make_cache();
  REQUIRE_FALSE(mc.ok());
  CHECK_THAT(mc.error().message, Catch::Contains("cache_size 0"));
}

TEST_CASE("PacketPool on hugepages, or the hugepage error when none are free", "[pool][hugepages]") {
  PoolConfig c;
  c.count = 4096;
  c.name = "test-huge-pool";
  const long free2m = test::free_hugepages(2048);
  if (free2m < 6) {
    auto r = PacketPool::create(c);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("nr_hugepages"));
    WARN("skipped the hugepage pool: fewer than 6 free 2 MiB hugepages (echo 512 > /proc/sys/vm/nr_hugepages)");
    return;
  }
  auto pool = make_pool(c);
  REQUIRE(pool->regions().size() == 1);
  const DmaRegion& reg = pool->regions()[0];
  CHECK(reg.hugepage_backed());
  // 2304-byte objects, 910 per 2 MiB page: 5 pages for 4096.
  CHECK(reg.page_count() == (4096 + (2 * MiB / pool->object_stride()) - 1) / (2 * MiB / pool->object_stride()));
  std::vector<Packet*> all(4096);
  REQUIRE(pool->alloc_bulk(all));
  for (Packet* p : all) {
    const auto first = reinterpret_cast<std::uintptr_t>(p);
    REQUIRE(first / (2 * MiB) == (first + pool->object_stride() - 1) / (2 * MiB));
  }
  pool->free_bulk(all);
}

TEST_CASE("PacketPool with a Type1Mapper gives device IOVAs in its range", "[pool]") {
  Type1Mapper m(std::uint64_t{1} << 40);
  auto c = small_config(64, 0);
  c.mapper = &m;
  auto pool = make_pool(c);
  CHECK(pool->mapper() == &m);
  Packet* p = pool->alloc();
  REQUIRE(p);
  CHECK(p->buf_iova >= (std::uint64_t{1} << 40));
  CHECK(p->buf_iova < m.next_iova());
  CHECK(p->buf_iova % 4096 == reinterpret_cast<std::uintptr_t>(p->buf_addr) % 4096);
  pool->free(p);
  pool.reset();  // the pool unmaps its regions from the mapper
  DmaRegion r = std::move(DmaRegion::create({.length = 4096, .page = PageSize::small_4k}).value());
  REQUIRE(m.map(r).ok());  // the mapper is still usable
}

TEST_CASE("PacketPool destroyed with packets out, and before its cache, does not crash", "[pool]") {
  auto pool = make_pool(small_config(32, 8));
  auto cache = pool->make_cache();
  REQUIRE(cache.ok());
  std::vector<Packet*> v(20);
  REQUIRE(pool->alloc_bulk(v, cache->get()));
  pool->free_bulk(std::span<Packet* const>(v.data(), 5), cache->get());
  pool.reset();
  CHECK(cache->get()->count() <= cache->get()->flush_threshold());
  cache->reset();  // the pool is gone: the cache returns nothing
  SUCCEED("no crash");
}

TEST_CASE("PacketPool::free_own frees the leading packets of its own pool, restored, and says how many", "[pool]") {
  auto mine = make_pool(small_config(64, 16));
  auto other = make_pool(small_config(8, 0));
  auto cache = mine->make_cache();
  REQUIRE(cache.ok());
  for (PacketPool::Cache* c : {cache->get(), static_cast<PacketPool::Cache*>(nullptr)}) {
    INFO((c != nullptr ? "through a cache" : "straight to the ring"));
    std::vector<Packet*> own(5);
    REQUIRE(mine->alloc_bulk(own, c));
    Packet* foreign = other->alloc();
    REQUIRE(foreign != nullptr);
    for (Packet* p : own) p->data_len = p->pkt_len = 60, p->data_off = 0, p->ol_flags = 1;
    // own, own, own, foreign, own, own: the first three are freed, the rest are the caller's.
    std::vector<Packet*> mixed{own[0], own[1], own[2], foreign, own[3], own[4]};
    CHECK(mine->free_own(mixed, c) == 3);
    CHECK(mine->in_use() == 2);
    CHECK(other->in_use() == 1);
    for (int i = 0; i < 3; ++i) check_free_invariant(*mine, own[i]);
    CHECK(own[3]->data_len == 60);  // untouched: not freed
    CHECK(mine->free_own(std::span<Packet* const>(&foreign, 1), c) == 0);
    other->free(foreign);
    CHECK(mine->free_own(std::span<Packet* const>(own.data() + 3, 2), c) == 2);
    CHECK(mine->in_use() == 0);
    CHECK(other->in_use() == 0);
  }
  // A bulk larger than the cache (the spill path: straight to the ring)
  // stops at the foreign packet too.
  std::vector<Packet*> many(30);
  REQUIRE(mine->alloc_bulk(many, cache->get()));
  Packet* foreign = other->alloc();
  REQUIRE(foreign != nullptr);
  Packet* displaced = std::exchange(many[20], foreign);
  CHECK(mine->free_own(many, cache->get()) == 20);
  CHECK(mine->in_use() == 10);  // many[21..29] and the displaced one
  CHECK(mine->free_own(std::span<Packet* const>(many.data() + 21, 9), cache->get()) == 9);
  mine->free(displaced, cache->get());
  other->free(foreign);
  CHECK(mine->in_use() == 0);
  CHECK(other->in_use() == 0);
}
