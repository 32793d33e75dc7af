#pragma once
// PacketPool: fixed-size Packet objects carved from DmaRegions, kept in a
// lock-free ring (obj_ring.hpp) with optional per-thread caches in front, as
// DPDK's rte_mempool does. alloc/free never allocate, lock or make syscalls.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <vpmd/mem/dma_region.hpp>
#include <vpmd/mem/free_state.hpp>
#include <vpmd/mem/iova.hpp>
#include <vpmd/mem/obj_ring.hpp>
#include <vpmd/mem/packet.hpp>
#include <vpmd/mem/result.hpp>

namespace vpmd {

struct PoolConfig {
  std::uint32_t count = 0;          // packets in the pool
  std::uint32_t cache_size = 256;   // per-Cache objects kept (0: make_cache() refuses)
  std::uint16_t data_room = Packet::default_data_room;
  std::uint16_t headroom = Packet::default_headroom;
  int numa_node = -1;               // -1: the caller's node
  PageSize page = PageSize::huge_2m;
  bool allow_small_pages = false;   // see DmaRegionConfig
  IovaMapper* mapper = nullptr;     // nullptr: IdentityMapper (IOVA = VA); must outlive the pool
  const char* name = "vpmd-pool";
};

class PacketPool {
 public:
  static constexpr std::uint32_t max_cache_size = 512;
  // Bulks above this (alloc) or above the cache size (free) go straight to
  // the ring, as DPDK does: a cache is for bursts, not for refilling rings.
  static constexpr std::uint32_t max_cached_bulk = max_cache_size;

  // A per-thread cache of free objects. Owned and used by one thread at a
  // time; another thread may read its count (in_use()) concurrently.
  // Its destructor returns its objects to the pool; if the pool was
  // destroyed first (in the same thread), the cache is detached and returns
  // nothing.
  class Cache {
   public:
    Cache(const Cache&) = delete;
    Cache& operator=(const Cache&) = delete;
    ~Cache();
    std::uint32_t size() const noexcept { return size_; }
    std::uint32_t flush_threshold() const noexcept { return flush_threshold_; }
    std::uint32_t count() const noexcept { return len_.load(std::memory_order_relaxed); }
    PacketPool* pool() const noexcept { return pool_; }

   private:
    friend class PacketPool;
    Cache(PacketPool* pool, std::uint32_t size) noexcept;
    PacketPool* pool_;
    std::uint32_t size_;
    std::uint32_t flush_threshold_;  // 1.5 x size, as DPDK: a free above it flushes the cache to the ring
    // Written only by the owner (relaxed: only the count is shared, and
    // in_use() is a snapshot); read relaxed by in_use() in other threads.
    std::atomic<std::uint32_t> len_{0};
    alignas(cache_line) Packet* objs_[2 * max_cache_size];  // refill can reach size + bulk
  };

  static Result<std::unique_ptr<PacketPool>> create(const PoolConfig& config);

  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;
  // Packets still out are not touched; their memory goes away with the pool.
  ~PacketPool();

  Result<std::unique_ptr<Cache>> make_cache();

  // All of out.size() packets, or none (returns false, out unspecified).
  // The common case (a cache holding enough) is inline; the rest is not.
  bool alloc_bulk(std::span<Packet*> out, Cache* cache = nullptr) noexcept {
    const auto n = static_cast<std::uint32_t>(out.size());
    if (cache != nullptr) [[likely]] {
      const std::uint32_t len = cache->len_.load(std::memory_order_relaxed);
      if (n <= len) [[likely]] {
        // The most recently freed objects: the ones still in this core's cache.
        detail::copy_objs(out.data(), cache->objs_ + (len - n), n);
        cache->len_.store(len - n, std::memory_order_relaxed);
        return true;
      }
    }
    return alloc_refill(out, cache);
  }
  Packet* alloc(Cache* cache = nullptr) noexcept {
    Packet* p = nullptr;
    return alloc_bulk(std::span<Packet*>(&p, 1), cache) ? p : nullptr;
  }
  // Frees packets of this pool (no nullptrs), chains segment by segment (a
  // segment of another pool goes back to its own pool's ring). Restores the
  // free-packet invariant: reads nb_segs and writes data_off, pkt_len,
  // data_len and ol_flags on each packet's line 0, which a caller that has
  // just used the packet has in its cache anyway (put_bulk touches nothing).
  void free_bulk(std::span<Packet* const> pkts, Cache* cache = nullptr) noexcept {
    give_back<Check::free_state>(pkts, cache);
  }
  void free(Packet* p, Cache* cache = nullptr) noexcept {
    if (p != nullptr) free_bulk(std::span<Packet* const>(&p, 1), cache);
  }
  // Frees the leading packets of pkts that are this pool's (p->pool ==
  // this, read on line 0 with the fields free_bulk resets) as free_bulk
  // frees them, and returns how many: a TX reclaim hands all its
  // completions here and only the rest to their own pools, without a
  // separate pass to find where the pools change.
  std::uint32_t free_own(std::span<Packet* const> pkts, Cache* cache = nullptr) noexcept {
    return give_back<Check::free_state, true>(pkts, cache);
  }

