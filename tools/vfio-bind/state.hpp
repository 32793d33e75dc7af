#pragma once
// Remembered drivers: `bind` and `unbind` note the driver a device had so that
// `restore` can give it back. One small file per device:
//   <state-dir>/vfio-bind/<bdf>   containing   driver=<name>\n   (empty name: none)
#include <optional>
#include <string>

#include "exit_code.hpp"

namespace vfio_bind {

// /run/vpmd for the real /sys; <parent of root>/run/vpmd for a fake tree, so a
// test never touches the machine's /run.
std::string default_state_dir(const std::string& sysfs_root);

class DriverMemory {
 public:
  explicit DriverMemory(std::string state_dir) : dir_(std::move(state_dir)) {}

  // nullopt: nothing remembered. A value (possibly "") is the driver to restore.
  std::optional<std::string> recall(const std::string& bdf) const;
  // Keeps the first record: binding twice must not forget the original driver.
  Status remember_if_new(const std::string& bdf, const std::string& driver) const;
  void forget(const std::string& bdf) const;
  std::string path(const std::string& bdf) const;

 private:
  std::string dir_;
};

}  // namespace vfio_bind
