#pragma once
// DmaRegion: fd-backed, locked, NUMA-bound memory a device may DMA into.
//
// The memory is a memfd (hugetlbfs when hugepages are asked for) so that it
// can be shared by fd with a vhost-user back-end (virtio-v1.2 §5.1 device
// memory is the driver's memory; vhost-user passes it with SET_MEM_TABLE) and
// mapped into an IOMMU by a VFIO transport. An IovaMapper (iova.hpp) fills the
// per-page IOVA table once; iova() is then O(1) and allocation-free.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <vpmd/mem/result.hpp>

namespace vpmd {

inline constexpr std::size_t KiB = 1024;
inline constexpr std::size_t MiB = 1024 * KiB;
inline constexpr std::size_t GiB = 1024 * MiB;

enum class PageSize : std::size_t {
  small_4k = 4 * KiB,
  huge_2m = 2 * MiB,
  huge_1g = 1 * GiB,
};

constexpr std::size_t bytes(PageSize p) noexcept { return static_cast<std::size_t>(p); }

struct DmaRegionConfig {
  std::size_t length = 0;          // rounded up to a whole number of pages
  PageSize page = PageSize::huge_2m;
  int numa_node = -1;              // -1: the node of the CPU the calling thread runs on
  bool allow_small_pages = false;  // fall back to 4 KiB pages if no hugepages are free
  const char* name = "vpmd";       // memfd name, shows in /proc/<pid>/maps
};

class IovaMapper;

class DmaRegion {
 public:
  // Creates, NUMA-binds, populates and mlocks the memory. Errors say what to
  // do (e.g. how many hugepages to reserve through /proc/sys/vm/nr_hugepages).
  static Result<DmaRegion> create(const DmaRegionConfig& config);

  DmaRegion(DmaRegion&& other) noexcept;
  DmaRegion& operator=(DmaRegion&& other) noexcept;
  DmaRegion(const DmaRegion&) = delete;
  DmaRegion& operator=(const DmaRegion&) = delete;
  ~DmaRegion();

  std::byte* addr() const noexcept { return addr_; }
  std::size_t length() const noexcept { return length_; }
  int fd() const noexcept { return fd_; }
  std::size_t page_size() const noexcept { return page_size_; }
  std::size_t page_count() const noexcept { return length_ >> page_shift_; }
  unsigned page_shift() const noexcept { return page_shift_; }
  int numa_node() const noexcept { return numa_node_; }
  // false when the region fell back to 4 KiB pages (allow_small_pages). Such a
  // region is NOT usable for no-IOMMU DMA (PhysicalMapper): consecutive 4 KiB
  // pages are not physically contiguous, so a buffer crossing a page boundary
  // would be scattered in physical memory.
  bool hugepage_backed() const noexcept { return hugepage_backed_; }

  bool contains(const void* p) const noexcept {
    auto* b = static_cast<const std::byte*>(p);
    return b >= addr_ && b < addr_ + length_;
  }

  // IOVA of p. Precondition: iova_mapped() && contains(p). O(1): one table
  // load per call, no search (virtio-v1.2 §2.7.5 descriptors carry IOVAs).
  std::uint64_t iova(const void* p) const noexcept {
    auto off = static_cast<std::size_t>(static_cast<const std::byte*>(p) - addr_);
    return page_iova_[off >> page_shift_] + (off & (page_size_ - 1));
  }
  bool iova_mapped() const noexcept { return !page_iova_.empty(); }
  // The mapper that filled the table (nullptr when unmapped).
  const IovaMapper* iova_mapper() const noexcept { return mapper_; }

  // For IovaMapper implementations: one IOVA per page (page_count() entries),
  // or an empty table to mark the region unmapped.
  Result<void> set_page_iova(std::vector<std::uint64_t> table, const IovaMapper* by);
  void clear_page_iova() noexcept;

 private:
  DmaRegion() = default;
  void release() noexcept;

  std::byte* addr_ = nullptr;
  std::size_t length_ = 0;
  std::size_t page_size_ = 0;
  unsigned page_shift_ = 0;
  int fd_ = -1;
  int numa_node_ = -1;
  bool hugepage_backed_ = false;
  bool locked_ = false;
  std::vector<std::uint64_t> page_iova_;
  const IovaMapper* mapper_ = nullptr;
};

}  // namespace vpmd
