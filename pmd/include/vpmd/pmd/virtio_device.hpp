#pragma once
// Device initialisation (virtio-v1.2 §3.1.1) over any Transport, and the
// DMA memory each virtqueue's ring lives in.
//
//   reset -> ACKNOWLEDGE -> DRIVER -> features (wanted & offered) ->
//   FEATURES_OK, re-read -> queues -> DRIVER_OK;  FAILED on any error.
#include <memory>
#include <optional>
#include <string>

#include "vpmd/mem/dma_region.hpp"
#include "vpmd/pmd/transport.hpp"

namespace vpmd::pmd {

class VirtioDevice {
 public:
  // Steps 1-6 of §3.1.1: reset, ACKNOWLEDGE, DRIVER, negotiate, FEATURES_OK.
  // `required` bits must be offered (or the device is refused, left reset);
  // `wanted` bits are taken when offered.
  static Result<std::unique_ptr<VirtioDevice>> init(std::unique_ptr<Transport> t, uint64_t wanted,
                                                    uint64_t required = 0);
  // Resets the device (it stops all DMA into our memory) before anything else goes.
  ~VirtioDevice();

  Transport& transport() { return *t_; }
  uint64_t features() const { return features_; }
  uint64_t offered() const { return offered_; }
  bool has(uint64_t bit) const { return (features_ & bit) != 0; }

  // Steps 1-6 again with the features negotiated before (a port restarting
  // after stop(), which reset the device).
  Result<void> renegotiate();
  // Step 8: the driver is ready. Checks the device did not fail meanwhile.
  Result<void> driver_ok();
  // Sets FAILED (§3.1.1 step "if any of these steps go irrecoverably wrong").
  void fail();
  bool needs_reset();  // DEVICE_NEEDS_RESET (§2.1.2)

  // Device configuration, generation-consistent.
  template <class T>
  Result<T> config(uint32_t off) {
    T v{};
    if (auto r = t_->read_config(off, &v, sizeof v); !r) return r.error();
    return v;
  }

 private:
  explicit VirtioDevice(std::unique_ptr<Transport> t) : t_(std::move(t)) {}
  std::unique_ptr<Transport> t_;
  uint64_t features_ = 0, offered_ = 0;
};

// The DMA memory of one virtqueue: a hugepage region mapped for the device,
// big enough for the ring's layout (legacy: 4096-aligned, physically
// contiguous inside one hugepage).
// Unmapped from the device (IOMMU entry, vhost-user memory table) when it goes.
struct QueueMemory {
  QueueMemory(DmaRegion r, IovaMapper* m) : region(std::move(r)), mapper(m) {}
  QueueMemory(QueueMemory&& o) noexcept = default;
  QueueMemory& operator=(QueueMemory&&) = delete;
  ~QueueMemory() {
    if (mapper != nullptr && region.iova_mapped()) (void)mapper->unmap(region);
  }
  DmaRegion region;
  ring::RingMemory ring;  // va + iova + len handed to SplitRing/PackedRing::create
  IovaMapper* mapper = nullptr;
};
Result<QueueMemory> make_queue_memory(IovaMapper& mapper, size_t bytes, int numa_node = -1, bool allow_small_pages = false);

}  // namespace vpmd::pmd
