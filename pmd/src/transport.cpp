// Helpers shared by every transport.
#include <time.h>

#include <string>

#include "vpmd/pmd/transport.hpp"

namespace vpmd::pmd {

Result<void> wait_for_reset(Transport& t, std::string_view who) {
  for (int i = 0; i < 1000; ++i) {
    if (t.status() == 0) return {};
    const timespec ms{0, 1'000'000};
    nanosleep(&ms, nullptr);
  }
  return make_error(ETIMEDOUT, std::string(who) + ": device did not complete reset within 1 s");
}

}  // namespace vpmd::pmd
