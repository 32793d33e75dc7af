// vfio-bind's happy paths against a fake sysfs with a FakeKernel playing the
// PCI core: status --json parsed back, bind, unbind, restore, no-IOMMU mode,
// loading vfio-pci through --modprobe.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "cli_runner.hpp"
#include "fake_kernel.hpp"
#include "fake_sysfs.hpp"
#include "mini_json.hpp"
#include "scenario.hpp"

using namespace vpmd_test;

namespace {

const json::Value& device(const json::Value& status, const std::string& bdf) {
  for (const auto& d : status["devices"].array())
    if (d["bdf"].str() == bdf) return d;
  throw std::runtime_error("status lists no " + bdf);
}

json::Value status_json(const FakeSysfs& fs) {
  auto r = run_vfio_bind({"status", "--json", "--sysfs-root", fs.root()}, fs.base());
  INFO(r.err);
  REQUIRE(r.rc == 0);
  return json::parse(r.out);
}

}  // namespace

TEST_CASE("status --json describes devices, IOMMU and hugepages", "[cli][status]") {
  FakeSysfs fs;
  two_nics(fs, true);
  fs.add_interface(kNic1, "eth1", true, "up");
  auto s = status_json(fs);

  CHECK(s["iommu"]["mode"].str() == "on");
  CHECK(s["iommu"]["groups"].number() == 3);
  CHECK(s["iommu"]["noiommu_param"].is_null());
  CHECK(s["iommu"]["vfio_pci_loaded"].boolean());
  REQUIRE(s["hugepages"].array().size() == 2);
  CHECK(s["hugepages"][0]["size_kb"].number() == 2048);
  CHECK(s["hugepages"][0]["reserved"].number() == 64);
  CHECK(s["hugepages"][0]["free"].number() == 60);
  CHECK(s["hugepages"][1]["size_kb"].number() == 1048576);

  REQUIRE(s["devices"].array().size() == 2);  // the ISA bridge is not a network device
  const auto& n0 = device(s, kNic0);
  CHECK(n0["vendor"].str() == "0x1af4");
  CHECK(n0["device"].str() == "0x1041");
  CHECK(n0["class"].str() == "0x020000");
  CHECK(n0["virtio_net"].str() == "modern");
  CHECK(n0["modern_caps"].boolean());
  CHECK(n0["driver"].str() == "virtio-pci");
  CHECK(n0["iommu_group"].number() == 1);
  CHECK(n0["vfio_group_path"].str() == "/dev/vfio/1");
  CHECK(n0["group_viable"].boolean() == false);  // virtio-pci still drives it
  REQUIRE(n0["group_offenders"].array().size() == 1);
  CHECK(n0["group_offenders"][0]["bdf"].str() == kNic0);
  CHECK(n0["group_offenders"][0]["driver"].str() == "virtio-pci");
  CHECK(n0["numa_node"].number() == -1);
  CHECK(n0["interfaces"][0]["name"].str() == "eth0");
  CHECK_FALSE(n0["interfaces"][0]["up"].boolean());
  CHECK(n0["remembered_driver"].is_null());
  const auto& n1 = device(s, kNic1);
  CHECK(n1["numa_node"].number() == 0);
  CHECK(n1["interfaces"][0]["up"].boolean());

  SECTION("text status says the same") {
    auto t = run_vfio_bind({"status", "--sysfs-root", fs.root()}, fs.base());
    CHECK(t.rc == 0);
    CHECK(has(t.out, "IOMMU: on (3 groups)"));
    CHECK(has(t.out, "0000:00:03.0 1af4:1041 virtio-net modern  driver=virtio-pci"));
    CHECK(has(t.out, "if=eth1(up)"));
    CHECK(has(t.out, "2048kB 64 reserved 60 free"));
  }
}

