#pragma once
// IOVA: the address a device uses for driver memory (virtio-v1.2 §2.7.5: a
// descriptor's `addr` is the buffer's address as the device sees it). Which
// address that is depends on the transport:
//   IdentityMapper  IOVA = VA (vhost-user back-ends map our fds; the in-tree
//                   device model shares our address space)
//   PhysicalMapper  IOVA = PA, for VFIO no-IOMMU mode (/proc/self/pagemap)
//   Type1Mapper     IOVAs we choose and program into the IOMMU (VFIO type1)
// A mapper runs once per region, never per packet, so a virtual interface is
// fine here; it fills DmaRegion's per-page table that iova() reads.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>

#include <vpmd/mem/dma_region.hpp>
#include <vpmd/mem/result.hpp>

namespace vpmd {

class IovaMapper {
 public:
  virtual ~IovaMapper() = default;
  // Fills region's IOVA table. Fails with EBUSY if the region is already mapped.
  virtual Result<void> map(DmaRegion& region) = 0;
  // Clears the table (and undoes any device mapping). No-op when unmapped.
  virtual Result<void> unmap(DmaRegion& region) = 0;
  virtual std::string_view name() const noexcept = 0;

 protected:
  IovaMapper() = default;
  IovaMapper(const IovaMapper&) = default;
  IovaMapper& operator=(const IovaMapper&) = default;
};

class IdentityMapper final : public IovaMapper {
 public:
  Result<void> map(DmaRegion& region) override;
  Result<void> unmap(DmaRegion& region) override;
  std::string_view name() const noexcept override { return "identity"; }
  // A process-wide instance (stateless), the default of PacketPool.
  static IdentityMapper& instance() noexcept;
};

// No-IOMMU: the device sees physical addresses. Needs CAP_SYS_ADMIN to read
// PFNs from /proc/self/pagemap, and hugepage-backed regions: every buffer must
// be physically contiguous, which only a hugepage guarantees beyond 4 KiB.
class PhysicalMapper final : public IovaMapper {
 public:
  PhysicalMapper() = default;
  // For tests: read entries from another pagemap-format file.
  explicit PhysicalMapper(const char* pagemap_path) : path_(pagemap_path) {}
  Result<void> map(DmaRegion& region) override;
  Result<void> unmap(DmaRegion& region) override;
  std::string_view name() const noexcept override { return "physical"; }

  // /proc/self/pagemap entry layout (Documentation/admin-guide/mm/pagemap.rst).
  static constexpr std::uint64_t present_bit = std::uint64_t{1} << 63;
  static constexpr std::uint64_t pfn_mask = (std::uint64_t{1} << 55) - 1;

 private:
  const char* path_ = "/proc/self/pagemap";
};

// VFIO type1: we pick IOVAs from a bump allocator starting at `base`, each
// region's range aligned to its page size (the IOMMU can then use large
// pages), and call do_map / do_unmap for the whole range (the VFIO transport
// passes VFIO_IOMMU_MAP_DMA / VFIO_IOMMU_UNMAP_DMA). Without callbacks it only
// assigns, which is what unit tests use.
class Type1Mapper final : public IovaMapper {
 public:
  using MapFn = std::function<Result<void>(std::uint64_t iova, const void* va, std::size_t len)>;
  static constexpr std::uint64_t default_base = std::uint64_t{1} << 32;
  // Highest IOVA (exclusive) handed out; 48 bits is what every x86 IOMMU covers.
  static constexpr std::uint64_t default_limit = std::uint64_t{1} << 48;

  explicit Type1Mapper(std::uint64_t base = default_base, MapFn do_map = {}, MapFn do_unmap = {},
                       std::uint64_t limit = default_limit)
      : next_(base), limit_(limit), do_map_(std::move(do_map)), do_unmap_(std::move(do_unmap)) {}
  Result<void> map(DmaRegion& region) override;
  Result<void> unmap(DmaRegion& region) override;
  std::string_view name() const noexcept override { return "vfio-type1"; }
  std::uint64_t next_iova() const noexcept { return next_; }

 private:
  std::uint64_t next_;
  std::uint64_t limit_;
  MapFn do_map_;
  MapFn do_unmap_;
};

}  // namespace vpmd
