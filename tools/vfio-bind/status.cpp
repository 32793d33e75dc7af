// vfio-bind status (see status.hpp). Text for people, --json for scripts and
// the QEMU guest tests; both come from the same collected Report.
#include "status.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

#include <vpmd/pmd/pci.hpp>

#include "group.hpp"
#include "json_writer.hpp"
#include "state.hpp"

namespace vfio_bind {

namespace {

namespace fs = std::filesystem;
using vpmd::pmd::PciDevice;

struct HugepagePool {
  std::int64_t size_kb = 0;
  std::int64_t reserved = 0;  // nr_hugepages
  std::int64_t free = 0;      // free_hugepages
};

struct DeviceReport {
  PciDevice dev;
  GroupCheck group;
  std::optional<std::string> remembered;
};

struct Report {
  vpmd::pmd::IommuState iommu;
  std::optional<std::string> noiommu_param;
  bool vfio_pci_loaded = false;
  std::vector<HugepagePool> hugepages;
  std::vector<DeviceReport> devices;
};

std::optional<std::string> first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

std::optional<std::int64_t> number(const std::string& path) {
  auto l = first_line(path);
  if (!l) return std::nullopt;
  try {
    return std::stoll(*l);
  } catch (...) {
    return std::nullopt;
  }
}

std::vector<HugepagePool> hugepages(const std::string& root) {
  std::vector<HugepagePool> pools;
  std::error_code ec;
  const std::string dir = root + "/kernel/mm/hugepages";
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();  // hugepages-2048kB
    HugepagePool p;
    if (std::sscanf(name.c_str(), "hugepages-%ldkB", &p.size_kb) != 1) continue;
    p.reserved = number(it->path().string() + "/nr_hugepages").value_or(0);
    p.free = number(it->path().string() + "/free_hugepages").value_or(0);
    pools.push_back(p);
  }
  std::sort(pools.begin(), pools.end(), [](const auto& a, const auto& b) { return a.size_kb < b.size_kb; });
  return pools;
}

std::string hex4(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04x", v & 0xffffu);
  return buf;
}

std::string hex6(unsigned v) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "0x%06x", v & 0xffffffu);
  return buf;
}

vpmd::Result<Report> collect(const Options& opt) {
  Report r;
  r.iommu = vpmd::pmd::iommu_state(opt.sysfs_root);
  r.noiommu_param = first_line(opt.sysfs_root + "/module/vfio/parameters/enable_unsafe_noiommu_mode");
  r.vfio_pci_loaded = ::access((opt.sysfs_root + "/bus/pci/drivers/vfio-pci").c_str(), F_OK) == 0;
  r.hugepages = hugepages(opt.sysfs_root);
  auto devs = vpmd::pmd::pci_scan(opt.sysfs_root);
  if (!devs) return devs.error();
  DriverMemory memory(opt.state_dir.empty() ? default_state_dir(opt.sysfs_root) : opt.state_dir);
  for (auto& d : *devs) {
    if (!d.is_network_class()) continue;
    DeviceReport dr;
    dr.group = check_group(d, opt.sysfs_root);
    dr.remembered = memory.recall(d.bdf);
    dr.dev = std::move(d);
    r.devices.push_back(std::move(dr));
  }
  return r;
}

