// vfio-bind's refusals: each error path gives its documented exit code, a
// message that says what to do, and changes nothing in sysfs.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include <catch2/catch.hpp>

#include "cli_runner.hpp"
#include "fake_kernel.hpp"
#include "fake_sysfs.hpp"
#include "scenario.hpp"

using namespace vpmd_test;

namespace {

// Nothing a refused command may leave behind.
void check_untouched(const FakeSysfs& fs, const std::string& bdf) {
  CHECK(fs.read("bus/pci/devices/" + bdf + "/driver_override") == "(null)\n");
  CHECK(fs.read("bus/pci/drivers_probe").empty());
  CHECK(fs.driver_of(bdf) == std::optional<std::string>("virtio-pci"));
  CHECK_FALSE(fs.exists("../run/vpmd/vfio-bind/" + bdf));
}

}  // namespace

TEST_CASE("help lists every exit code", "[cli]") {
  FakeSysfs fs;
  auto r = run_vfio_bind({"--help"}, fs.base());
  CHECK(r.rc == 0);
  for (const char* line : {"0  success", "1  usage", "2  not root", "3  no such PCI device", "4  a kernel network",
                           "5  the IOMMU group", "6  no IOMMU", "7  vfio-pci", "8  a sysfs write", "9  restore"})
    CHECK(has(r.out, line));
}

TEST_CASE("usage errors exit 1", "[cli]") {
  FakeSysfs fs;
  two_nics(fs, true);
  const std::string root = fs.root();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {"frobnicate"},
           {"bind", "--sysfs-root", root},
           {"bind", "00:3", "--sysfs-root", root},
           {"status", "--sysfs-root"},
           {"status", "0000:00:02.0", "--sysfs-root", root},
           {"bind", kNic0, "--json", "--sysfs-root", root},
           {"restore", kNic0, "--noiommu", "--sysfs-root", root},
           {"bind", kNic0, "--bogus", "--sysfs-root", root}}) {
    auto r = run_vfio_bind(args, fs.base());
    INFO(r.err);
    CHECK(r.rc == 1);
    CHECK(has(r.err, "vfio-bind: "));
  }
  check_untouched(fs, kNic0);
}

TEST_CASE("bind as a normal user exits 2", "[cli]") {
  FakeSysfs fs;
  two_nics(fs, true);
  CliRun how;
  how.assume_root = false;
  if (::geteuid() == 0) {
    how.drop_to_nobody = true;
    // The child must be able to exec the binary and read the tree as nobody.
    ::chmod(fs.base().c_str(), 0755);
  }
  auto r = run_vfio_bind({"bind", kNic0, "--sysfs-root", fs.root()}, fs.base(), how);
  if (r.rc == 126 || r.rc == 127) {
    WARN("skipped: cannot run vfio-bind as uid 65534 here (rc " << r.rc << ")");
    return;
  }
  CHECK(r.rc == 2);
  CHECK(has(r.err, "must run as root"));
  check_untouched(fs, kNic0);
}

TEST_CASE("an unknown device exits 3 and lists the devices present", "[cli]") {
  FakeSysfs fs;
  two_nics(fs, true);
  auto r = run_vfio_bind({"bind", kNic0, "0000:00:09.0", "--sysfs-root", fs.root()}, fs.base());
  CHECK(r.rc == 3);
  CHECK(has(r.err, "no PCI device 0000:00:09.0"));
  CHECK(has(r.err, kNic0));
  check_untouched(fs, kNic0);  // the first, valid BDF was not touched either
}

TEST_CASE("an interface that is up exits 4 unless --force", "[cli]") {
  FakeSysfs fs;
  two_nics(fs, true);
  fs.add_interface(kNic0, "eth0", true, "up");
  auto r = run_vfio_bind({"bind", kNic0, "--sysfs-root", fs.root()}, fs.base());
  CHECK(r.rc == 4);
  CHECK(has(r.err, "eth0"));
  CHECK(has(r.err, "--force"));
  check_untouched(fs, kNic0);

  auto u = run_vfio_bind({"unbind", kNic0, "--sysfs-root", fs.root()}, fs.base());
  CHECK(u.rc == 4);
  check_untouched(fs, kNic0);

  FakeKernel kernel(fs);
  kernel.start();
  auto f = run_vfio_bind({"bind", kNic0, "--force", "--sysfs-root", fs.root()}, fs.base());
  kernel.stop();
  INFO(f.err);
  CHECK(f.rc == 0);
  CHECK(has(f.out, "going on because of --force"));
  CHECK(fs.driver_of(kNic0) == std::optional<std::string>("vfio-pci"));
}

