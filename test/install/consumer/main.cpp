// A program outside the tree, built against the installed vpmd: it must find
// the headers and link libvpmd.a (and libnuma) from the package alone.
#include <cstdio>
#include <vpmd/mem/packet_pool.hpp>
#include <vpmd/ring/split_ring.hpp>

int main() {
  auto pool = vpmd::PacketPool::create({.count = 64, .cache_size = 0, .allow_small_pages = true});
  if (!pool) { std::printf("pool: %s\n", pool.error().message.c_str()); return 1; }
  auto region = vpmd::DmaRegion::create({.length = 64 * 1024, .page = vpmd::PageSize::small_4k, .allow_small_pages = true});
  if (!region) { std::printf("region: %s\n", region.error().message.c_str()); return 1; }
  using Ring = vpmd::ring::SplitRing<vpmd::ring::AnyOrder<vpmd::Packet>>;
  auto ring = Ring::create({.size = 64}, {region->addr(), reinterpret_cast<uint64_t>(region->addr()), region->length()});
  if (!ring) { std::printf("ring: %s\n", ring.error().message.c_str()); return 1; }
  vpmd::Packet* p = (*pool)->alloc();
  vpmd::ring::Segment seg{p->iova(), 100, false};
  if (!p || !ring->add_chain({&seg, 1}, p)) return 1;
  int detached = 0;
  ring->detach_all([&](vpmd::Packet* t) { ++detached; (*pool)->free(t); });
  std::printf("consumer: ok (detached %d, in use %u)\n", detached, (*pool)->in_use());
  return detached == 1 && (*pool)->in_use() == 0 ? 0 : 1;
}
