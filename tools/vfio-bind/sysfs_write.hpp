#pragma once
// Writing sysfs control files, waiting for the kernel's reaction, and running
// modprobe. The only place vfio-bind changes the system.
#include <functional>
#include <string>

#include "exit_code.hpp"

namespace vfio_bind {

// Writes `value` to an existing sysfs attribute (never creates it: a missing
// control file means the kernel lacks the feature or the path is wrong).
Status write_attr(const std::string& path, const std::string& value);

// The kernel applies bind/unbind/drivers_probe writes before write() returns;
// the short poll only tolerates a slow or simulated sysfs. True once `done()`.
bool wait_until(const std::function<bool()>& done, int timeout_ms = 2000);

// Runs `program arg` and waits. Returns the exit status, -1 if it could not be
// started (errno_out set) or did not exit normally.
int run_program(const std::string& program, const std::string& arg, int& errno_out);

}  // namespace vfio_bind
