// pci_probe / pci_scan / iommu_state against fake sysfs trees.
#include <catch2/catch.hpp>

#include <vpmd/pmd/pci.hpp>

#include "fake_sysfs.hpp"

using namespace vpmd::pmd;
using vpmd_test::FakeDevice;
using vpmd_test::FakeSysfs;

TEST_CASE("parse_pci_address accepts long and short forms", "[pci]") {
  auto a = parse_pci_address("0000:00:03.0");
  REQUIRE(a.ok());
  CHECK(a->to_string() == "0000:00:03.0");
  auto b = parse_pci_address("1f:1d.7");
  REQUIRE(b.ok());
  CHECK(b->bus == 0x1f);
  CHECK(b->device == 0x1d);
  CHECK(b->function == 7);
  CHECK(b->to_string() == "0000:1f:1d.7");
  auto c = parse_pci_address("10000:AB:0C.1");
  REQUIRE(c.ok());
  CHECK(c->to_string() == "10000:ab:0c.1");
}

TEST_CASE("parse_pci_address rejects malformed addresses with EINVAL", "[pci]") {
  for (const char* bad : {"", "00:03", "0000:00:03", "00.03.0", "0000:00:20.0", "0000:00:03.8", "0000:100:03.0",
                          "zz:03.0", "0000:00:03.0x", ":00:03.0", "0000:00:03.", "0000:00:3.0.1"}) {
    INFO(bad);
    auto r = parse_pci_address(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == EINVAL);
    CHECK(r.error().message.find("DDDD:BB:DD.F") != std::string::npos);
  }
}

TEST_CASE("pci_probe reads ids, driver, group, NUMA node and interfaces", "[pci]") {
  FakeSysfs fs;
  FakeDevice d;
  d.bdf = "0000:00:03.0";
  d.device = 0x1041;
  d.driver = "virtio-pci";
  d.iommu_group = 7;
  d.numa_node = 1;
  d.config = vpmd_test::virtio_config_space(true);
  fs.add_device(d);
  fs.add_interface(d.bdf, "eth0", false, "down");
  fs.add_interface(d.bdf, "eth9", true, "unknown", false);

  auto r = pci_probe("00:03.0", fs.root());
  REQUIRE(r.ok());
  CHECK(r->bdf == "0000:00:03.0");
  CHECK(r->vendor_id == 0x1af4);
  CHECK(r->device_id == 0x1041);
  CHECK(r->subsystem_device_id == 0x1100);
  CHECK(r->class_code == 0x020000);
  CHECK(r->is_network_class());
  CHECK(r->driver == std::optional<std::string>("virtio-pci"));
  CHECK_FALSE(r->driver_override.has_value());
  CHECK(r->iommu_group == std::optional<unsigned>(7));
  CHECK(r->numa_node == 1);
  CHECK(r->virtio_net == VirtioNetKind::modern);
  CHECK(r->has_modern_caps);
  REQUIRE(r->interfaces.size() == 2);
  // net/ first, then virtio0/net/.
  CHECK(r->interfaces[0].name == "eth9");
  CHECK(r->interfaces[0].up);  // IFF_UP in flags even though operstate is "unknown"
  CHECK(r->interfaces[1].name == "eth0");
  CHECK_FALSE(r->interfaces[1].up);
  CHECK(r->any_interface_up());
}

TEST_CASE("pci_probe classifies virtio-net devices per virtio-v1.2 §4.1.2", "[pci]") {
  FakeSysfs fs;
  auto add = [&](const char* bdf, std::uint16_t vendor, std::uint16_t device, std::uint16_t subsys, bool caps) {
    FakeDevice d;
    d.bdf = bdf;
    d.vendor = vendor;
    d.device = device;
    d.subsystem_device = subsys;
    d.config = vpmd_test::virtio_config_space(caps);
    fs.add_device(d);
  };
  add("0000:00:02.0", 0x1af4, 0x1000, 1, true);    // transitional net, modern caps
  add("0000:00:03.0", 0x1af4, 0x1000, 1, false);   // legacy-only net (disable-modern=on)
  add("0000:00:04.0", 0x1af4, 0x1001, 2, true);    // transitional block: not net
  add("0000:00:05.0", 0x1af4, 0x1042, 0x1100, true);  // modern block
  add("0000:00:06.0", 0x8086, 0x1041, 1, false);   // right device id, wrong vendor

  auto kind = [&](const char* bdf) { return pci_probe(bdf, fs.root())->virtio_net; };
  CHECK(kind("0000:00:02.0") == VirtioNetKind::transitional);
  CHECK(pci_probe("0000:00:02.0", fs.root())->has_modern_caps);
  CHECK(kind("0000:00:03.0") == VirtioNetKind::transitional);
  CHECK_FALSE(pci_probe("0000:00:03.0", fs.root())->has_modern_caps);
  CHECK(kind("0000:00:04.0") == VirtioNetKind::none);
  CHECK(kind("0000:00:05.0") == VirtioNetKind::none);
  CHECK(kind("0000:00:06.0") == VirtioNetKind::none);
}