  // Returns packets the caller vouches are already in the free state
  // (packet.hpp: as alloc handed them out and untouched since, or restored
  // by the caller), single segments of this pool. Neither reads nor writes
  // the packets, as DPDK's rte_mempool_put_bulk / rte_mbuf_raw_free: for
  // packets whose lines are cold (allocated on another core, or a refill
  // that could not be posted) this saves a cache miss per packet. A packet
  // that breaks the precondition is handed out dirty by a later alloc: when
  // in doubt, use free_bulk.
  void put_bulk(std::span<Packet* const> pkts, Cache* cache = nullptr) noexcept {
    give_back<Check::none>(pkts, cache);
  }
  void put(Packet* p, Cache* cache = nullptr) noexcept {
    if (p != nullptr) put_bulk(std::span<Packet* const>(&p, 1), cache);
  }

  // Packets out of the pool: capacity minus those in the ring and in every
  // cache. Exact when no alloc/free is in flight; race-free from any thread.
  std::uint32_t in_use() const;
  std::uint32_t capacity() const noexcept { return count_; }
  std::uint16_t data_room() const noexcept { return data_room_; }
  std::uint16_t headroom() const noexcept { return headroom_; }
  std::uint32_t cache_size() const noexcept { return cache_size_; }
  std::size_t object_stride() const noexcept { return stride_; }
  const std::string& name() const noexcept { return name_; }
  // The memory behind the packets: a transport VFIO-maps them or passes
  // their fds to a vhost-user back-end.
  std::span<const DmaRegion> regions() const noexcept { return regions_; }
  IovaMapper* mapper() const noexcept { return mapper_; }
  // Frees that could not be returned (a foreign or double-freed segment
  // found the ring full). Always 0 in a correct program.
  std::uint64_t lost_frees() const noexcept { return lost_frees_.load(std::memory_order_relaxed); }

  bool owns(const Packet* p) const noexcept;

 private:
  // What a free does to each packet: free_bulk restores the free state,
  // put_bulk trusts the caller that it holds.
  enum class Check : bool { none, free_state };
  explicit PacketPool(const PoolConfig& config);
  Result<void> populate(const PoolConfig& config);
  void release_cache(Cache* c) noexcept;
  // Restores the free-packet invariant (packet.hpp) on a packet whose fields
  // differ from it; frees the rest of its chain. Cold path.
  void reset_slow(Packet* p) noexcept;
  void put_to_ring(std::span<Packet* const> pkts, Check check) noexcept;
  // Out-of-line parts of alloc_bulk / free_bulk: no cache, refill, flush.
  bool alloc_refill(std::span<Packet*> out, Cache* cache) noexcept;
  // free_bulk / put_bulk: the common case (the cache has room) inline.
  // Own: only the leading packets whose pool is this one; returns how many
  // it freed.
  template <Check C, bool Own = false>
  std::uint32_t give_back(std::span<Packet* const> pkts, Cache* cache) noexcept {
    auto n = static_cast<std::uint32_t>(pkts.size());
    if (cache != nullptr) [[likely]] {
      const std::uint32_t len = cache->len_.load(std::memory_order_relaxed);
      if (len + n <= cache->flush_threshold_ && n <= cache->size_) [[likely]] {
        Packet** __restrict dst = cache->objs_ + len;
        Packet* const* __restrict src = pkts.data();
        if constexpr (C == Check::free_state) {
          // One pass, no check of the fields first: nearly every freed
          // packet was used (received, or sent with a length), so a scan of
          // the bulk and a second pass to reset it cost more (21 -> 14
          // instructions per packet in bench_burst), and the two stores go
          // to line 0, which the caller has just used and holds.
          const detail::Line0Word image = free_state_.image();  // a local: the stores below cannot alias it
          PacketPool* const self = this;
          for (std::uint32_t i = 0; i < n; ++i) {
            Packet* p = src[i];
            if (Own && p->pool != self) {
              n = i;
              break;
            }
            dst[i] = p;
            if (p->nb_segs == 1) [[likely]] FreeState::reset_single(p, image);
            else reset_slow(p);  // a chain: its other segments go back too
          }
        } else {
          detail::copy_objs(dst, src, n);
        }
        cache->len_.store(len + n, std::memory_order_relaxed);
        return n;
      }
    }
    if constexpr (Own) {
      n = 0;
      while (n < pkts.size() && pkts[n]->pool == this) ++n;
    }
    free_spill(pkts.first(n), cache, C);
    return n;
  }
  void free_spill(std::span<Packet* const> pkts, Cache* cache, Check check) noexcept;
  void reset_bulk(std::span<Packet* const> pkts) noexcept;  // restores each packet (chains: reset_slow)

  ObjRing<Packet*> ring_;
  std::uint32_t count_;
  std::uint32_t cache_size_;
  std::uint16_t data_room_;
  std::uint16_t headroom_;
  FreeState free_state_;
  std::size_t stride_ = 0;
  IovaMapper* mapper_;
  std::string name_;
  std::vector<DmaRegion> regions_;
  std::atomic<std::uint64_t> lost_frees_{0};
  mutable std::mutex caches_mu_;  // make_cache / cache destruction / in_use only
  std::vector<Cache*> caches_;
};

}  // namespace vpmd
