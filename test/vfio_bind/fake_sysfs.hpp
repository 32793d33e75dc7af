#pragma once
// A fake sysfs tree in a temporary directory, laid out like the kernel's:
//   <tmp>/sys/bus/pci/devices/<bdf>/{vendor,device,...,driver -> drivers/<name>, iommu_group -> ...}
//   <tmp>/sys/bus/pci/drivers/<name>/{bind,unbind}, <tmp>/sys/bus/pci/drivers_probe
//   <tmp>/sys/kernel/iommu_groups/<n>/devices/<bdf> -> device, <n>/name
//   <tmp>/sys/module/vfio/parameters/enable_unsafe_noiommu_mode
//   <tmp>/sys/kernel/mm/hugepages/hugepages-<size>kB/{nr_hugepages,free_hugepages}
// Writing a control file only changes the file; FakeKernel (fake_kernel.hpp)
// plays the kernel's reaction.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vpmd_test {

struct FakeDevice {
  std::string bdf;
  std::uint16_t vendor = 0x1af4;
  std::uint16_t device = 0x1041;
  std::uint16_t subsystem_vendor = 0x1af4;
  std::uint16_t subsystem_device = 0x1100;
  std::uint32_t class_code = 0x020000;
  int numa_node = -1;
  std::optional<std::string> driver;
  std::optional<unsigned> iommu_group;
  std::string config;  // raw config space bytes; empty: no config file
};

class FakeSysfs {
 public:
  FakeSysfs();   // creates the temporary tree
  ~FakeSysfs();  // removes it
  FakeSysfs(const FakeSysfs&) = delete;
  FakeSysfs& operator=(const FakeSysfs&) = delete;

  const std::string& base() const { return base_; }  // <tmp>
  std::string root() const { return base_ + "/sys"; }  // what --sysfs-root gets
  std::string state_dir() const { return base_ + "/run/vpmd"; }
  std::string device_dir(const std::string& bdf) const { return root() + "/bus/pci/devices/" + bdf; }

  void add_driver(const std::string& name);
  void add_device(const FakeDevice& d);
  // Interface under net/ (under_virtio=false) or virtio0/net/ (as virtio-net does).
  void add_interface(const std::string& bdf, const std::string& name, bool admin_up, const std::string& operstate,
                     bool under_virtio = true);
  void add_group(unsigned group, const std::string& name = "");
  void link_group(const std::string& bdf, unsigned group);
  void set_noiommu_param(const std::string& value);  // creates module/vfio/parameters
  void add_hugepages(unsigned size_kb, long reserved, long free_pages);

  // Kernel-side helpers for FakeKernel and assertions.
  void link_driver(const std::string& bdf, const std::string& driver);
  void unlink_driver(const std::string& bdf);
  std::optional<std::string> driver_of(const std::string& bdf) const;
  std::optional<unsigned> group_of(const std::string& bdf) const;

  std::string read(const std::string& relative_to_root) const;  // "" when absent
  void write(const std::string& relative_to_root, const std::string& content) const;
  bool exists(const std::string& relative_to_root) const;

 private:
  std::string base_;
};

// Config space of a virtio PCI function with a capability list; with
// `common_cfg`, one vendor capability of cfg_type 1 (virtio-v1.2 §4.1.4.3).
std::string virtio_config_space(bool common_cfg);

}  // namespace vpmd_test