TEST_CASE("bind, status, unbind and restore two NICs with an IOMMU", "[cli][bind]") {
  FakeSysfs fs;
  two_nics(fs, true);
  FakeKernel kernel(fs);
  kernel.set_native(kNic0, "virtio-pci");
  kernel.set_native(kNic1, "virtio-pci");
  kernel.start();

  auto b = run_vfio_bind({"bind", "00:02.0", kNic1, "--sysfs-root", fs.root()}, fs.base());
  INFO(b.out << b.err);
  REQUIRE(b.rc == 0);
  CHECK(has(b.out, "0000:00:02.0: bound to vfio-pci (was virtio-pci), group 1 (/dev/vfio/1)"));
  for (const char* bdf : {kNic0, kNic1}) {
    CHECK(fs.driver_of(bdf) == std::optional<std::string>("vfio-pci"));
    CHECK(fs.read(std::string("bus/pci/devices/") + bdf + "/driver_override") == "vfio-pci");
    CHECK(fs.read(std::string("../run/vpmd/vfio-bind/") + bdf) == "driver=virtio-pci\n");
  }
  auto s = status_json(fs);
  CHECK(device(s, kNic0)["driver"].str() == "vfio-pci");
  CHECK(device(s, kNic0)["group_viable"].boolean());
  CHECK(device(s, kNic1)["remembered_driver"].str() == "virtio-pci");
  CHECK(device(s, kNic1)["driver_override"].str() == "vfio-pci");

  // Binding again is harmless and keeps the original driver on record.
  auto again = run_vfio_bind({"bind", kNic0, "--sysfs-root", fs.root()}, fs.base());
  CHECK(again.rc == 0);
  CHECK(has(again.out, "already bound to vfio-pci"));
  CHECK(fs.read(std::string("../run/vpmd/vfio-bind/") + kNic0) == "driver=virtio-pci\n");

  auto u = run_vfio_bind({"unbind", kNic0, "--sysfs-root", fs.root()}, fs.base());
  CHECK(u.rc == 0);
  CHECK(has(u.out, "unbound from vfio-pci"));
  CHECK_FALSE(fs.driver_of(kNic0).has_value());
  CHECK(fs.read(std::string("../run/vpmd/vfio-bind/") + kNic0) == "driver=virtio-pci\n");

  auto r = run_vfio_bind({"restore", kNic0, kNic1, "--sysfs-root", fs.root()}, fs.base());
  INFO(r.out << r.err);
  CHECK(r.rc == 0);
  for (const char* bdf : {kNic0, kNic1}) {
    CHECK(fs.driver_of(bdf) == std::optional<std::string>("virtio-pci"));
    CHECK(fs.read(std::string("bus/pci/devices/") + bdf + "/driver_override") == "\n");  // cleared
    CHECK_FALSE(fs.exists(std::string("../run/vpmd/vfio-bind/") + bdf));
  }
  kernel.stop();

  // The kernel saw exactly the moves a real one would have made.
  const auto log = kernel.log();
  const std::vector<std::string> expected{
      "unbind 0000:00:02.0 virtio-pci", "bind 0000:00:02.0 vfio-pci",  "unbind 0000:00:03.0 virtio-pci",
      "bind 0000:00:03.0 vfio-pci",     "unbind 0000:00:02.0 vfio-pci", "bind 0000:00:02.0 virtio-pci",
      "unbind 0000:00:03.0 vfio-pci",   "bind 0000:00:03.0 virtio-pci"};
  CHECK(log == expected);
}

