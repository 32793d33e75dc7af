#pragma once
// A tiny TAP-like checker for programs that run inside the QEMU guest: one
// "ok"/"not ok" line per check on the serial console, exit status = failures.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "vpmd/mem/result.hpp"

namespace vpmd::guest {

struct Checker {
  int failed = 0, passed = 0;
  bool check(bool cond, const std::string& what) {
    std::printf("%s - %s\n", cond ? "ok" : "not ok", what.c_str());
    std::fflush(stdout);
    (cond ? passed : failed)++;
    return cond;
  }
  template <class T>
  bool check_ok(const Result<T>& r, const std::string& what) {
    return check(r.ok(), r.ok() ? what : what + ": " + r.error().message);
  }
  int finish() {
    std::printf("guest checks: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
  }
};

inline std::vector<std::string> guest_nics() {
  std::vector<std::string> out;
  const char* e = std::getenv("VPMD_GUEST_NICS");
  std::string s = e ? e : "";
  size_t p = 0;
  while (p < s.size()) {
    size_t q = s.find_first_of(" ,", p);
    if (q == std::string::npos) q = s.size();
    if (q > p) out.push_back(s.substr(p, q - p));
    p = q + 1;
  }
  return out;
}

inline std::string guest_mode() {
  const char* e = std::getenv("VPMD_GUEST_MODE");
  return e ? e : "";
}

}  // namespace vpmd::guest
