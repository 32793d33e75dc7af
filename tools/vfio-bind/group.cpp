// IOMMU group viability for vfio-bind (see group.hpp).
#include "group.hpp"

#include <algorithm>

namespace vfio_bind {

bool driver_allows_vfio(const std::optional<std::string>& driver) {
  if (!driver) return true;
  return *driver == "vfio-pci" || *driver == "pci-stub" || *driver == "pcieport";
}

GroupCheck check_group(const vpmd::pmd::PciDevice& dev, const std::string& sysfs_root,
                       const std::vector<std::string>& joining) {
  GroupCheck c;
  c.group = dev.iommu_group;
  if (!c.group) return c;
  c.vfio_path = vpmd::pmd::vfio_group_path(*c.group, sysfs_root);

  auto members = vpmd::pmd::iommu_group_devices(*c.group, sysfs_root);
  if (!members) {
    c.offenders.push_back({"?", members.error().message});
    return c;
  }
  for (const auto& bdf : *members) {
    if (std::find(joining.begin(), joining.end(), bdf) != joining.end()) continue;
    auto other = vpmd::pmd::pci_probe(bdf, sysfs_root);
    if (!other) {
      c.offenders.push_back({bdf, "unknown (" + other.error().message + ")"});
      continue;
    }
    // Bridges in a group do not take part in DMA isolation (the kernel skips
    // devices whose header is not a normal type-0 header).
    if (other->is_bridge() || driver_allows_vfio(other->driver)) continue;
    c.offenders.push_back({bdf, *other->driver});
  }
  return c;
}

}  // namespace vfio_bind
