#pragma once
// How the driver notifies the device of available buffers on one queue: the
// one piece of the transport the burst paths touch. A transport (pmd/) fills
// it in at start; rx/tx bursts ring it only when the ring says the device
// wants a notification (virtio-v1.2 §2.7.13.4, §2.8.21).
#include <cstdint>

namespace vpmd::simd {

struct Doorbell {
  enum class Kind : uint8_t { none, mmio16, mmio32, pwrite16, eventfd };
  Kind kind = Kind::none;
  volatile void* mmio = nullptr;  // modern PCI: the queue's notify address (§4.1.4.4)
  int fd = -1;                    // legacy PCI: device fd; vhost-user: kick eventfd
  uint64_t offset = 0;            // legacy PCI: queue_notify in the device fd
  uint16_t queue = 0;             // the value written: the queue index (§4.1.5.2)
  bool notification_data = false; // VIRTIO_F_NOTIFICATION_DATA: write vqn | data << 16

  // One notification. MMIO is a single volatile store; the others a syscall
  // (legacy I/O BAR through VFIO, eventfd), taken only when the ring asks.
  void ring(uint16_t data) const noexcept;
};

}  // namespace vpmd::simd
