#pragma once
// PCI probe from sysfs: what a user-space driver must know about a device
// before it takes it over through VFIO (identity, bound driver, IOMMU group,
// NUMA node, network interfaces the kernel still has on it).
//
// Everything is read below a sysfs root ("/sys" on a real machine) so tests
// can point it at a fake tree. Nothing here writes to sysfs; binding devices is
// the job of tools/vfio-bind.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <vpmd/mem/result.hpp>

namespace vpmd::pmd {

// virtio-v1.2 §4.1.2 PCI Device Discovery: every virtio PCI function carries
// vendor 0x1AF4. A modern-only device has device ID 0x1040 + virtio device ID
// (network = 1, §5.1); a transitional (or pre-1.0 legacy) device has an ID in
// 0x1000..0x103F and tells its type in the subsystem device ID.
inline constexpr std::uint16_t kVirtioPciVendor = 0x1af4;
inline constexpr std::uint16_t kVirtioDeviceIdNet = 1;                      // §5.1
inline constexpr std::uint16_t kVirtioPciModernBase = 0x1040;               // §4.1.2
inline constexpr std::uint16_t kVirtioPciModernNet = kVirtioPciModernBase + kVirtioDeviceIdNet;
inline constexpr std::uint16_t kVirtioPciTransitionalNet = 0x1000;          // §4.1.2.3
inline constexpr std::uint16_t kVirtioPciTransitionalFirst = 0x1000;
inline constexpr std::uint16_t kVirtioPciTransitionalLast = 0x103f;
static_assert(kVirtioPciModernNet == 0x1041, "virtio-v1.2 §4.1.2: network device is 0x1041");

// PCI class code (24 bits: base class, sub-class, prog-if). Base class 0x02 is
// "network controller" in the PCI Code and ID Assignment specification.
inline constexpr std::uint32_t kPciBaseClassNetwork = 0x02;
inline constexpr std::uint32_t kPciClassBridgePci = 0x0604;  // base 06 sub 04: PCI-to-PCI bridge

// How a virtio-net function presents itself (virtio-v1.2 §4.1.2).
enum class VirtioNetKind : std::uint8_t {
  none,          // not a virtio-net device
  modern,        // 0x1041: virtio 1.x interface only
  transitional,  // 0x1000 with subsystem device 1: legacy interface, plus the
                 // modern one when its vendor capabilities are present
};

const char* to_string(VirtioNetKind kind) noexcept;

// Normalised BDF, "DDDD:BB:DD.F" in lower-case hex.
struct PciAddress {
  std::uint32_t domain = 0;
  std::uint8_t bus = 0;
  std::uint8_t device = 0;    // 0..31
  std::uint8_t function = 0;  // 0..7

  std::string to_string() const;
  friend bool operator==(const PciAddress&, const PciAddress&) = default;
};

// Accepts "0000:00:03.0" and the short "00:03.0" (domain 0). Anything else is
// an EINVAL error whose message shows the expected form.
Result<PciAddress> parse_pci_address(std::string_view text);

// One network interface the kernel created on the device (under net/ or, for
// virtio, under virtioN/net/).
struct PciNetInterface {
  std::string name;
  std::string operstate;  // "up", "down", "unknown", ... as the kernel says
  bool up = false;        // administratively up (IFF_UP in flags) or operstate "up"
};

struct PciDevice {
  PciAddress address;
  std::string bdf;  // address.to_string()
  std::uint16_t vendor_id = 0;
  std::uint16_t device_id = 0;
  std::uint16_t subsystem_vendor_id = 0;
  std::uint16_t subsystem_device_id = 0;
  std::uint32_t class_code = 0;                 // 24-bit class code
  std::optional<std::string> driver;            // basename of the `driver` link
  std::optional<std::string> driver_override;   // none when "(null)" or absent
  std::optional<unsigned> iommu_group;          // number from the `iommu_group` link
  int numa_node = -1;                           // -1: no NUMA information
  VirtioNetKind virtio_net = VirtioNetKind::none;
  bool has_modern_caps = false;                 // virtio-v1.2 §4.1.4 capabilities seen in config space
  std::vector<PciNetInterface> interfaces;

  bool is_network_class() const noexcept { return (class_code >> 16) == kPciBaseClassNetwork; }
  bool is_bridge() const noexcept { return (class_code >> 8) == kPciClassBridgePci; }
  bool is_virtio_net() const noexcept { return virtio_net != VirtioNetKind::none; }
  bool any_interface_up() const noexcept;
};

// Every PCI device under <sysfs_root>/bus/pci/devices, sorted by BDF.
Result<std::vector<PciDevice>> pci_scan(const std::string& sysfs_root = "/sys");

// One device. ENOENT when it does not exist (the message lists those that do),
// EINVAL when the BDF is malformed.
Result<PciDevice> pci_probe(std::string_view bdf, const std::string& sysfs_root = "/sys");

// The BDFs in IOMMU group `group` (<sysfs_root>/kernel/iommu_groups/N/devices).
Result<std::vector<std::string>> iommu_group_devices(unsigned group, const std::string& sysfs_root = "/sys");

// The VFIO group node for IOMMU group `group`: /dev/vfio/N, or
// /dev/vfio/noiommu-N for a group vfio made in no-IOMMU mode.
std::string vfio_group_path(unsigned group, const std::string& sysfs_root = "/sys");

// What DMA isolation the kernel offers to VFIO.
enum class IommuMode : std::uint8_t {
  on,                 // a real (or virtual) IOMMU: groups exist that are not vfio-noiommu
  noiommu_enabled,    // vfio's enable_unsafe_noiommu_mode is Y
  noiommu_available,  // vfio has the parameter, but it is N
  off,                // neither: VFIO cannot take devices
};
const char* to_string(IommuMode mode) noexcept;

struct IommuState {
  IommuMode mode = IommuMode::off;
  unsigned groups = 0;           // IOMMU groups backed by a real IOMMU
  unsigned noiommu_groups = 0;   // groups vfio made for no-IOMMU devices
  bool vfio_loaded = false;      // <root>/module/vfio exists
};
IommuState iommu_state(const std::string& sysfs_root = "/sys");

}  // namespace vpmd::pmd
