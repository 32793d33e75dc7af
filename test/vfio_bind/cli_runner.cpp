// Child-process runner for vfio-bind (see cli_runner.hpp).
#include "cli_runner.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#ifndef VFIO_BIND_EXE
#error "VFIO_BIND_EXE must name the vfio-bind binary under test"
#endif

extern char** environ;

namespace vpmd_test {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

CliResult run_vfio_bind(const std::vector<std::string>& args, const std::string& scratch, CliRun how) {
  const std::string out_path = scratch + "/cli.out";
  const std::string err_path = scratch + "/cli.err";

  // Everything the child needs is built before fork(): after it, only
  // async-signal-safe calls (the test may have a FakeKernel thread running).
  std::vector<std::string> argv_s{VFIO_BIND_EXE};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "VPMD_VFIO_BIND_ASSUME_ROOT=", 27) != 0) env_s.emplace_back(*e);
  if (how.assume_root) env_s.emplace_back("VPMD_VFIO_BIND_ASSUME_ROOT=1");
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CliResult r;
  if (out_fd < 0 || err_fd < 0) {
    r.err = "cannot create output files in " + scratch;
    return r;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (how.drop_to_nobody && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  if (pid < 0) {
    r.err = "fork failed";
    return r;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

}  // namespace vpmd_test
