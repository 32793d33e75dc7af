#pragma once
// A small seeded generator (splitmix64) with the same sequence on every
// compiler and standard library, so a failing seed reproduces anywhere.
#include <cstdint>

namespace vpmd::model {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (inclusive); lo when hi <= lo. Modulo bias is
  // irrelevant for test policies.
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) {
    if (hi <= lo) return lo;
    const std::uint64_t span = hi - lo + 1;
    return span == 0 ? next() : lo + next() % span;
  }
  bool chance(unsigned percent) { return next() % 100 < percent; }

 private:
  std::uint64_t s_;
};

}  // namespace vpmd::model
