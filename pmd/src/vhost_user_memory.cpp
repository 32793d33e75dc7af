#include "vhost_user_memory.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vpmd::pmd::vhost_user {

SharedMemory::~SharedMemory() {
  for (const Region& r : regions_) ::close(r.fd);
}

Result<void> SharedMemory::map(DmaRegion& region) {
  if (region.fd() < 0)
    return make_error(EINVAL, "vhost-user: the region has no fd, so the back end cannot map it (use DmaRegion)");
  if (regions_.size() >= max_mem_regions)
    return make_error(ENOSPC, "vhost-user back ends map at most " + std::to_string(max_mem_regions) +
                                  " memory regions (SET_MEM_TABLE): this port already shares " +
                                  std::to_string(regions_.size()) + "; use fewer or larger packet pools");
  if (auto r = IdentityMapper::instance().map(region); !r) return r;
  // The table says which mapper filled it; take ownership so unmap is ours.
  std::vector<std::uint64_t> table(region.page_count());
  for (size_t i = 0; i < table.size(); ++i) table[i] = region.iova(region.addr() + i * region.page_size());
  region.clear_page_iova();
  if (auto r = region.set_page_iova(std::move(table), this); !r) return r;
  const int fd = ::fcntl(region.fd(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) {
    region.clear_page_iova();
    return make_error(errno, std::string("vhost-user: dup of a region fd: ") + std::strerror(errno));
  }
  regions_.push_back({region.addr(), region.length(), fd});
  return on_change ? on_change() : Result<void>{};
}

Result<void> SharedMemory::unmap(DmaRegion& region) {
  if (!region.iova_mapped()) return {};
  if (region.iova_mapper() != this)
    return make_error(EINVAL, "vhost-user: the region was mapped by the " + std::string(region.iova_mapper()->name()) +
                                  " mapper; unmap it with that one");
  region.clear_page_iova();
  auto it = std::find_if(regions_.begin(), regions_.end(), [&](const Region& r) { return r.addr == region.addr(); });
  if (it == regions_.end()) return {};
  ::close(it->fd);
  regions_.erase(it);
  return on_change ? on_change() : Result<void>{};
}

MemTable SharedMemory::table() const {
  MemTable t{};
  t.nregions = static_cast<uint32_t>(regions_.size());
  for (size_t i = 0; i < regions_.size(); ++i) {
    const auto a = reinterpret_cast<uint64_t>(regions_[i].addr);
    t.regions[i] = {.guest_phys_addr = a, .memory_size = regions_[i].len, .userspace_addr = a, .mmap_offset = 0};
  }
  return t;
}

std::vector<int> SharedMemory::fds() const {
  std::vector<int> v;
  for (const Region& r : regions_) v.push_back(r.fd);
  return v;
}

}  // namespace vpmd::pmd::vhost_user

