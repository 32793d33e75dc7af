#pragma once
// The fake machine most CLI tests start from: two virtio-net NICs on
// virtio-pci (as a guest with virtio_pci loaded has), an ISA bridge that is not
// a network device, and hugepages.
#include <string>

#include "fake_sysfs.hpp"

namespace vpmd_test {

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline constexpr const char* kNic0 = "0000:00:02.0";
inline constexpr const char* kNic1 = "0000:00:03.0";

// iommu: each NIC in its own IOMMU group (1 and 2); otherwise no groups.
inline void two_nics(FakeSysfs& fs, bool iommu, bool vfio_pci_loaded = true) {
  FakeDevice nic;
  nic.driver = "virtio-pci";
  nic.config = virtio_config_space(true);
  nic.bdf = kNic0;
  if (iommu) nic.iommu_group = 1;
  fs.add_device(nic);
  fs.add_interface(kNic0, "eth0", false, "down");
  nic.bdf = kNic1;
  nic.numa_node = 0;
  if (iommu) nic.iommu_group = 2;
  fs.add_device(nic);
  fs.add_interface(kNic1, "eth1", false, "down");

  FakeDevice isa;
  isa.bdf = "0000:00:1f.0";
  isa.vendor = 0x8086;
  isa.device = 0x2918;
  isa.class_code = 0x060100;
  isa.driver = "lpc_ich";
  if (iommu) isa.iommu_group = 3;
  fs.add_device(isa);

  if (vfio_pci_loaded) fs.add_driver("vfio-pci");
  fs.add_hugepages(2048, 64, 60);
  fs.add_hugepages(1048576, 0, 0);
}

}  // namespace vpmd_test
