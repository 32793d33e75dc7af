// Catch2's runner for the dpdk tier: skips the whole program (exit 77, with
// the reason) where the peer cannot run. Built like test/catch_main.cpp,
// apart from the tests: Catch2's implementation trips gcc 12's
// -Wmaybe-uninitialized inside <regex> under the sanitizer presets.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdio>

#include "testpmd_peer.hpp"

int main(int argc, char** argv) {
  if (auto why = vpmd::test::TestpmdPeer::unavailable()) {
    std::printf("SKIP: %s\n", why->c_str());
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
