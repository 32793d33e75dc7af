#pragma once
// IOMMU group viability: VFIO lets user space open a group only when no device
// in it is driven by a host driver that does its own DMA.
#include <optional>
#include <string>
#include <vector>

#include <vpmd/pmd/pci.hpp>

namespace vfio_bind {

struct GroupOffender {
  std::string bdf;
  std::string driver;
};

struct GroupCheck {
  std::optional<unsigned> group;   // none: the device has no IOMMU group (yet)
  std::string vfio_path;           // /dev/vfio/N or /dev/vfio/noiommu-N, empty without a group
  std::vector<GroupOffender> offenders;
  bool viable() const noexcept { return group && offenders.empty(); }
};

// Drivers the kernel accepts beside vfio-pci in a group it hands to user space:
// they declare driver_managed_dma (vfio-pci, pci-stub, pcieport).
bool driver_allows_vfio(const std::optional<std::string>& driver);

// Checks dev's group: every member, dev included, must be driverless or on a
// driver that allows VFIO. Devices listed in `joining` are about to be bound
// to vfio-pci, so they do not count as offenders.
GroupCheck check_group(const vpmd::pmd::PciDevice& dev, const std::string& sysfs_root,
                       const std::vector<std::string>& joining = {});

}  // namespace vfio_bind
