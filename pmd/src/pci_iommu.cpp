// IOMMU groups and the kernel's IOMMU state, as VFIO sees them (see vpmd/pmd/pci.hpp).
//
// VFIO hands out devices by IOMMU group (/dev/vfio/N): every device in a group
// shares one DMA translation, so a group is only safe for user space when no
// other device in it is driven by the host. Without an IOMMU, vfio built with
// CONFIG_VFIO_NOIOMMU can still take devices when enable_unsafe_noiommu_mode
// is set; it then creates one fake group per device, named "vfio-noiommu",
// and the device can DMA anywhere in physical memory.
#include <vpmd/pmd/pci.hpp>

#include <cerrno>

#include "pci_sysfs.hpp"

namespace vpmd::pmd {

namespace {

std::string group_dir(const std::string& root, const std::string& group) { return root + "/kernel/iommu_groups/" + group; }

// vfio names the groups it fakes for no-IOMMU devices (drivers/vfio: "vfio-noiommu").
bool is_noiommu_group(const std::string& dir) { return sysfs::read_line(dir + "/name").value_or("") == "vfio-noiommu"; }

}  // namespace

const char* to_string(IommuMode mode) noexcept {
  switch (mode) {
    case IommuMode::on: return "on";
    case IommuMode::noiommu_enabled: return "noiommu-enabled";
    case IommuMode::noiommu_available: return "noiommu-available";
    case IommuMode::off: break;
  }
  return "off";
}

Result<std::vector<std::string>> iommu_group_devices(unsigned group, const std::string& sysfs_root) {
  const std::string dir = group_dir(sysfs_root, std::to_string(group)) + "/devices";
  if (!sysfs::exists(dir))
    return make_error(ENOENT, "IOMMU group " + std::to_string(group) + " has no " + dir +
                                  "; the group vanished (device unbound?) or sysfs is not mounted");
  return sysfs::list_dir(dir);
}

std::string vfio_group_path(unsigned group, const std::string& sysfs_root) {
  const std::string n = std::to_string(group);
  return (is_noiommu_group(group_dir(sysfs_root, n)) ? "/dev/vfio/noiommu-" : "/dev/vfio/") + n;
}

IommuState iommu_state(const std::string& sysfs_root) {
  IommuState s;
  for (const auto& g : sysfs::list_dir(sysfs_root + "/kernel/iommu_groups")) {
    if (is_noiommu_group(group_dir(sysfs_root, g)))
      ++s.noiommu_groups;
    else
      ++s.groups;
  }
  s.vfio_loaded = sysfs::exists(sysfs_root + "/module/vfio");
  const auto param = sysfs::read_line(sysfs_root + "/module/vfio/parameters/enable_unsafe_noiommu_mode");
  if (s.groups > 0)
    s.mode = IommuMode::on;
  else if (param && (*param == "Y" || *param == "1"))
    s.mode = IommuMode::noiommu_enabled;
  else if (param)
    s.mode = IommuMode::noiommu_available;
  else
    s.mode = IommuMode::off;
  return s;
}

}  // namespace vpmd::pmd
