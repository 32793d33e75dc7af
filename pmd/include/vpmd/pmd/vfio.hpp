#pragma once
// VFIO: a container (the IOMMU context), a group, and a device, each an RAII
// owner of its file descriptor. Everything opened is closed, and everything
// mapped is unmapped, on every path, errors included.
//
// Two IOMMU modes:
//  - type1 (a real or virtual IOMMU): we choose IOVAs and map our DMA
//    regions with VFIO_IOMMU_MAP_DMA; the device can reach nothing else.
//  - no-IOMMU (vfio's enable_unsafe_noiommu_mode): no translation; IOVAs
//    are physical addresses (mem/'s PhysicalMapper) and the device can reach
//    all memory. See README "DMA safety".
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vpmd/mem/iova.hpp"
#include "vpmd/mem/result.hpp"

namespace vpmd::pmd {

enum class VfioIommu : uint8_t { type1, noiommu };

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept;
  ~Fd();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// One IOMMU context. Shared by the groups of every device a process drives.
class VfioContainer {
 public:
  static Result<std::shared_ptr<VfioContainer>> open();
  VfioIommu mode() const { return mode_; }
  int fd() const { return fd_.get(); }
  bool iommu_set() const { return iommu_set_; }

  // Called once the first group is attached (the kernel wants a group before SET_IOMMU).
  Result<void> set_iommu(VfioIommu wanted);

  // type1: map [va, va+len) at iova for device reads and writes.
  Result<void> map_dma(uint64_t iova, const void* va, size_t len);
  Result<void> unmap_dma(uint64_t iova, size_t len);

  // Groups attached to this container. When the last one goes, the kernel
  // drops the IOMMU context and every mapping: the next attach sets it anew
  // (and memory mapped before must be mapped again).
  void attached() { ++groups_; }
  void detached();

  // The mapper to hand to mem/ for this container: Type1Mapper issuing
  // MAP_DMA/UNMAP_DMA through it, or PhysicalMapper for no-IOMMU.
  IovaMapper& mapper();

 private:
  VfioContainer() = default;
  Fd fd_;
  VfioIommu mode_ = VfioIommu::type1;
  bool iommu_set_ = false;
  unsigned groups_ = 0;
  std::unique_ptr<IovaMapper> mapper_;
};

struct VfioRegion {
  uint32_t index = 0;
  uint64_t size = 0;
  uint64_t offset = 0;  // of the region in the device fd
  uint32_t flags = 0;   // VFIO_REGION_INFO_FLAG_*
  std::byte* map = nullptr;  // mmap of the whole region when mappable
};

// An opened device: config space and BARs as regions, interrupts through eventfds.
class VfioDevice {
 public:
  // Opens the group of `bdf` (its IOMMU group number from sysfs), attaches
  // it to `container` (setting the IOMMU type on first use) and takes the
  // device fd. Clear errors: not bound to vfio-pci, group not viable, no
  // VFIO, no permission.
  static Result<std::unique_ptr<VfioDevice>> open(const std::string& bdf, std::shared_ptr<VfioContainer> container,
                                                   const std::string& sysfs_root = "/sys");
  ~VfioDevice();
  VfioDevice(const VfioDevice&) = delete;
  VfioDevice& operator=(const VfioDevice&) = delete;

  const std::string& bdf() const { return bdf_; }
  int fd() const { return device_.get(); }
  VfioContainer& container() { return *container_; }
  std::shared_ptr<VfioContainer> shared_container() const { return container_; }

  Result<VfioRegion*> region(uint32_t index);
  // Maps a BAR region (if VFIO allows); nullptr map means use read/write.
  Result<std::byte*> map_region(uint32_t index);

  // pread/pwrite of a region (config space, I/O BARs, unmappable BARs).
  Result<void> read(uint32_t index, uint64_t off, void* buf, size_t len);
  Result<void> write(uint32_t index, uint64_t off, const void* buf, size_t len);
  template <class T>
  Result<T> read_as(uint32_t index, uint64_t off) {
    T v{};
    if (auto r = read(index, off, &v, sizeof v); !r) return r.error();
    return v;
  }
  template <class T>
  Result<void> write_as(uint32_t index, uint64_t off, T v) { return write(index, off, &v, sizeof v); }

  // PCI command register: memory/I/O decoding and bus mastering (DMA).
  Result<void> enable_bus_master();

  // MSI-X: `count` vectors, each signalled on an eventfd that this object owns.
  Result<void> enable_msix(unsigned count);
  void disable_irqs();
  int irq_eventfd(unsigned vector) const;
  unsigned irq_count() const { return static_cast<unsigned>(irq_fds_.size()); }
  uint32_t msix_supported() const;  // vectors the device offers (0: none)

  // VFIO_DEVICE_RESET (function-level reset) when the device supports it.
  Result<void> reset();

 private:
  VfioDevice() = default;
  std::string bdf_;
  std::shared_ptr<VfioContainer> container_;
  Fd group_;
  Fd device_;
  uint32_t num_regions_ = 0, num_irqs_ = 0;
  bool can_reset_ = false;
  bool attached_ = false;  // we attached the group to the container
  std::vector<VfioRegion> regions_;
  std::vector<Fd> irq_fds_;
};

}  // namespace vpmd::pmd