void print_json(const Report& r, std::ostream& out) {
  JsonWriter j(out);
  j.begin_object();
  j.key("iommu").begin_object();
  j.key("mode").value(vpmd::pmd::to_string(r.iommu.mode));
  j.key("groups").value(r.iommu.groups);
  j.key("noiommu_groups").value(r.iommu.noiommu_groups);
  j.key("vfio_loaded").value(r.iommu.vfio_loaded);
  j.key("noiommu_param").value(r.noiommu_param);
  j.key("vfio_pci_loaded").value(r.vfio_pci_loaded);
  j.end_object();
  j.key("hugepages").begin_array();
  for (const auto& p : r.hugepages) {
    j.begin_object();
    j.key("size_kb").value(p.size_kb).key("reserved").value(p.reserved).key("free").value(p.free);
    j.end_object();
  }
  j.end_array();
  j.key("devices").begin_array();
  for (const auto& dr : r.devices) {
    const auto& d = dr.dev;
    j.begin_object();
    j.key("bdf").value(d.bdf);
    j.key("vendor").value("0x" + hex4(d.vendor_id));
    j.key("device").value("0x" + hex4(d.device_id));
    j.key("subsystem_vendor").value("0x" + hex4(d.subsystem_vendor_id));
    j.key("subsystem_device").value("0x" + hex4(d.subsystem_device_id));
    j.key("class").value(hex6(d.class_code));
    j.key("virtio_net").value(vpmd::pmd::to_string(d.virtio_net));
    j.key("modern_caps").value(d.has_modern_caps);
    j.key("driver").value(d.driver);
    j.key("driver_override").value(d.driver_override);
    j.key("iommu_group");
    if (d.iommu_group) j.value(*d.iommu_group); else j.null();
    j.key("vfio_group_path");
    if (dr.group.group) j.value(dr.group.vfio_path); else j.null();
    j.key("group_viable");
    if (dr.group.group) j.value(dr.group.viable()); else j.null();
    j.key("group_offenders").begin_array();
    for (const auto& o : dr.group.offenders) j.begin_object().key("bdf").value(o.bdf).key("driver").value(o.driver).end_object();
    j.end_array();
    j.key("numa_node").value(d.numa_node);
    j.key("interfaces").begin_array();
    for (const auto& i : d.interfaces)
      j.begin_object().key("name").value(i.name).key("up").value(i.up).key("operstate").value(i.operstate).end_object();
    j.end_array();
    j.key("remembered_driver").value(dr.remembered);
    j.end_object();
  }
  j.end_array();
  j.end_object();
  out << "\n";
}

void print_text(const Report& r, std::ostream& out) {
  out << "IOMMU: ";
  switch (r.iommu.mode) {
    case vpmd::pmd::IommuMode::on:
      out << "on (" << r.iommu.groups << " groups)\n";
      break;
    case vpmd::pmd::IommuMode::noiommu_enabled:
      out << "off; vfio no-IOMMU mode ENABLED (unsafe: a bound device can DMA anywhere in memory)\n";
      break;
    case vpmd::pmd::IommuMode::noiommu_available:
      out << "off; vfio no-IOMMU mode available but off (vfio-bind bind --noiommu enables it)\n";
      break;
    case vpmd::pmd::IommuMode::off:
      out << "off; no no-IOMMU mode (" << (r.iommu.vfio_loaded ? "vfio built without CONFIG_VFIO_NOIOMMU"
                                                                : "vfio not loaded")
          << "): boot with intel_iommu=on / amd_iommu=on\n";
      break;
  }
  out << "vfio-pci driver: " << (r.vfio_pci_loaded ? "loaded" : "not loaded (bind loads it)") << "\n";
  out << "hugepages:";
  if (r.hugepages.empty()) out << " none";
  for (const auto& p : r.hugepages)
    out << " " << p.size_kb << "kB " << p.reserved << " reserved " << p.free << " free;";
  out << "\n\nnetwork devices:\n";
  if (r.devices.empty()) out << "  none\n";
  for (const auto& dr : r.devices) {
    const auto& d = dr.dev;
    out << "  " << d.bdf << " " << hex4(d.vendor_id) << ":" << hex4(d.device_id);
    if (d.is_virtio_net()) out << " virtio-net " << vpmd::pmd::to_string(d.virtio_net);
    out << "  driver=" << d.driver.value_or("none");
    if (d.driver_override) out << " override=" << *d.driver_override;
    if (dr.group.group) {
      out << "  group=" << *dr.group.group << " (" << dr.group.vfio_path << ", ";
      if (dr.group.viable()) {
        out << "viable)";
      } else {
        out << "not viable:";
        for (const auto& o : dr.group.offenders) out << " " << o.bdf << " on " << o.driver;
        out << ")";
      }
    } else {
      out << "  group=none";
    }
    out << "  numa=" << d.numa_node << "  if=";
    if (d.interfaces.empty()) out << "none";
    for (std::size_t i = 0; i < d.interfaces.size(); ++i)
      out << (i ? "," : "") << d.interfaces[i].name << (d.interfaces[i].up ? "(up)" : "(down)");
    if (dr.remembered) out << "  remembered=" << (dr.remembered->empty() ? "none" : *dr.remembered);
    out << "\n";
  }
}

}  // namespace

Status run_status(const Options& opt, std::ostream& out) {
  auto report = collect(opt);
  if (!report) return Status::fail(ExitCode::no_device, report.error().message);
  if (opt.json)
    print_json(*report, out);
  else
    print_text(*report, out);
  return {};
}

}  // namespace vfio_bind
