#pragma once
// Command line of vfio-bind.
#include <string>
#include <vector>

#include "exit_code.hpp"

namespace vfio_bind {

enum class Command { status, bind, unbind, restore, help };

struct Options {
  Command command = Command::help;
  std::vector<std::string> bdfs;          // as typed; normalised later by the probe
  std::string sysfs_root = "/sys";
  std::string state_dir;                  // empty: derived from sysfs_root (see state.hpp)
  std::string modprobe = "modprobe";      // program used to load vfio-pci / a driver to restore
  bool json = false;
  bool force = false;
  bool noiommu = false;
};

// Fills `out` or returns a usage failure naming the bad argument.
Status parse_options(int argc, char** argv, Options& out);

// The --help text, with every exit code.
const char* usage_text();

}  // namespace vfio_bind
