// Choosing the PCI interface for a device, and the MSI-X capability check
// both interfaces need.
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vpmd/pmd/pci.hpp"
#include "vpmd/pmd/pci_transport.hpp"

namespace vpmd::pmd {

bool has_msix_enabled(VfioDevice& dev) {
  constexpr uint32_t cfg = VFIO_PCI_CONFIG_REGION_INDEX;
  auto ptr = dev.read_as<uint8_t>(cfg, PCI_CAPABILITY_LIST);
  if (!ptr) return false;
  for (unsigned hops = 0, at = *ptr & ~3u; at >= 0x40 && hops < 48; ++hops) {
    auto id = dev.read_as<uint8_t>(cfg, at);
    auto next = dev.read_as<uint8_t>(cfg, at + 1);
    if (!id || !next) return false;
    if (*id == PCI_CAP_ID_MSIX) {
      auto flags = dev.read_as<uint16_t>(cfg, at + PCI_MSIX_FLAGS);
      return flags && (*flags & PCI_MSIX_FLAGS_ENABLE);
    }
    at = *next & ~3u;
  }
  return false;
}

Result<std::unique_ptr<Transport>> open_pci_transport(const std::string& bdf, std::shared_ptr<VfioContainer> container,
                                                      const PciOpenOptions& opts) {
  auto pci = pci_probe(bdf, opts.sysfs_root);
  if (!pci) return pci.error();
  if (!pci->is_virtio_net())
    return make_error(ENODEV, pci->bdf + " (" + std::to_string(pci->vendor_id) + ":" + std::to_string(pci->device_id) +
                                  ") is not a virtio-net device (vendor 0x1af4, device 0x1041 or 0x1000)");
  auto dev = VfioDevice::open(pci->bdf, std::move(container), opts.sysfs_root);
  if (!dev) return dev.error();
  if (!opts.force_legacy) {
    auto caps = find_virtio_caps(**dev);
    if (!caps) return caps.error();
    if (!caps->empty()) return make_modern_transport(std::move(*dev));
  }
  if (pci->virtio_net != VirtioNetKind::transitional)
    return make_error(ENODEV, pci->bdf + " is a modern-only device: it has no legacy interface");
  return make_legacy_transport(std::move(*dev));
}

}  // namespace vpmd::pmd
