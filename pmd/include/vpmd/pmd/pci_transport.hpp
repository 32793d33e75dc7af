#pragma once
// virtio over PCI through VFIO (virtio-v1.2 §4.1): the modern interface
// (vendor capabilities pointing into BARs, §4.1.4) and, in its own file, the
// legacy interface (BAR0 I/O registers, §4.1.4.8).
#include <memory>
#include <string>

#include "vpmd/pmd/transport.hpp"
#include "vpmd/pmd/vfio.hpp"

namespace vpmd::pmd {

// A window of registers in a BAR: an MMIO mapping when VFIO allows one,
// otherwise pread/pwrite on the device fd at the region's offset.
class RegisterWindow {
 public:
  RegisterWindow() = default;
  RegisterWindow(VfioDevice* dev, uint32_t bar, uint64_t base, uint64_t len, std::byte* map)
      : dev_(dev), bar_(bar), base_(base), len_(len), map_(map) {}
  bool valid() const { return dev_ != nullptr; }
  uint64_t length() const { return len_; }
  std::byte* mapped() const { return map_ ? map_ + base_ : nullptr; }

  template <class T>
  T read(uint64_t off) const {
    if (map_) return *reinterpret_cast<volatile const T*>(map_ + base_ + off);
    auto v = dev_->read_as<T>(bar_, base_ + off);
    return v ? *v : T(~T{});
  }
  template <class T>
  void write(uint64_t off, T v) const {
    if (map_) *reinterpret_cast<volatile T*>(map_ + base_ + off) = v;
    else (void)dev_->write_as<T>(bar_, base_ + off, v);
  }

 private:
  VfioDevice* dev_ = nullptr;
  uint32_t bar_ = 0;
  uint64_t base_ = 0, len_ = 0;
  std::byte* map_ = nullptr;
};

// Opens `bdf` through VFIO and picks the interface: modern when the device
// has virtio capabilities (0x1041, or a transitional 0x1000 with them, unless
// force_legacy), legacy otherwise.
struct PciOpenOptions {
  bool force_legacy = false;
  std::string sysfs_root = "/sys";
};
Result<std::unique_ptr<Transport>> open_pci_transport(const std::string& bdf, std::shared_ptr<VfioContainer> container,
                                                      const PciOpenOptions& opts = {});

// The two interfaces, for open_pci_transport and the tests.
Result<std::unique_ptr<Transport>> make_modern_transport(std::unique_ptr<VfioDevice> dev);
Result<std::unique_ptr<Transport>> make_legacy_transport(std::unique_ptr<VfioDevice> dev);

// Walks the PCI capability list in config space (PCI 3.0 §6.7) for virtio
// vendor capabilities (cfg_type, bar, offset, length; notify multiplier).
struct VirtioPciCap {
  uint8_t cfg_type = 0, bar = 0;
  uint32_t offset = 0, length = 0;
  uint32_t notify_off_multiplier = 0;
};
Result<std::vector<VirtioPciCap>> find_virtio_caps(VfioDevice& dev);
bool has_msix_enabled(VfioDevice& dev);

}  // namespace vpmd::pmd
