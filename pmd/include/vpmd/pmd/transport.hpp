#pragma once
// What every virtio transport offers the device layer (virtio-v1.2 §4): the
// status byte, feature bits, queue setup in IOVAs, a doorbell per queue and
// device configuration space. It speaks addresses and doorbells, never ring
// structures: the ring lays itself out and hands over RingAreas.
//
// The interface is virtual: it runs at setup, never per packet. The one thing
// the data path touches is the Doorbell, a plain value rung when the ring
// says the device wants a notification.
#include <cstdint>
#include <string>
#include <string_view>

#include "vpmd/mem/iova.hpp"
#include "vpmd/mem/result.hpp"
#include "vpmd/ring/virtqueue.hpp"
#include "vpmd/simd/doorbell.hpp"

namespace vpmd::pmd {

using simd::Doorbell;

// Device status bits (virtio-v1.2 §2.1).
namespace status {
inline constexpr uint8_t acknowledge = 1;
inline constexpr uint8_t driver = 2;
inline constexpr uint8_t driver_ok = 4;
inline constexpr uint8_t features_ok = 8;
inline constexpr uint8_t device_needs_reset = 64;
inline constexpr uint8_t failed = 128;
}  // namespace status

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::string_view name() const noexcept = 0;
  // Legacy interface (virtio-v1.2 §4.1.4.8): no FEATURES_OK, 32 feature bits,
  // legacy ring layout, device-chosen queue sizes.
  virtual bool legacy() const noexcept = 0;

  // Writes 0 to device_status and waits until it reads back 0 (§4.1.4.3.2).
  virtual Result<void> reset() = 0;
  virtual uint8_t status() = 0;
  virtual void set_status(uint8_t s) = 0;
  virtual uint64_t device_features() = 0;
  virtual void set_driver_features(uint64_t f) = 0;

  virtual uint16_t num_queues() = 0;
  // Largest size the device allows for queue q; 0 when the queue does not exist.
  virtual uint16_t queue_max_size(uint16_t q) = 0;
  // Size, the three areas (legacy: the block's PFN) and, when >= 0, the MSI-X
  // vector; then enables the queue (modern: queue_enable = 1).
  virtual Result<void> setup_queue(uint16_t q, uint16_t size, const ring::RingAreas& areas, int msix_vector) = 0;
  virtual Result<Doorbell> doorbell(uint16_t q) = 0;

  // Device configuration space, read consistently: retried while
  // config_generation changes underneath (§4.1.4.3, §2.5.1).
  virtual Result<void> read_config(uint32_t offset, void* buf, uint32_t len) = 0;
  virtual Result<void> write_config(uint32_t offset, const void* buf, uint32_t len) = 0;
  // MSI-X with `vectors` vectors, each signalled on its own eventfd
  // (interrupt_fd). Call before setup_queue / set_config_vector use them.
  virtual Result<void> setup_interrupts(unsigned vectors) = 0;
  // MSI-X vector for configuration changes, -1 for none.
  virtual Result<void> set_config_vector(int vector) = 0;

  // How our DMA memory becomes IOVAs for this device.
  virtual IovaMapper& mapper() = 0;
  // eventfd signalled on MSI-X vector v (-1 when interrupts are not set up).
  virtual int interrupt_fd(unsigned vector) const { (void)vector; return -1; }

  // A device that can go away and come back (a vhost-user back end is a
  // process): whether it is still there, checked without blocking, and one
  // attempt to reach it again (true: connected, ready for §3.1.1 anew).
  // A PCI function never leaves.
  virtual bool alive() { return true; }
  virtual Result<bool> reconnect() { return true; }
  // Why the last status change did not stick, when the transport knows more
  // than the status byte says (vhost-user: the back end's refusal).
  virtual std::string last_error() const { return {}; }
};

// After writing 0 to device_status, waits (up to 1 s) until it reads back 0:
// the device has finished resetting (virtio-v1.2 §2.4, §4.1.4.3.2).
Result<void> wait_for_reset(Transport& t, std::string_view who);

}  // namespace vpmd::pmd
