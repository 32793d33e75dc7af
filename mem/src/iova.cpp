// The three IOVA mappers. Each runs once per region, at pool creation.
#include <vpmd/mem/iova.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

namespace vpmd {
namespace {

constexpr std::size_t small_page = bytes(PageSize::small_4k);

Result<void> check_unmapped(const DmaRegion& region, std::string_view who) {
  if (region.addr() == nullptr) return make_error(EINVAL, std::string(who) + ": the region is empty (moved from?)");
  if (region.iova_mapped())
    return make_error(EBUSY, std::string(who) + ": the region is already mapped by the " +
                                 std::string(region.iova_mapper() ? region.iova_mapper()->name() : "?") +
                                 " mapper; unmap it with that mapper first");
  return {};
}

Result<void> check_owner(const DmaRegion& region, const IovaMapper* self, std::string_view who) {
  if (region.iova_mapped() && region.iova_mapper() != self)
    return make_error(EINVAL, std::string(who) + ": the region was mapped by another mapper (" +
                                  std::string(region.iova_mapper()->name()) + "); unmap it with that one");
  return {};
}

}  // namespace

IdentityMapper& IdentityMapper::instance() noexcept {
  static IdentityMapper m;
  return m;
}

Result<void> IdentityMapper::map(DmaRegion& region) {
  if (auto r = check_unmapped(region, "IdentityMapper::map"); !r) return r;
  std::vector<std::uint64_t> table(region.page_count());
  const auto base = reinterpret_cast<std::uintptr_t>(region.addr());
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = base + i * region.page_size();
  return region.set_page_iova(std::move(table), this);
}

Result<void> IdentityMapper::unmap(DmaRegion& region) {
  if (auto r = check_owner(region, this, "IdentityMapper::unmap"); !r) return r;
  region.clear_page_iova();
  return {};
}

Result<void> PhysicalMapper::map(DmaRegion& region) {
  if (auto r = check_unmapped(region, "PhysicalMapper::map"); !r) return r;
  if (!region.hugepage_backed())
    return make_error(EINVAL,
                      "PhysicalMapper: the region uses 4 KiB pages; 4 KiB pages are not physically contiguous, "
                      "so no-IOMMU DMA needs hugepages: create it with PageSize::huge_2m or huge_1g and "
                      "allow_small_pages = false (reserve pages with echo N > /proc/sys/vm/nr_hugepages)");
  const int fd = open(path_, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return make_error(e, std::string("PhysicalMapper: cannot open ") + path_ + ": " + std::strerror(e) +
                             "; reading physical addresses needs CAP_SYS_ADMIN: run as root");
  }
  const std::size_t pieces = region.length() / small_page;
  std::vector<std::uint64_t> entry(pieces);
  const auto first_vpn = reinterpret_cast<std::uintptr_t>(region.addr()) / small_page;
  const auto want = static_cast<ssize_t>(pieces * sizeof(std::uint64_t));
  const ssize_t got = pread(fd, entry.data(), static_cast<std::size_t>(want), static_cast<off_t>(first_vpn * sizeof(std::uint64_t)));
  const int read_errno = errno;
  close(fd);
  if (got != want)
    return make_error(got < 0 ? read_errno : EIO, std::string("PhysicalMapper: short read of ") + path_ + " (" +
                                                      std::to_string(got) + " of " + std::to_string(want) + " bytes)");

  const std::size_t per_page = region.page_size() / small_page;
  std::vector<std::uint64_t> table(region.page_count());
  for (std::size_t i = 0; i < table.size(); ++i) {
    const std::uint64_t head = entry[i * per_page];
    if ((head & present_bit) == 0)
      return make_error(EFAULT, "PhysicalMapper: page " + std::to_string(i) +
                                    " of the region is not present; the region must be populated (DmaRegion::create does that)");
    const std::uint64_t pfn = head & pfn_mask;
    if (pfn == 0)
      return make_error(EPERM, "PhysicalMapper: /proc/self/pagemap reads PFNs as 0: physical addresses need CAP_SYS_ADMIN; run as root");
    for (std::size_t j = 1; j < per_page; ++j) {
      const std::uint64_t e = entry[i * per_page + j];
      if ((e & present_bit) == 0 || (e & pfn_mask) != pfn + j)
        return make_error(EIO, "PhysicalMapper: hugepage " + std::to_string(i) + " is not physically contiguous at 4 KiB piece " +
                                   std::to_string(j) + " (PFN " + std::to_string(e & pfn_mask) + ", expected " +
                                   std::to_string(pfn + j) + "); the region is not usable for no-IOMMU DMA");
    }
    table[i] = pfn * small_page;
  }
  return region.set_page_iova(std::move(table), this);
}

Result<void> PhysicalMapper::unmap(DmaRegion& region) {
  if (auto r = check_owner(region, this, "PhysicalMapper::unmap"); !r) return r;
  region.clear_page_iova();
  return {};
}

Result<void> Type1Mapper::map(DmaRegion& region) {
  if (auto r = check_unmapped(region, "Type1Mapper::map"); !r) return r;
  const std::uint64_t align = region.page_size();
  const std::uint64_t start = (next_ + align - 1) & ~(align - 1);
  if (start < next_ || start > limit_ || region.length() > limit_ - start)
    return make_error(ENOSPC, "Type1Mapper: IOVA space exhausted (next " + std::to_string(next_) + ", need " +
                                  std::to_string(region.length()) + " bytes below " + std::to_string(limit_) +
                                  "); use a lower base or a higher limit");
  if (do_map_) {
    if (auto r = do_map_(start, region.addr(), region.length()); !r) return r;
  }
  std::vector<std::uint64_t> table(region.page_count());
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = start + i * region.page_size();
  if (auto r = region.set_page_iova(std::move(table), this); !r) return r;
  next_ = start + region.length();
  return {};
}

Result<void> Type1Mapper::unmap(DmaRegion& region) {
  if (!region.iova_mapped()) return {};
  if (auto r = check_owner(region, this, "Type1Mapper::unmap"); !r) return r;
  if (do_unmap_) {
    if (auto r = do_unmap_(region.iova(region.addr()), region.addr(), region.length()); !r) return r;
  }
  region.clear_page_iova();  // the bump allocator does not reuse the range
  return {};
}

}  // namespace vpmd