TEST_CASE("a group shared with a host-driven device exits 5", "[cli]") {
  FakeSysfs fs;
  two_nics(fs, true);
  FakeDevice other;
  other.bdf = "0000:00:02.1";
  other.vendor = 0x8086;
  other.device = 0x10d3;
  other.driver = "e1000e";
  other.iommu_group = 1;  // kNic0's group
  fs.add_device(other);
  FakeDevice bridge;
  bridge.bdf = "0000:00:01.0";
  bridge.class_code = 0x060400;
  bridge.driver = "pcieport";
  bridge.iommu_group = 1;
  fs.add_device(bridge);

  auto r = run_vfio_bind({"bind", kNic0, "--sysfs-root", fs.root()}, fs.base());
  CHECK(r.rc == 5);
  CHECK(has(r.err, "0000:00:02.1 (e1000e)"));
  CHECK_FALSE(has(r.err, "0000:00:01.0"));  // a bridge on pcieport does not count
  check_untouched(fs, kNic0);

  // status shows the same verdict.
  auto s = run_vfio_bind({"status", "--sysfs-root", fs.root()}, fs.base());
  CHECK(s.rc == 0);
  CHECK(has(s.out, "not viable: 0000:00:02.0 on virtio-pci 0000:00:02.1 on e1000e"));
}

TEST_CASE("no IOMMU and no no-IOMMU mode exits 6 and says how to enable it", "[cli]") {
  FakeSysfs fs;
  two_nics(fs, false);
  SECTION("vfio without CONFIG_VFIO_NOIOMMU") {
    auto r = run_vfio_bind({"bind", kNic0, "--noiommu", "--sysfs-root", fs.root()}, fs.base());
    CHECK(r.rc == 6);
    CHECK(has(r.err, "CONFIG_VFIO_NOIOMMU"));
    CHECK(has(r.err, "modprobe vfio enable_unsafe_noiommu_mode=1"));
    CHECK(has(r.err, "DMA anywhere"));
  }
  SECTION("no-IOMMU mode available but off, no --noiommu") {
    fs.set_noiommu_param("N");
    auto r = run_vfio_bind({"bind", kNic0, "--sysfs-root", fs.root()}, fs.base());
    CHECK(r.rc == 6);
    CHECK(has(r.err, "echo Y > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode"));
    CHECK(has(r.err, "--noiommu"));
    CHECK(has(r.err, "DMA anywhere"));
    CHECK(fs.read("module/vfio/parameters/enable_unsafe_noiommu_mode") == "N\n");
  }
  check_untouched(fs, kNic0);
}

TEST_CASE("vfio-pci that cannot be loaded exits 7", "[cli]") {
  FakeSysfs fs;
  two_nics(fs, true, /*vfio_pci_loaded=*/false);
  SECTION("modprobe missing") {
    auto r = run_vfio_bind({"bind", kNic0, "--modprobe", fs.base() + "/no-such-modprobe", "--sysfs-root", fs.root()},
                           fs.base());
    CHECK(r.rc == 7);
    CHECK(has(r.err, "install kmod"));
  }
  SECTION("modprobe fails") {
    auto r = run_vfio_bind({"bind", kNic0, "--modprobe", "false", "--sysfs-root", fs.root()}, fs.base());
    CHECK(r.rc == 7);
    CHECK(has(r.err, "'false vfio-pci' failed (exit 1)"));
  }
  SECTION("modprobe succeeds without loading anything") {
    auto r = run_vfio_bind({"bind", kNic0, "--modprobe", "true", "--sysfs-root", fs.root()}, fs.base());
    CHECK(r.rc == 7);
    CHECK(has(r.err, "does not exist"));
  }
  check_untouched(fs, kNic0);
}

TEST_CASE("a failing sysfs write or a refusing kernel exits 8", "[cli]") {
  FakeSysfs fs;
  two_nics(fs, true);
  SECTION("drivers_probe missing") {
    std::remove((fs.root() + "/bus/pci/drivers_probe").c_str());
    FakeKernel kernel(fs);
    kernel.start();
    auto r = run_vfio_bind({"bind", kNic0, "--sysfs-root", fs.root()}, fs.base());
    kernel.stop();
    CHECK(r.rc == 8);
    CHECK(has(r.err, "drivers_probe"));
  }
  SECTION("vfio-pci refuses a device without an IOMMU group") {
    fs.add_group(9);  // the IOMMU is on, but this device is outside it
    std::remove((fs.device_dir(kNic0) + "/iommu_group").c_str());
    FakeKernel kernel(fs);
    kernel.start();
    auto r = run_vfio_bind({"bind", kNic0, "--sysfs-root", fs.root()}, fs.base());
    kernel.stop();
    CHECK(r.rc == 8);
    CHECK(has(r.err, "did not bind to vfio-pci"));
    CHECK(has(r.err, "vfio-bind restore"));
  }
}

TEST_CASE("status without a PCI devices directory exits 3", "[cli]") {
  FakeSysfs fs;
  auto r = run_vfio_bind({"status", "--sysfs-root", fs.base() + "/nowhere"}, fs.base());
  CHECK(r.rc == 3);
  CHECK(has(r.err, "--sysfs-root"));
}

TEST_CASE("restore without a remembered driver exits 9", "[cli]") {
  FakeSysfs fs;
  two_nics(fs, true);
  auto r = run_vfio_bind({"restore", kNic0, "--sysfs-root", fs.root()}, fs.base());
  CHECK(r.rc == 9);
  CHECK(has(r.err, "no remembered driver"));
  check_untouched(fs, kNic0);
}