TEST_CASE("pci_probe survives a looping capability list", "[pci]") {
  FakeSysfs fs;
  FakeDevice d;
  d.bdf = "0000:00:03.0";
  d.config = std::string(256, '\0');
  d.config[0x06] = 0x10;
  d.config[0x34] = 0x40;
  d.config[0x40] = 0x05;  // MSI pointing at itself
  d.config[0x41] = 0x40;
  fs.add_device(d);
  auto r = pci_probe(d.bdf, fs.root());
  REQUIRE(r.ok());
  CHECK_FALSE(r->has_modern_caps);
}

TEST_CASE("pci_probe errors name what exists and what to write", "[pci]") {
  FakeSysfs fs;
  FakeDevice d;
  d.bdf = "0000:00:03.0";
  fs.add_device(d);
  d.bdf = "0000:00:04.0";
  fs.add_device(d);

  auto missing = pci_probe("0000:00:09.0", fs.root());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ENOENT);
  CHECK(missing.error().message.find("0000:00:03.0, 0000:00:04.0") != std::string::npos);

  auto malformed = pci_probe("00:3", fs.root());
  REQUIRE_FALSE(malformed.ok());
  CHECK(malformed.error().code == EINVAL);

  auto no_sysfs = pci_scan(fs.base() + "/nowhere");
  REQUIRE_FALSE(no_sysfs.ok());
  CHECK(no_sysfs.error().code == ENOENT);
}

TEST_CASE("pci_scan lists devices sorted and reads driver_override", "[pci]") {
  FakeSysfs fs;
  for (const char* bdf : {"0000:00:1f.2", "0000:00:02.0", "0000:00:03.0"}) {
    FakeDevice d;
    d.bdf = bdf;
    fs.add_device(d);
  }
  fs.write("bus/pci/devices/0000:00:02.0/driver_override", "vfio-pci\n");
  auto all = pci_scan(fs.root());
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].bdf == "0000:00:02.0");
  CHECK((*all)[0].driver_override == std::optional<std::string>("vfio-pci"));
  CHECK((*all)[1].bdf == "0000:00:03.0");
  CHECK_FALSE((*all)[1].driver_override.has_value());
  CHECK((*all)[2].bdf == "0000:00:1f.2");
}

TEST_CASE("iommu_state tells IOMMU, no-IOMMU enabled/available, and off apart", "[pci][iommu]") {
  SECTION("off: no groups, no vfio") {
    FakeSysfs fs;
    auto s = iommu_state(fs.root());
    CHECK(s.mode == IommuMode::off);
    CHECK_FALSE(s.vfio_loaded);
  }
  SECTION("no-IOMMU available, then enabled; vfio-noiommu groups are not an IOMMU") {
    FakeSysfs fs;
    fs.set_noiommu_param("N");
    CHECK(iommu_state(fs.root()).mode == IommuMode::noiommu_available);
    fs.set_noiommu_param("Y");
    fs.add_group(3, "vfio-noiommu");
    auto s = iommu_state(fs.root());
    CHECK(s.mode == IommuMode::noiommu_enabled);
    CHECK(s.noiommu_groups == 1);
    CHECK(s.groups == 0);
    CHECK(s.vfio_loaded);
  }
  SECTION("on: real groups") {
    FakeSysfs fs;
    fs.add_group(0);
    fs.add_group(1);
    auto s = iommu_state(fs.root());
    CHECK(s.mode == IommuMode::on);
    CHECK(s.groups == 2);
  }
}

TEST_CASE("iommu_group_devices lists a group's members", "[pci][iommu]") {
  FakeSysfs fs;
  for (const char* bdf : {"0000:00:03.0", "0000:00:03.1"}) {
    FakeDevice d;
    d.bdf = bdf;
    d.iommu_group = 5;
    fs.add_device(d);
  }
  auto m = iommu_group_devices(5, fs.root());
  REQUIRE(m.ok());
  CHECK(*m == std::vector<std::string>{"0000:00:03.0", "0000:00:03.1"});
  CHECK(vfio_group_path(5, fs.root()) == "/dev/vfio/5");
  fs.add_group(6, "vfio-noiommu");
  CHECK(vfio_group_path(6, fs.root()) == "/dev/vfio/noiommu-6");
  auto none = iommu_group_devices(7, fs.root());
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ENOENT);
}
