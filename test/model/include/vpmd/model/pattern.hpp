#pragma once
// The payload pattern both sides compute: the driver fills device-readable
// buffers with pattern(seed, serial, offset) and the model checks it; the model
// fills the written part of device-writable buffers with it and the driver
// checks. `serial` is the buffer's position in avail order (Chain::serial:
// 0 for the first buffer the driver makes available on the queue, then 1, ...)
// and `offset` counts bytes across the buffer's readable (or writable)
// segments. Header-only, constexpr, no dependencies: include it from either side.
#include <cstddef>
#include <cstdint>
#include <span>

namespace vpmd::model {

constexpr std::byte pattern(std::uint64_t seed, std::uint64_t serial, std::uint64_t offset) {
  // splitmix64 finaliser over the three inputs: every byte depends on all.
  std::uint64_t x = seed ^ (serial * 0x9E3779B97F4A7C15ull) ^ (offset * 0xC2B2AE3D27D4EB4Full);
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<std::byte>(x & 0xFF);
}

// Fills `out` with the pattern for offsets offset0 .. offset0 + out.size() - 1.
constexpr void fill_pattern(std::span<std::byte> out, std::uint64_t seed, std::uint64_t serial,
                            std::uint64_t offset0 = 0) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = pattern(seed, serial, offset0 + i);
}

// Index of the first byte that differs from the pattern, or in.size() if none.
constexpr std::size_t check_pattern(std::span<const std::byte> in, std::uint64_t seed, std::uint64_t serial,
                                    std::uint64_t offset0 = 0) {
  for (std::size_t i = 0; i < in.size(); ++i)
    if (in[i] != pattern(seed, serial, offset0 + i)) return i;
  return in.size();
}

static_assert(pattern(1, 2, 3) != pattern(1, 2, 4) || pattern(1, 2, 3) != pattern(1, 3, 3),
              "the pattern must depend on serial and offset");

}  // namespace vpmd::model
