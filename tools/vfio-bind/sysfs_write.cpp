// sysfs writes, waits and modprobe for vfio-bind (see sysfs_write.hpp).
#include "sysfs_write.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

extern char** environ;

namespace vfio_bind {

Status write_attr(const std::string& path, const std::string& value) {
  // O_TRUNC is ignored by sysfs; on a plain file (a test's fake tree) it makes
  // the file hold exactly the last value written.
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return Status::fail(ExitCode::sysfs_failed, "cannot open " + path + " for writing: " + std::strerror(e) +
                                                    (e == ENOENT ? " (is the module loaded and sysfs mounted?)" : ""));
  }
  const ssize_t n = ::write(fd, value.data(), value.size());
  const int e = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size()))
    return Status::fail(ExitCode::sysfs_failed, "writing '" + value + "' to " + path + " failed: " +
                                                    (n < 0 ? std::strerror(e) : "short write") +
                                                    "; see 'dmesg | tail' for the kernel's reason");
  return {};
}

bool wait_until(const std::function<bool()>& done, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

int run_program(const std::string& program, const std::string& arg, int& errno_out) {
  errno_out = 0;
  std::vector<char*> argv{const_cast<char*>(program.c_str()), const_cast<char*>(arg.c_str()), nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, program.c_str(), nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    errno_out = rc;
    return -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      errno_out = errno;
      return -1;
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace vfio_bind
