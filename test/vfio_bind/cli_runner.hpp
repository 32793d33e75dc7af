#pragma once
// Runs the built vfio-bind binary as a child process and captures its output.
#include <string>
#include <vector>

namespace vpmd_test {

struct CliResult {
  int rc = -1;  // exit status; -1 if it did not exit normally
  std::string out;
  std::string err;
};

struct CliRun {
  bool assume_root = true;      // sets VPMD_VFIO_BIND_ASSUME_ROOT=1
  bool drop_to_nobody = false;  // run as uid/gid 65534 (needs root)
};

// `scratch` is a directory for the captured output files.
CliResult run_vfio_bind(const std::vector<std::string>& args, const std::string& scratch, CliRun how = {});

}  // namespace vpmd_test
