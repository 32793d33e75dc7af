// Fake sysfs tree builder (see fake_sysfs.hpp).
#include "fake_sysfs.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace vpmd_test {

namespace fs = std::filesystem;

namespace {

std::string hex(unsigned v, int width) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", width, v);
  return buf;
}

void put(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("fake sysfs: cannot write " + p.string());
}

}  // namespace

FakeSysfs::FakeSysfs() {
  std::string tmpl = (fs::temp_directory_path() / "vpmd-fake-sysfs-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
  base_ = tmpl;
  fs::create_directories(root() + "/bus/pci/devices");
  fs::create_directories(root() + "/bus/pci/drivers");
  fs::create_directories(root() + "/kernel/iommu_groups");
  put(root() + "/bus/pci/drivers_probe", "");
}

FakeSysfs::~FakeSysfs() {
  std::error_code ec;
  fs::remove_all(base_, ec);
}

void FakeSysfs::add_driver(const std::string& name) {
  put(root() + "/bus/pci/drivers/" + name + "/bind", "");
  put(root() + "/bus/pci/drivers/" + name + "/unbind", "");
}

void FakeSysfs::add_device(const FakeDevice& d) {
  const fs::path dir = device_dir(d.bdf);
  fs::create_directories(dir);
  put(dir / "vendor", hex(d.vendor, 4) + "\n");
  put(dir / "device", hex(d.device, 4) + "\n");
  put(dir / "subsystem_vendor", hex(d.subsystem_vendor, 4) + "\n");
  put(dir / "subsystem_device", hex(d.subsystem_device, 4) + "\n");
  put(dir / "class", hex(d.class_code, 6) + "\n");
  put(dir / "numa_node", std::to_string(d.numa_node) + "\n");
  put(dir / "driver_override", "(null)\n");
  if (!d.config.empty()) put(dir / "config", d.config);
  if (d.driver) {
    if (!exists("bus/pci/drivers/" + *d.driver)) add_driver(*d.driver);
    link_driver(d.bdf, *d.driver);
  }
  if (d.iommu_group) link_group(d.bdf, *d.iommu_group);
}

void FakeSysfs::add_interface(const std::string& bdf, const std::string& name, bool admin_up,
                              const std::string& operstate, bool under_virtio) {
  const fs::path dir = fs::path(device_dir(bdf)) / (under_virtio ? "virtio0/net" : "net") / name;
  put(dir / "operstate", operstate + "\n");
  put(dir / "flags", admin_up ? "0x1003\n" : "0x1002\n");
}

void FakeSysfs::add_group(unsigned group, const std::string& name) {
  const fs::path dir = root() + "/kernel/iommu_groups/" + std::to_string(group);
  fs::create_directories(dir / "devices");
  if (!name.empty()) put(dir / "name", name + "\n");
}

void FakeSysfs::link_group(const std::string& bdf, unsigned group) {
  const std::string g = root() + "/kernel/iommu_groups/" + std::to_string(group);
  if (!fs::exists(g)) add_group(group);
  fs::create_directory_symlink(device_dir(bdf), g + "/devices/" + bdf);
  fs::create_directory_symlink(g, device_dir(bdf) + "/iommu_group");
}

void FakeSysfs::set_noiommu_param(const std::string& value) {
  put(root() + "/module/vfio/parameters/enable_unsafe_noiommu_mode", value + "\n");
}

void FakeSysfs::add_hugepages(unsigned size_kb, long reserved, long free_pages) {
  const fs::path dir = root() + "/kernel/mm/hugepages/hugepages-" + std::to_string(size_kb) + "kB";
  put(dir / "nr_hugepages", std::to_string(reserved) + "\n");
  put(dir / "free_hugepages", std::to_string(free_pages) + "\n");
}

void FakeSysfs::link_driver(const std::string& bdf, const std::string& driver) {
  // Linking into a temporary name and renaming keeps the switch atomic for a
  // concurrent reader (the CLI polling the link).
  const fs::path link = device_dir(bdf) + "/driver";
  const fs::path tmp = device_dir(bdf) + "/.driver.tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_directory_symlink(root() + "/bus/pci/drivers/" + driver, tmp);
  fs::rename(tmp, link);
}

void FakeSysfs::unlink_driver(const std::string& bdf) {
  std::error_code ec;
  fs::remove(device_dir(bdf) + "/driver", ec);
}

std::optional<std::string> FakeSysfs::driver_of(const std::string& bdf) const {
  std::error_code ec;
  const fs::path link = device_dir(bdf) + "/driver";
  if (!fs::is_symlink(fs::symlink_status(link, ec))) return std::nullopt;
  return fs::read_symlink(link, ec).filename().string();
}

std::optional<unsigned> FakeSysfs::group_of(const std::string& bdf) const {
  std::error_code ec;
  const fs::path link = device_dir(bdf) + "/iommu_group";
  if (!fs::is_symlink(fs::symlink_status(link, ec))) return std::nullopt;
  return static_cast<unsigned>(std::stoul(fs::read_symlink(link, ec).filename().string()));
}

std::string FakeSysfs::read(const std::string& rel) const {
  std::ifstream in(root() + "/" + rel, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void FakeSysfs::write(const std::string& rel, const std::string& content) const { put(root() + "/" + rel, content); }

bool FakeSysfs::exists(const std::string& rel) const {
  std::error_code ec;
  return fs::exists(fs::symlink_status(root() + "/" + rel, ec));
}

std::string virtio_config_space(bool common_cfg) {
  std::string c(256, '\0');
  auto set8 = [&](std::size_t off, unsigned v) { c[off] = static_cast<char>(v & 0xff); };
  set8(0x00, 0xf4); set8(0x01, 0x1a);  // vendor
  set8(0x06, 0x10);                    // status: capability list present
  set8(0x34, 0x40);                    // first capability
  // 0x40: MSI-X (id 0x11) -> 0x50
  set8(0x40, 0x11); set8(0x41, 0x50);
  // 0x50: vendor-specific (0x09), cfg_type 3 (ISR) -> 0x60 or end
  set8(0x50, 0x09); set8(0x51, common_cfg ? 0x60 : 0x00); set8(0x52, 16); set8(0x53, 3);
  if (common_cfg) {
    // 0x60: vendor-specific, cfg_type 1 = VIRTIO_PCI_CAP_COMMON_CFG, end of list
    set8(0x60, 0x09); set8(0x61, 0x00); set8(0x62, 16); set8(0x63, 1);
  }
  return c;
}

}  // namespace vpmd_test
