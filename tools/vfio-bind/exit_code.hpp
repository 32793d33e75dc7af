#pragma once
// vfio-bind's exit codes, documented in --help and README.md. Scripts test
// them, so a value never changes meaning; new reasons get new numbers.
#include <string>
#include <utility>

namespace vfio_bind {

enum class ExitCode : int {
  ok = 0,
  usage = 1,            // bad command line or malformed BDF
  not_root = 2,         // bind/unbind/restore need root
  no_device = 3,        // no such PCI device
  interface_up = 4,     // a kernel interface on the device is up (use --force)
  group_shared = 5,     // the IOMMU group holds devices the host still drives
  no_iommu = 6,         // no IOMMU and no-IOMMU mode not enabled / not available
  no_driver = 7,        // vfio-pci (or the driver to restore) cannot be loaded
  sysfs_failed = 8,     // a sysfs write failed or the kernel did not (un)bind
  nothing_remembered = 9,  // restore: no remembered driver for the device
};

// What a step concluded: ok, or an exit code with a message that says what to do.
struct Status {
  ExitCode code = ExitCode::ok;
  std::string message;

  bool ok() const noexcept { return code == ExitCode::ok; }
  static Status fail(ExitCode c, std::string m) { return Status{c, std::move(m)}; }
};

}  // namespace vfio_bind
