#pragma once
// Helpers of the model devices (full and lean): shared-memory accessors and
// message building.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>

namespace vpmd::model::detail {

// An le16 field of memory shared with the driver, as an atomic. The areas are
// checked for their spec alignment at construction, so the reference is
// naturally aligned as std::atomic_ref requires.
inline std::atomic_ref<std::uint16_t> shared16(std::byte* p) {
  return std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(p));
}
inline std::atomic_ref<std::uint32_t> shared32(std::byte* p) {
  return std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(p));
}

// Plain (non-atomic) copies for data the driver wrote before its release
// store that the device acquired: ordinary accesses, so that TSan reports a
// driver that keeps writing them after handing them over.
template <class T>
T read_plain(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
void write_plain(std::byte* p, const T& v) {
  std::memcpy(p, &v, sizeof v);
}

template <class... A>
std::string cat(const A&... a) {
  std::ostringstream s;
  (s << ... << a);
  return s.str();
}

inline bool aligned(const std::byte* p, std::size_t a) {
  return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0;
}

}  // namespace vpmd::model::detail
