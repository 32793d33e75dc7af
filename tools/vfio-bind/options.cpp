// Command-line parsing for vfio-bind.
#include "options.hpp"

#include <string_view>

namespace vfio_bind {

const char* usage_text() {
  return R"(usage: vfio-bind COMMAND [OPTIONS] [BDF...]

Hands network PCI devices to vfio-pci for a user-space driver, and back.

commands:
  status [--json]               network PCI devices (driver, IOMMU group and whether
                                VFIO can use it, NUMA node, interfaces), the kernel's
                                IOMMU / no-IOMMU state and hugepages
  bind BDF... [--noiommu] [--force]
                                load vfio-pci if needed, remember the current driver,
                                set driver_override=vfio-pci, unbind, drivers_probe
  unbind BDF... [--force]       leave the devices without a driver
  restore BDF...                give the devices back to the driver remembered by bind
                                (clears driver_override)
  help                          this text

options:
  --json             status as JSON
  --force            bind/unbind even when a kernel interface on the device is up
  --noiommu          with no IOMMU, turn on vfio's enable_unsafe_noiommu_mode
                     (UNSAFE: the device can then DMA anywhere in memory)
  --sysfs-root DIR   read and write DIR instead of /sys (tests use a fake tree)
  --state-dir DIR    where remembered drivers are kept (default /run/vpmd, or
                     DIR/../run/vpmd with --sysfs-root DIR)
  --modprobe PROG    program run as 'PROG vfio-pci' to load the driver (default modprobe)

BDF: 0000:00:03.0 or 00:03.0.
environment (tests only): VPMD_VFIO_BIND_ASSUME_ROOT=1 skips the root check.

exit codes:
  0  success
  1  usage: bad command line or malformed BDF
  2  not root (bind, unbind and restore write to sysfs)
  3  no such PCI device
  4  a kernel network interface on the device is up (take it down or use --force)
  5  the IOMMU group holds other devices the host still drives (bind them too, or unbind them)
  6  no IOMMU, and no-IOMMU mode is not enabled or not built into vfio
  7  vfio-pci (or the driver to restore) is not loaded and cannot be loaded
  8  a sysfs write failed or the kernel did not bind/unbind the device
  9  restore: no remembered driver for the device
)";
}

Status parse_options(int argc, char** argv, Options& out) {
  if (argc < 2) return Status::fail(ExitCode::usage, "no command given: try 'vfio-bind help'");
  const std::string_view cmd = argv[1];
  if (cmd == "status") out.command = Command::status;
  else if (cmd == "bind") out.command = Command::bind;
  else if (cmd == "unbind") out.command = Command::unbind;
  else if (cmd == "restore") out.command = Command::restore;
  else if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    out.command = Command::help;
    return {};
  } else {
    return Status::fail(ExitCode::usage, "unknown command '" + std::string(cmd) +
                                             "': use status, bind, unbind, restore or help");
  }

  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](std::string& dst) -> bool {
      if (i + 1 >= argc) return false;
      dst = argv[++i];
      return true;
    };
    if (a == "--json") out.json = true;
    else if (a == "--force") out.force = true;
    else if (a == "--noiommu") out.noiommu = true;
    else if (a == "--help" || a == "-h") out.command = Command::help;
    else if (a == "--sysfs-root") {
      if (!value(out.sysfs_root)) return Status::fail(ExitCode::usage, "--sysfs-root needs a directory");
    } else if (a == "--state-dir") {
      if (!value(out.state_dir)) return Status::fail(ExitCode::usage, "--state-dir needs a directory");
    } else if (a == "--modprobe") {
      if (!value(out.modprobe)) return Status::fail(ExitCode::usage, "--modprobe needs a program");
    } else if (a.starts_with("--")) {
      return Status::fail(ExitCode::usage, "unknown option '" + std::string(a) + "': see 'vfio-bind help'");
    } else {
      out.bdfs.emplace_back(a);
    }
  }
  while (out.sysfs_root.size() > 1 && out.sysfs_root.back() == '/') out.sysfs_root.pop_back();

  if (out.command == Command::status && !out.bdfs.empty())
    return Status::fail(ExitCode::usage, "status takes no BDF (it lists every network device)");
  if ((out.command == Command::bind || out.command == Command::unbind || out.command == Command::restore) &&
      out.bdfs.empty())
    return Status::fail(ExitCode::usage, std::string(cmd) + " needs at least one BDF, e.g. 0000:00:03.0");
  if (out.json && out.command != Command::status)
    return Status::fail(ExitCode::usage, "--json applies to status only");
  if (out.noiommu && out.command != Command::bind)
    return Status::fail(ExitCode::usage, "--noiommu applies to bind only");
  return {};
}

}  // namespace vfio_bind
