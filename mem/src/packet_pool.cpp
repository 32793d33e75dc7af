// PacketPool: creation (validation, carving, IOVA) and the alloc/free paths.
#include <vpmd/mem/packet_pool.hpp>

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace vpmd {
namespace {

constexpr std::size_t round_up(std::size_t v, std::size_t a) { return (v + a - 1) / a * a; }

// Object stride: whole cache lines, and an odd number of them when that
// still fits a small page. With an even count (2304 B = 36 lines) every
// object's line 0 falls in a quarter of the cache sets and evicts itself;
// an odd count spreads them over all sets (DPDK pads mbufs the same way).
std::size_t stride_for(std::uint16_t headroom, std::uint16_t data_room) {
  std::size_t s = round_up(sizeof(Packet) + headroom + data_room, cache_line);
  if ((s / cache_line) % 2 == 0 && s + cache_line <= bytes(PageSize::small_4k)) s += cache_line;
  return s;
}


std::string pool_err(const PoolConfig& c, const std::string& what) {
  return std::string("PacketPool '") + (c.name ? c.name : "") + "': " + what;
}

}  // namespace

// ---------------------------------------------------------------- creation

Result<std::unique_ptr<PacketPool>> PacketPool::create(const PoolConfig& c) {
  if (c.count == 0) return make_error(EINVAL, pool_err(c, "count is 0; ask for at least one packet"));
  if (c.count > ObjRing<Packet*>::max_capacity)
    return make_error(EINVAL, pool_err(c, "count " + std::to_string(c.count) + " is above the maximum " +
                                               std::to_string(ObjRing<Packet*>::max_capacity) + "; split it into several pools"));
  if (c.cache_size > max_cache_size)
    return make_error(EINVAL, pool_err(c, "cache_size " + std::to_string(c.cache_size) + " is above the maximum " +
                                               std::to_string(max_cache_size) + "; use " + std::to_string(max_cache_size) + " or less"));
  if (c.cache_size > c.count)
    return make_error(EINVAL, pool_err(c, "cache_size " + std::to_string(c.cache_size) + " is larger than count " +
                                               std::to_string(c.count) + "; one cache could hold the whole pool: lower cache_size or raise count"));
  if (c.headroom < Packet::min_headroom)
    return make_error(EINVAL, pool_err(c, "headroom " + std::to_string(c.headroom) + " is below " +
                                               std::to_string(Packet::min_headroom) +
                                               " bytes, too small for a virtio-net header (virtio-v1.2 §5.1.6); use at least " +
                                               std::to_string(Packet::min_headroom)));
  if (c.data_room == 0) return make_error(EINVAL, pool_err(c, "data_room is 0; use e.g. Packet::default_data_room (2048)"));
  if (std::uint32_t{c.headroom} + c.data_room > UINT16_MAX)
    return make_error(EINVAL, pool_err(c, "headroom + data_room = " + std::to_string(std::uint32_t{c.headroom} + c.data_room) +
                                               " does not fit Packet::buf_len (65535 max); lower data_room"));
  const std::size_t stride = stride_for(c.headroom, c.data_room);
  if (stride > bytes(c.page))
    return make_error(EINVAL, pool_err(c, "an object (128 B metadata + headroom + data_room = " + std::to_string(stride) +
                                               " B) is larger than a page of " + std::to_string(bytes(c.page)) +
                                               " B; lower data_room or use a larger PageSize"));

  std::unique_ptr<PacketPool> pool(new (std::nothrow) PacketPool(c));
  if (!pool) return make_error(ENOMEM, pool_err(c, "out of memory for the pool's ring"));
  if (auto r = pool->populate(c); !r) return r.error();
  return pool;
}

PacketPool::PacketPool(const PoolConfig& c)
    : ring_(c.count),
      count_(c.count),
      cache_size_(c.cache_size),
      data_room_(c.data_room),
      headroom_(c.headroom),
      free_state_(c.headroom, static_cast<std::uint16_t>(c.headroom + c.data_room)),
      mapper_(c.mapper != nullptr ? c.mapper : &IdentityMapper::instance()),
      name_(c.name != nullptr ? c.name : "vpmd-pool") {}

Result<void> PacketPool::populate(const PoolConfig& c) {
  stride_ = stride_for(c.headroom, c.data_room);
  auto make_region = [&](PageSize page, bool allow_small) {
    const std::size_t per_page = bytes(page) / stride_;
    const std::size_t pages = (std::size_t{c.count} + per_page - 1) / per_page;
    return DmaRegion::create({pages * bytes(page), page, c.numa_node, allow_small, name_.c_str()});
  };
  auto region = make_region(c.page, c.allow_small_pages);
  if (!region) return make_error(region.error().code, pool_err(c, region.error().message));
  if (region->page_size() != bytes(c.page)) {
    // Fell back to 4 KiB pages: re-carve for that page size.
    if (stride_ > bytes(PageSize::small_4k))
      return make_error(ENOMEM, pool_err(c, "no hugepages, and an object of " + std::to_string(stride_) +
                                                " B does not fit the 4 KiB fallback pages; reserve hugepages (echo N > /proc/sys/vm/nr_hugepages) or lower data_room"));
    region = make_region(PageSize::small_4k, true);
    if (!region) return make_error(region.error().code, pool_err(c, region.error().message));
  }
  if (auto r = mapper_->map(*region); !r)
    return make_error(r.error().code, pool_err(c, "IOVA mapping (" + std::string(mapper_->name()) + ") failed: " + r.error().message));
  regions_.push_back(std::move(*region));

  // Carve: objects never cross a page, so each buffer is IOVA-contiguous and
  // buf_iova is one table lookup, done here once.
  const DmaRegion& reg = regions_.back();
  const std::size_t per_page = reg.page_size() / stride_;
  std::vector<Packet*> all;
  all.reserve(count_);
  for (std::size_t page = 0; all.size() < count_; ++page) {
    std::byte* base = reg.addr() + page * reg.page_size();
    for (std::size_t k = 0; k < per_page && all.size() < count_; ++k) {
      auto* p = new (base + k * stride_) Packet{};
      p->buf_addr = reinterpret_cast<std::byte*>(p) + sizeof(Packet);
      p->buf_iova = reg.iova(p->buf_addr);
      p->buf_len = static_cast<std::uint16_t>(headroom_ + data_room_);
      p->data_off = headroom_;
      p->nb_segs = 1;
      p->port = UINT16_MAX;
      p->pool = this;
      all.push_back(p);
    }
  }
  if (!ring_.enqueue_bulk(all)) return make_error(EFAULT, pool_err(c, "internal error: ring smaller than count"));
  return {};
}

PacketPool::~PacketPool() {
  {
    std::lock_guard lock(caches_mu_);
    for (Cache* c : caches_) c->pool_ = nullptr;  // caches outliving us return nothing
    caches_.clear();
  }
  for (DmaRegion& r : regions_) {
    if (r.iova_mapped()) (void)mapper_->unmap(r);  // best effort: nothing to report to in a destructor
  }
}

bool PacketPool::owns(const Packet* p) const noexcept {
  for (const DmaRegion& r : regions_) {
    if (!r.contains(p)) continue;
    const auto off = static_cast<std::size_t>(reinterpret_cast<const std::byte*>(p) - r.addr());
    const std::size_t in_page = off & (r.page_size() - 1);
    const std::size_t index = (off >> r.page_shift()) * (r.page_size() / stride_) + in_page / stride_;
    return in_page % stride_ == 0 && in_page / stride_ < r.page_size() / stride_ && index < count_;
  }
  return false;
}

// ---------------------------------------------------------------- caches

PacketPool::Cache::Cache(PacketPool* pool, std::uint32_t size) noexcept
    : pool_(pool), size_(size), flush_threshold_(size + size / 2) {}

PacketPool::Cache::~Cache() {
  if (pool_ != nullptr) pool_->release_cache(this);
}

Result<std::unique_ptr<PacketPool::Cache>> PacketPool::make_cache() {
  if (cache_size_ == 0)
    return make_error(EINVAL, "PacketPool '" + name_ + "': created with cache_size 0, so it has no caches; "
                                                       "create it with a cache_size (e.g. 256) or pass no cache to alloc/free");
  std::unique_ptr<Cache> c(new (std::nothrow) Cache(this, cache_size_));
  if (!c) return make_error(ENOMEM, "PacketPool '" + name_ + "': out of memory for a cache");
  std::lock_guard lock(caches_mu_);
  caches_.push_back(c.get());
  return c;
}

void PacketPool::release_cache(Cache* c) noexcept {
  std::lock_guard lock(caches_mu_);
  const std::uint32_t len = c->len_.load(std::memory_order_relaxed);
  if (!ring_.enqueue_bulk(std::span<Packet* const>(c->objs_, len))) lost_frees_.fetch_add(len, std::memory_order_relaxed);
  c->len_.store(0, std::memory_order_relaxed);
  std::erase(caches_, c);
}

std::uint32_t PacketPool::in_use() const {
  std::uint64_t free_count = ring_.count();
  {
    std::lock_guard lock(caches_mu_);
    for (const Cache* c : caches_) free_count += c->len_.load(std::memory_order_relaxed);
  }
  return free_count >= count_ ? 0 : static_cast<std::uint32_t>(count_ - free_count);
}

// ---------------------------------------------------------------- hot paths

bool PacketPool::alloc_refill(std::span<Packet*> out, Cache* cache) noexcept {
  const auto n = static_cast<std::uint32_t>(out.size());
  if (cache == nullptr || n > max_cached_bulk) return ring_.dequeue_bulk(out);
  std::uint32_t len = cache->len_.load(std::memory_order_relaxed);
  if (n > len) {
    // Refill so that `size` objects remain after serving (DPDK does the
    // same); if the ring has fewer, take just what this call needs.
    const std::uint32_t full = cache->size_ + n - len;
    if (ring_.dequeue_bulk(std::span<Packet*>(cache->objs_ + len, full))) {
      len += full;
    } else if (ring_.dequeue_bulk(std::span<Packet*>(cache->objs_ + len, n - len))) {
      len = n;
    } else {
      return false;
    }
  }
  len -= n;
  detail::copy_objs(out.data(), cache->objs_ + len, n);
  cache->len_.store(len, std::memory_order_relaxed);
  return true;
}

void PacketPool::free_spill(std::span<Packet* const> pkts, Cache* cache, Check check) noexcept {
  const auto n = static_cast<std::uint32_t>(pkts.size());
  if (cache == nullptr || n > cache->size_) {
    put_to_ring(pkts, check);
    return;
  }
  std::uint32_t len = cache->len_.load(std::memory_order_relaxed);
  if (len + n > cache->flush_threshold_) {
    // Flush the whole cache, as DPDK does: one large ring operation every
    // ~size/n bulks rather than a small one every few, so the ring's shared
    // head/tail lines move between cores less often.
    if (!ring_.enqueue_bulk(std::span<Packet* const>(cache->objs_, len)))
      lost_frees_.fetch_add(len, std::memory_order_relaxed);
    cache->len_.store(0, std::memory_order_relaxed);
  }
  // Now fits under the threshold.
  if (check == Check::free_state) give_back<Check::free_state>(pkts, cache);
  else give_back<Check::none>(pkts, cache);
}

// A bulk that failed the scan is nearly always all used packets (an RX
// burst, a TX reclaim), so each one-segment packet is reset as the cache
// path resets it (FreeState::reset_single) rather than checked first.
// Chains take reset_slow, which frees their other segments.
void PacketPool::reset_bulk(std::span<Packet* const> pkts) noexcept {
  const detail::Line0Word image = free_state_.image();  // a local: the stores below cannot alias it
  for (Packet* p : pkts) {
    if (p->nb_segs != 1) [[unlikely]] reset_slow(p);
    else FreeState::reset_single(p, image);
  }
}

void PacketPool::put_to_ring(std::span<Packet* const> pkts, Check check) noexcept {
  if (check == Check::free_state) {
    FreeState::Scan scan;
#pragma GCC unroll 4
    for (Packet* p : pkts) scan.add(p);
    if (!scan.clean(free_state_)) reset_bulk(pkts);
  }
  if (!ring_.enqueue_bulk(pkts)) lost_frees_.fetch_add(pkts.size(), std::memory_order_relaxed);
}

void PacketPool::reset_slow(Packet* p) noexcept {
  if (p->nb_segs != 1) {
    // Chain: only now touch line 1. Each further segment goes back to its
    // own pool's ring (it may come from another pool, e.g. a header pool).
    Packet* seg = p->next;
    p->next = nullptr;
    p->nb_segs = 1;
    while (seg != nullptr) {
      Packet* following = seg->next;
      PacketPool* owner = seg->pool;
      seg->next = nullptr;
      seg->nb_segs = 1;
      FreeState::reset_single(seg, owner->free_state_.image());
      if (!owner->ring_.enqueue(seg)) owner->lost_frees_.fetch_add(1, std::memory_order_relaxed);
      seg = following;
    }
  }
  FreeState::reset_single(p, free_state_.image());
}

}  // namespace vpmd
