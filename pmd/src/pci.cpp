// PCI probe from sysfs (see vpmd/pmd/pci.hpp).
#include <vpmd/pmd/pci.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>

#include "pci_sysfs.hpp"

namespace vpmd::pmd {

namespace {

// Offsets in the PCI configuration header (PCI Local Bus spec, type 0 header).
constexpr std::size_t kPciStatus = 0x06;
constexpr std::uint16_t kPciStatusCapList = 1u << 4;
constexpr std::size_t kPciCapabilityPointer = 0x34;
constexpr std::uint8_t kPciCapIdVendor = 0x09;

// virtio-v1.2 §4.1.4 struct virtio_pci_cap: cap_vndr, cap_next, cap_len,
// cfg_type, ... Only cfg_type matters here: VIRTIO_PCI_CAP_COMMON_CFG = 1 is
// what makes a transitional device drivable through the modern interface.
constexpr std::size_t kVirtioPciCapCfgType = 3;
constexpr std::uint8_t kVirtioPciCapCommonCfg = 1;

// IFF_UP in <linux/if.h>: administratively up.
constexpr std::int64_t kIffUp = 0x1;

bool parse_hex(std::string_view s, std::uint32_t max, std::uint32_t& out) {
  if (s.empty()) return false;
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc{} || end != s.data() + s.size() || v > max) return false;
  out = v;
  return true;
}

// Walks the capability list of the config space the kernel lets us read
// (64 bytes for an unprivileged reader, 256 or 4096 for root).
bool has_virtio_common_cfg(const std::string& config) {
  if (config.size() < 0x40) return false;
  auto byte = [&](std::size_t off) { return static_cast<std::uint8_t>(config[off]); };
  const auto status = static_cast<std::uint16_t>(byte(kPciStatus) | (byte(kPciStatus + 1) << 8));
  if ((status & kPciStatusCapList) == 0) return false;
  std::size_t pos = byte(kPciCapabilityPointer) & ~0x3u;
  // A malformed list could loop; 48 hops cover every capability 256 bytes can hold.
  for (int hops = 0; hops < 48 && pos >= 0x40 && pos + kVirtioPciCapCfgType < config.size(); ++hops) {
    if (byte(pos) == kPciCapIdVendor && byte(pos + kVirtioPciCapCfgType) == kVirtioPciCapCommonCfg) return true;
    pos = byte(pos + 1) & ~0x3u;
  }
  return false;
}

VirtioNetKind classify_virtio(const PciDevice& d) {
  if (d.vendor_id != kVirtioPciVendor) return VirtioNetKind::none;
  if (d.device_id == kVirtioPciModernNet) return VirtioNetKind::modern;
  // virtio-v1.2 §4.1.2.3: transitional devices carry the virtio device ID in
  // the PCI Subsystem Device ID.
  if (d.device_id >= kVirtioPciTransitionalFirst && d.device_id <= kVirtioPciTransitionalLast &&
      d.subsystem_device_id == kVirtioDeviceIdNet)
    return VirtioNetKind::transitional;
  return VirtioNetKind::none;
}

void read_interfaces(const std::string& net_dir, std::vector<PciNetInterface>& out) {
  for (const auto& name : sysfs::list_dir(net_dir)) {
    PciNetInterface nic;
    nic.name = name;
    nic.operstate = sysfs::read_line(net_dir + "/" + name + "/operstate").value_or("unknown");
    auto flags = sysfs::read_number(net_dir + "/" + name + "/flags");
    nic.up = (flags && (*flags & kIffUp) != 0) || nic.operstate == "up";
    out.push_back(std::move(nic));
  }
}

std::string devices_dir(const std::string& root) { return root + "/bus/pci/devices"; }

std::string list_for_message(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

Result<PciDevice> read_device(const PciAddress& addr, const std::string& root) {
  PciDevice d;
  d.address = addr;
  d.bdf = addr.to_string();
  const std::string dir = devices_dir(root) + "/" + d.bdf;

  auto id = [&](const char* attr, std::uint16_t& out) -> bool {
    auto v = sysfs::read_number(dir + "/" + attr);
    if (!v || *v < 0 || *v > 0xffff) return false;
    out = static_cast<std::uint16_t>(*v);
    return true;
  };
  if (!id("vendor", d.vendor_id) || !id("device", d.device_id))
    return make_error(EIO, "PCI device " + d.bdf + ": cannot read " + dir +
                               "/vendor or /device; is " + root + " a mounted sysfs?");
  // Subsystem IDs are absent on some bridges: leave them 0.
  (void)id("subsystem_vendor", d.subsystem_vendor_id);
  (void)id("subsystem_device", d.subsystem_device_id);
  if (auto cls = sysfs::read_number(dir + "/class"); cls && *cls >= 0)
    d.class_code = static_cast<std::uint32_t>(*cls) & 0xffffffu;

  d.driver = sysfs::link_basename(dir + "/driver");
  if (auto ov = sysfs::read_line(dir + "/driver_override"); ov && !ov->empty() && *ov != "(null)")
    d.driver_override = *ov;
  if (auto group = sysfs::link_basename(dir + "/iommu_group")) {
    std::uint32_t n = 0;
    auto [end, ec] = std::from_chars(group->data(), group->data() + group->size(), n, 10);
    if (ec == std::errc{} && end == group->data() + group->size()) d.iommu_group = n;
  }
  if (auto node = sysfs::read_number(dir + "/numa_node"); node && *node >= 0 && *node < 1 << 16)
    d.numa_node = static_cast<int>(*node);

  d.virtio_net = classify_virtio(d);
  if (d.vendor_id == kVirtioPciVendor) {
    if (auto config = sysfs::read_text(dir + "/config")) d.has_modern_caps = has_virtio_common_cfg(*config);
  }

  // Most drivers put interfaces under net/; virtio-net puts them on the virtio
  // bus device the transport creates, <bdf>/virtioN/net/.
  read_interfaces(dir + "/net", d.interfaces);
  for (const auto& sub : sysfs::list_dir(dir))
    if (sub.rfind("virtio", 0) == 0 && sub.size() > 6 && sub.find_first_not_of("0123456789", 6) == std::string::npos)
      read_interfaces(dir + "/" + sub + "/net", d.interfaces);
  return d;
}

}  // namespace

const char* to_string(VirtioNetKind kind) noexcept {
  switch (kind) {
    case VirtioNetKind::modern: return "modern";
    case VirtioNetKind::transitional: return "transitional";
    case VirtioNetKind::none: break;
  }
  return "none";
}

std::string PciAddress::to_string() const {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%04x:%02x:%02x.%x", domain, bus, device, function);
  return buf.data();
}

Result<PciAddress> parse_pci_address(std::string_view text) {
  auto bad = [&](const char* why) {
    return make_error(EINVAL, "malformed PCI address '" + std::string(text) + "' (" + why +
                                  "): write it as DDDD:BB:DD.F or BB:DD.F in hex, e.g. 0000:00:03.0");
  };
  // Split "[domain:]bus:device.function".
  const auto dot = text.rfind('.');
  if (dot == std::string_view::npos) return bad("no '.' before the function");
  const auto fn_text = text.substr(dot + 1);
  const auto head = text.substr(0, dot);
  const auto last_colon = head.rfind(':');
  if (last_colon == std::string_view::npos) return bad("no ':' between bus and device");
  const auto dev_text = head.substr(last_colon + 1);
  const auto front = head.substr(0, last_colon);
  std::string_view dom_text = "0";
  std::string_view bus_text = front;
  if (const auto c = front.find(':'); c != std::string_view::npos) {
    dom_text = front.substr(0, c);
    bus_text = front.substr(c + 1);
  }
  if (dom_text.size() > 8 || bus_text.size() > 2 || dev_text.size() > 2 || fn_text.size() != 1)
    return bad("a field is too long");
  PciAddress a;
  std::uint32_t v = 0;
  if (!parse_hex(dom_text, 0xffffffffu, v)) return bad("domain is not hex");
  a.domain = v;
  if (!parse_hex(bus_text, 0xff, v)) return bad("bus is not hex 00..ff");
  a.bus = static_cast<std::uint8_t>(v);
  if (!parse_hex(dev_text, 0x1f, v)) return bad("device is not hex 00..1f");
  a.device = static_cast<std::uint8_t>(v);
  if (!parse_hex(fn_text, 7, v)) return bad("function is not 0..7");
  a.function = static_cast<std::uint8_t>(v);
  return a;
}

bool PciDevice::any_interface_up() const noexcept {
  return std::any_of(interfaces.begin(), interfaces.end(), [](const PciNetInterface& i) { return i.up; });
}

Result<std::vector<PciDevice>> pci_scan(const std::string& sysfs_root) {
  const std::string dir = devices_dir(sysfs_root);
  if (!sysfs::exists(dir))
    return make_error(ENOENT, "no " + dir + ": sysfs is not mounted there (mount -t sysfs sysfs /sys) "
                                  "or --sysfs-root points at the wrong directory");
  std::vector<PciDevice> out;
  for (const auto& name : sysfs::list_dir(dir)) {
    auto addr = parse_pci_address(name);
    if (!addr) continue;  // not a device entry
    auto dev = read_device(*addr, sysfs_root);
    if (!dev) return dev.error();
    out.push_back(std::move(dev.value()));
  }
  return out;
}

Result<PciDevice> pci_probe(std::string_view bdf, const std::string& sysfs_root) {
  auto addr = parse_pci_address(bdf);
  if (!addr) return addr.error();
  const std::string dir = devices_dir(sysfs_root);
  if (!sysfs::exists(dir + "/" + addr->to_string())) {
    if (!sysfs::exists(dir))
      return make_error(ENOENT, "no " + dir + ": sysfs is not mounted there or --sysfs-root is wrong");
    return make_error(ENOENT, "no PCI device " + addr->to_string() + " in " + dir +
                                  "; devices present: " + list_for_message(sysfs::list_dir(dir)));
  }
  return read_device(*addr, sysfs_root);
}

}  // namespace vpmd::pmd
