// Doorbell::ring: the only transport code on the data path.
#include <unistd.h>

#include <cstring>

#include "vpmd/simd/doorbell.hpp"

namespace vpmd::simd {

void Doorbell::ring(uint16_t data) const noexcept {
  const uint32_t v32 = notification_data ? (uint32_t{queue} | (uint32_t{data} << 16)) : queue;
  switch (kind) {
    case Kind::mmio16:
      *static_cast<volatile uint16_t*>(mmio) = queue;  // the ring's release/fence ordered the buffers before this
      break;
    case Kind::mmio32:
      *static_cast<volatile uint32_t*>(mmio) = v32;
      break;
    case Kind::pwrite16: {
      const uint16_t v = queue;
      (void)!::pwrite(fd, &v, sizeof v, static_cast<off_t>(offset));
      break;
    }
    case Kind::eventfd: {
      const uint64_t one = 1;
      (void)!::write(fd, &one, sizeof one);
      break;
    }
    case Kind::none:
      break;
  }
}

}  // namespace vpmd::simd
