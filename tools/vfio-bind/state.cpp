// Remembered drivers for vfio-bind restore (see state.hpp).
#include "state.hpp"

#include <filesystem>
#include <fstream>
#include <system_error>

namespace vfio_bind {

namespace fs = std::filesystem;

std::string default_state_dir(const std::string& sysfs_root) {
  if (sysfs_root == "/sys") return "/run/vpmd";
  fs::path parent = fs::path(sysfs_root).parent_path();
  if (parent.empty()) parent = ".";
  return (parent / "run" / "vpmd").string();
}

std::string DriverMemory::path(const std::string& bdf) const { return dir_ + "/vfio-bind/" + bdf; }

std::optional<std::string> DriverMemory::recall(const std::string& bdf) const {
  std::ifstream in(path(bdf));
  if (!in) return std::nullopt;
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("driver=", 0) == 0) return line.substr(7);
  return std::nullopt;
}

Status DriverMemory::remember_if_new(const std::string& bdf, const std::string& driver) const {
  if (recall(bdf)) return {};
  std::error_code ec;
  fs::create_directories(dir_ + "/vfio-bind", ec);
  if (ec)
    return Status::fail(ExitCode::sysfs_failed, "cannot create " + dir_ + "/vfio-bind to remember the driver: " +
                                                    ec.message() + " (choose another with --state-dir)");
  // Write then rename, so a crash never leaves a half-written record.
  const std::string final_path = path(bdf);
  const std::string tmp = final_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "driver=" << driver << "\n";
    if (!out)
      return Status::fail(ExitCode::sysfs_failed, "cannot write " + tmp + " (choose another --state-dir)");
  }
  fs::rename(tmp, final_path, ec);
  if (ec) return Status::fail(ExitCode::sysfs_failed, "cannot rename " + tmp + ": " + ec.message());
  return {};
}

void DriverMemory::forget(const std::string& bdf) const {
  std::error_code ec;
  fs::remove(path(bdf), ec);
}

}  // namespace vfio_bind
