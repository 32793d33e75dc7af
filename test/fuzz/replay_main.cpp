// Without libFuzzer (gcc builds, the asan preset): replay every file of the
// given corpus directories, then a bounded number of inputs from a seeded
// generator, through the same LLVMFuzzerTestOneInput. Prints what it ran.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" const char* vpmd_fuzz_summary();  // what the target reached

int main(int argc, char** argv) {
  size_t files = 0, generated = 0;
  unsigned long random_runs = 20000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--random=", 0) == 0) {
      random_runs = std::strtoul(a.c_str() + 9, nullptr, 10);
      continue;
    }
    for (const auto& e : std::filesystem::directory_iterator(a)) {
      std::ifstream in(e.path(), std::ios::binary);
      std::vector<uint8_t> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(buf.data(), buf.size());
      ++files;
    }
  }
  std::mt19937_64 rng(12345);
  std::vector<uint8_t> buf;
  for (unsigned long r = 0; r < random_runs; ++r) {
    buf.resize(2 + rng() % 600);
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
    ++generated;
  }
  std::printf("replayed %zu corpus files and %zu generated inputs: no failure\n%s\n", files, generated, vpmd_fuzz_summary());
  return files == 0 && generated == 0 ? 1 : 0;
}
