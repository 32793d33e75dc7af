// Guest side of the qemu_vfio_bind_* tests: runs inside a run-guest guest
// (root, real kernel, real VFIO) and drives the real vfio-bind through
// status --json, a refused bind (interface up), bind, unbind and restore.
//
// usage (in the guest): vfio_bind_guest_check [--host-driver NAME]
//   NAME: the driver the NICs start on (virtio-pci when run-guest loaded
//   virtio_pci; none otherwise). Reads VPMD_GUEST_MODE, VPMD_GUEST_NICS and
//   VPMD_GUEST_NIC_COUNT from run-guest. Exit 0 when every check passed.
#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.hpp"
#include "mini_json.hpp"

namespace {

using vpmd_test::CliResult;
namespace json = vpmd_test::json;

int failures = 0;

// Each check's text names it uniquely, so a FAIL line is enough to find it.
void expect(bool ok, const std::string& what) {
  std::cout << (ok ? "  ok    " : "  FAIL  ") << what << "\n";
  if (!ok) ++failures;
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

CliResult vfio_bind(const std::vector<std::string>& args) {
  const auto t0 = std::chrono::steady_clock::now();
  vpmd_test::CliRun how;
  how.assume_root = false;  // the guest runs us as root: the real check must pass
  CliResult r = vpmd_test::run_vfio_bind(args, "/tmp", how);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "$ vfio-bind";
  for (const auto& a : args) std::cout << " " << a;
  std::cout << "  -> rc " << r.rc << " in " << ms << " ms\n" << r.out;
  if (!r.err.empty()) std::cout << "  stderr: " << r.err;
  return r;
}

json::Value status() {
  CliResult r = vfio_bind({"status", "--json"});
  expect(r.rc == 0, "status --json exits 0");
  try {
    return json::parse(r.out);
  } catch (const std::exception& e) {
    expect(false, std::string("status --json parses: ") + e.what());
    return json::parse("{\"iommu\":{},\"hugepages\":[],\"devices\":[]}");
  }
}

const json::Value* device(const json::Value& s, const std::string& bdf) {
  for (const auto& d : s["devices"].array())
    if (d["bdf"].str() == bdf) return &d;
  return nullptr;
}

std::string driver_of(const json::Value& s, const std::string& bdf) {
  const json::Value* d = device(s, bdf);
  if (d == nullptr) return "<missing>";
  return (*d)["driver"].is_null() ? "none" : (*d)["driver"].str();
}

// The kernel's own verdict on the group: VFIO_GROUP_GET_STATUS (linux/vfio.h).
bool group_viable_by_kernel(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  vfio_group_status st{};
  st.argsz = sizeof st;
  const bool ok = ::ioctl(fd, VFIO_GROUP_GET_STATUS, &st) == 0 && (st.flags & VFIO_GROUP_FLAGS_VIABLE) != 0;
  ::close(fd);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host_driver = "none";
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--host-driver") host_driver = argv[++i];
  const std::string mode = env_or("VPMD_GUEST_MODE", "");
  std::vector<std::string> nics;
  std::istringstream list(env_or("VPMD_GUEST_NICS", ""));
  for (std::string b; list >> b;) nics.push_back(b);
  const auto want_nics = static_cast<std::size_t>(std::atoi(env_or("VPMD_GUEST_NIC_COUNT", "0").c_str()));
  std::cout << "vfio_bind_guest_check: mode " << mode << ", NICs " << nics.size() << ", host driver " << host_driver
            << "\n";
  expect(!mode.empty() && want_nics > 0, "run-guest passed VPMD_GUEST_MODE and VPMD_GUEST_NIC_COUNT");
  expect(nics.size() == want_nics, "found the NICs QEMU was given");
  if (nics.empty()) return 1;

  // 1. status before anything: what the kernel shows for this mode.
  json::Value s = status();
  const bool noiommu = mode != "viommu";
  expect(s["iommu"]["mode"].str() == (noiommu ? "noiommu-enabled" : "on"),
         "IOMMU state is " + std::string(noiommu ? "noiommu-enabled" : "on"));
  expect(s["iommu"]["vfio_pci_loaded"].boolean(), "vfio-pci is loaded");
  expect(!s["hugepages"].array().empty() && s["hugepages"][0]["reserved"].number() > 0, "hugepages are reserved");
  for (const auto& bdf : nics) {
    const json::Value* d = device(s, bdf);
    expect(d != nullptr, bdf + " is listed as a network device");
    if (d == nullptr) continue;
    const std::string kind = (mode == "viommu" || mode == "noiommu") ? "modern" : "transitional";
    expect((*d)["virtio_net"].str() == kind, bdf + " is a " + kind + " virtio-net device");
    if (mode == "legacy") expect(!(*d)["modern_caps"].boolean(), bdf + " has no modern capabilities (legacy only)");
    if (mode == "transitional") expect((*d)["modern_caps"].boolean(), bdf + " has modern capabilities too");
    expect(driver_of(s, bdf) == host_driver, bdf + " starts on " + host_driver);
    if (host_driver == "virtio-pci")
      expect((*d)["interfaces"].array().size() == 1, bdf + " carries one kernel interface");
  }

  // 2. An interface that is up makes bind refuse (exit 4), and nothing moves.
  if (const json::Value* d0 = device(s, nics[0]); d0 != nullptr && !(*d0)["interfaces"].array().empty()) {
    const std::string ifname = (*d0)["interfaces"][0]["name"].str();
    expect(std::system(("ip link set " + ifname + " up").c_str()) == 0, "ip link set " + ifname + " up");
    CliResult r = vfio_bind({"bind", nics[0]});
    expect(r.rc == 4, "bind refuses while " + ifname + " is up (exit 4)");
    expect(driver_of(status(), nics[0]) == host_driver, nics[0] + " is still on " + host_driver);
    expect(std::system(("ip link set " + ifname + " down").c_str()) == 0, "ip link set " + ifname + " down");
  }

  // 3. bind every NIC: vfio-pci, a viable group and its /dev/vfio node.
  std::vector<std::string> bind_args{"bind"};
  bind_args.insert(bind_args.end(), nics.begin(), nics.end());
  CliResult b = vfio_bind(bind_args);
  expect(b.rc == 0, "bind exits 0");
  s = status();
  for (const auto& bdf : nics) {
    const json::Value* d = device(s, bdf);
    if (d == nullptr) continue;
    expect(driver_of(s, bdf) == "vfio-pci", bdf + " is on vfio-pci");
    expect(!(*d)["vfio_group_path"].is_null(), bdf + " has an IOMMU group");
    if ((*d)["vfio_group_path"].is_null()) continue;
    const std::string path = (*d)["vfio_group_path"].str();
    expect((path.find("/noiommu-") != std::string::npos) == noiommu, path + " matches the IOMMU mode");
    struct stat st{};
    expect(::stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode), path + " exists as a character device");
    expect((*d)["group_viable"].boolean(), bdf + " group is viable (vfio-bind)");
    expect(group_viable_by_kernel(path), path + " is viable (VFIO_GROUP_GET_STATUS)");
    expect(!(*d)["remembered_driver"].is_null() &&
               ((*d)["remembered_driver"].str().empty() ? "none" : (*d)["remembered_driver"].str()) == host_driver,
           bdf + " remembers " + host_driver);
  }

  // 4. unbind the last NIC: no driver.
  CliResult u = vfio_bind({"unbind", nics.back()});
  expect(u.rc == 0, "unbind exits 0");
  expect(driver_of(status(), nics.back()) == "none", nics.back() + " has no driver");

  // 5. restore every NIC to where it started.
  std::vector<std::string> restore_args{"restore"};
  restore_args.insert(restore_args.end(), nics.begin(), nics.end());
  CliResult r = vfio_bind(restore_args);
  expect(r.rc == 0, "restore exits 0");
  s = status();
  for (const auto& bdf : nics) {
    const json::Value* d = device(s, bdf);
    if (d == nullptr) continue;
    expect(driver_of(s, bdf) == host_driver, bdf + " is back on " + host_driver);
    expect((*d)["driver_override"].is_null(), bdf + " has driver_override cleared");
    expect((*d)["remembered_driver"].is_null(), bdf + " has no record left");
    if (host_driver == "virtio-pci")
      expect((*d)["interfaces"].array().size() == 1, bdf + " has its kernel interface again");
  }

  // 6. restore again: nothing remembered (exit 9).
  expect(vfio_bind({"restore", nics[0]}).rc == 9, "a second restore finds nothing remembered (exit 9)");

  std::cout << "vfio_bind_guest_check: " << (failures == 0 ? "all checks passed" : "FAILED") << " (" << failures
            << " failures)\n";
  return failures == 0 ? 0 : 1;
}