TEST_CASE("a driverless device restores to no driver", "[cli][bind]") {
  FakeSysfs fs;
  two_nics(fs, true);
  fs.unlink_driver(kNic0);  // as in a guest without virtio_pci
  FakeKernel kernel(fs);
  kernel.start();
  auto b = run_vfio_bind({"bind", kNic0, "--sysfs-root", fs.root()}, fs.base());
  CHECK(b.rc == 0);
  CHECK(has(b.out, "(was no driver)"));
  CHECK(fs.read(std::string("../run/vpmd/vfio-bind/") + kNic0) == "driver=\n");
  auto r = run_vfio_bind({"restore", kNic0, "--sysfs-root", fs.root()}, fs.base());
  CHECK(r.rc == 0);
  CHECK(has(r.out, "restored to no driver"));
  CHECK_FALSE(fs.driver_of(kNic0).has_value());
  // unbind of a driverless device changes nothing and succeeds.
  auto u = run_vfio_bind({"unbind", kNic0, "--sysfs-root", fs.root()}, fs.base());
  kernel.stop();
  CHECK(u.rc == 0);
  CHECK(has(u.out, "already without a driver"));
  CHECK_FALSE(fs.exists(std::string("../run/vpmd/vfio-bind/") + kNic0));
  CHECK(kernel.log() == std::vector<std::string>{"bind 0000:00:02.0 vfio-pci", "unbind 0000:00:02.0 vfio-pci"});
}

TEST_CASE("--noiommu enables no-IOMMU mode and the device gets a noiommu group", "[cli][bind]") {
  FakeSysfs fs;
  two_nics(fs, false);
  fs.set_noiommu_param("N");
  FakeKernel kernel(fs);
  kernel.start();
  auto b = run_vfio_bind({"bind", kNic0, kNic1, "--noiommu", "--sysfs-root", fs.root()}, fs.base());
  kernel.stop();
  INFO(b.out << b.err);
  REQUIRE(b.rc == 0);
  CHECK(has(b.out, "enabled vfio's no-IOMMU mode"));
  CHECK(fs.read("module/vfio/parameters/enable_unsafe_noiommu_mode") == "Y");
  auto s = status_json(fs);
  CHECK(s["iommu"]["mode"].str() == "noiommu-enabled");
  CHECK(s["iommu"]["noiommu_groups"].number() == 2);
  const auto& n0 = device(s, kNic0);
  CHECK(n0["driver"].str() == "vfio-pci");
  CHECK(n0["vfio_group_path"].str() == "/dev/vfio/noiommu-" + std::to_string(static_cast<int>(n0["iommu_group"].number())));
  CHECK(n0["group_viable"].boolean());
}

TEST_CASE("bind loads vfio-pci through --modprobe", "[cli][bind]") {
  FakeSysfs fs;
  two_nics(fs, true, /*vfio_pci_loaded=*/false);
  const std::string script = fs.base() + "/fake-modprobe";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\necho \"$@\" >> " << fs.base() << "/modprobe.log\n"
        << "d=" << fs.root() << "/bus/pci/drivers/$1\nmkdir -p $d && : > $d/bind && : > $d/unbind\n";
  }
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  FakeKernel kernel(fs);
  kernel.start();
  auto b = run_vfio_bind({"bind", kNic0, "--modprobe", script, "--sysfs-root", fs.root()}, fs.base());
  kernel.stop();
  INFO(b.out << b.err);
  CHECK(b.rc == 0);
  std::ifstream log(fs.base() + "/modprobe.log");
  std::string line;
  std::getline(log, line);
  CHECK(line == "vfio-pci");
  CHECK(fs.driver_of(kNic0) == std::optional<std::string>("vfio-pci"));
}

TEST_CASE("--state-dir overrides where drivers are remembered", "[cli][bind]") {
  FakeSysfs fs;
  two_nics(fs, true);
  const std::string state = fs.base() + "/elsewhere";
  FakeKernel kernel(fs);
  kernel.start();
  auto b = run_vfio_bind({"bind", kNic0, "--state-dir", state, "--sysfs-root", fs.root()}, fs.base());
  kernel.stop();
  CHECK(b.rc == 0);
  CHECK(std::filesystem::exists(state + "/vfio-bind/" + kNic0));
  CHECK_FALSE(fs.exists(std::string("../run/vpmd/vfio-bind/") + kNic0));
  // Without the same --state-dir, restore finds nothing.
  auto r = run_vfio_bind({"restore", kNic0, "--sysfs-root", fs.root()}, fs.base());
  CHECK(r.rc == 9);
}
