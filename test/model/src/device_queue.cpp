// Translate helpers and Chain accessors shared by both ring formats.
#include <vpmd/model/device_queue.hpp>

namespace vpmd::model {

Translate identity_translate() {
  return [](std::uint64_t iova, std::uint32_t len) -> std::byte* {
    if (iova == 0 || iova + len < iova) return nullptr;  // null page, or the range wraps
    return reinterpret_cast<std::byte*>(static_cast<std::uintptr_t>(iova));
  };
}

Translate window_translate(std::uint64_t iova_base, std::byte* base, std::size_t bytes) {
  return [iova_base, base, bytes](std::uint64_t iova, std::uint32_t len) -> std::byte* {
    if (iova < iova_base) return nullptr;
    const std::uint64_t off = iova - iova_base;
    if (off > bytes || len > bytes - off) return nullptr;
    return base + off;
  };
}

std::uint64_t Chain::readable_bytes() const {
  std::uint64_t n = 0;
  for (const Segment& s : segs) n += s.device_writable ? 0 : s.len;
  return n;
}

std::uint64_t Chain::writable_bytes() const {
  std::uint64_t n = 0;
  for (const Segment& s : segs) n += s.device_writable ? s.len : 0;
  return n;
}

}  // namespace vpmd::model
