// The legacy virtio PCI interface (virtio-v1.2 §4.1.4.8), in one file that
// can be deleted with the legacy devices it serves. BAR0 is an I/O region:
// every register access is a pread/pwrite on the VFIO device fd.
//
//   0x00 host_features (32)  0x04 guest_features (32)  0x08 queue_pfn (32)
//   0x0C queue_num (16)      0x0E queue_sel (16)       0x10 queue_notify (16)
//   0x12 status (8)          0x13 isr (8)
//   0x14 config_vector (16)  0x16 queue_vector (16)    with MSI-X enabled
//   0x14 device config, or 0x18 with MSI-X enabled
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <time.h>

#include <cstring>
#include <vector>

#include "vpmd/pmd/pci_transport.hpp"

namespace vpmd::pmd {

namespace {

namespace reg {
inline constexpr uint32_t host_features = 0x00, guest_features = 0x04, queue_pfn = 0x08;
inline constexpr uint32_t queue_num = 0x0C, queue_sel = 0x0E, queue_notify = 0x10;
inline constexpr uint32_t status = 0x12, config_vector = 0x14, queue_vector = 0x16;
inline constexpr uint32_t config = 0x14, config_msix = 0x18;
}  // namespace reg
inline constexpr unsigned pfn_shift = 12;  // VIRTIO_PCI_QUEUE_ADDR_SHIFT: queue_pfn counts 4096-byte pages

class LegacyTransport final : public Transport {
 public:
  explicit LegacyTransport(std::unique_ptr<VfioDevice> dev) : dev_(std::move(dev)) {}

  Result<void> init() {
    auto r = dev_->region(VFIO_PCI_BAR0_REGION_INDEX);
    if (!r) return make_error(ENODEV, dev_->bdf() + " has no BAR0: not a legacy virtio device");
    if ((*r)->size < 0x14) return make_error(ENODEV, dev_->bdf() + ": BAR0 too small for the legacy registers");
    bar_ = RegisterWindow(dev_.get(), VFIO_PCI_BAR0_REGION_INDEX, 0, (*r)->size, nullptr);
    return dev_->enable_bus_master();
  }

  std::string_view name() const noexcept override { return "pci-legacy"; }
  bool legacy() const noexcept override { return true; }

  Result<void> reset() override {
    set_status(0);  // §4.1.4.8: writing 0 resets; the read-back confirms it
    return wait_for_reset(*this, dev_->bdf());
  }
  uint8_t status() override { return bar_.read<uint8_t>(reg::status); }
  void set_status(uint8_t s) override { bar_.write<uint8_t>(reg::status, s); }
  uint64_t device_features() override { return bar_.read<uint32_t>(reg::host_features); }  // 32 bits only
  void set_driver_features(uint64_t f) override { bar_.write<uint32_t>(reg::guest_features, static_cast<uint32_t>(f)); }

  uint16_t num_queues() override {
    // Legacy has no queue count: a queue exists while queue_num reads non-zero.
    uint16_t n = 0;
    while (n < 64 && queue_max_size(n) != 0) ++n;
    return n;
  }
  uint16_t queue_max_size(uint16_t q) override {
    bar_.write<uint16_t>(reg::queue_sel, q);
    return bar_.read<uint16_t>(reg::queue_num);
  }

  Result<void> setup_queue(uint16_t q, uint16_t size, const ring::RingAreas& a, int vector) override {
    const uint16_t num = queue_max_size(q);
    if (num == 0) return make_error(EINVAL, "legacy queue " + std::to_string(q) + " does not exist");
    // §4.1.4.8: the device fixes the size; the driver's ring must match it.
    if (size != num)
      return make_error(EINVAL, "legacy queue " + std::to_string(q) + " has size " + std::to_string(num) +
                                    " fixed by the device; the ring was laid out for " + std::to_string(size));
    if (a.desc % 4096 != 0) return make_error(EINVAL, "legacy rings must start on a 4096-byte boundary");
    if ((a.desc >> pfn_shift) > UINT32_MAX) return make_error(ERANGE, "legacy ring above 16 TiB cannot be addressed");
    if (msix_ && vector >= 0) {
      bar_.write<uint16_t>(reg::queue_vector, static_cast<uint16_t>(vector));
      if (bar_.read<uint16_t>(reg::queue_vector) != vector)
        return make_error(ENOSPC, "legacy device refused MSI-X vector for queue " + std::to_string(q));
    }
    bar_.write<uint32_t>(reg::queue_pfn, static_cast<uint32_t>(a.desc >> pfn_shift));
    return {};
  }

  Result<Doorbell> doorbell(uint16_t q) override {
    auto r = dev_->region(VFIO_PCI_BAR0_REGION_INDEX);
    if (!r) return r.error();
    Doorbell d;
    d.kind = Doorbell::Kind::pwrite16;
    d.fd = dev_->fd();
    d.offset = (*r)->offset + reg::queue_notify;
    d.queue = q;
    return d;
  }

  Result<void> read_config(uint32_t off, void* buf, uint32_t len) override {
    // No config_generation in legacy: read until two reads agree (§4.1.4.8).
    std::vector<uint8_t> a(len), b(len);
    for (int tries = 0; tries < 100; ++tries) {
      if (auto r = dev_->read(VFIO_PCI_BAR0_REGION_INDEX, config_base() + off, a.data(), len); !r) return r;
      if (auto r = dev_->read(VFIO_PCI_BAR0_REGION_INDEX, config_base() + off, b.data(), len); !r) return r;
      if (a == b) {
        std::memcpy(buf, a.data(), len);
        return {};
      }
    }
    return make_error(EAGAIN, "legacy device configuration kept changing while being read");
  }
  Result<void> write_config(uint32_t off, const void* buf, uint32_t len) override {
    return dev_->write(VFIO_PCI_BAR0_REGION_INDEX, config_base() + off, buf, len);
  }

  Result<void> set_config_vector(int vector) override {
    msix_ = has_msix_enabled(*dev_);
    if (!msix_) return vector < 0 ? Result<void>{} : make_error(ENOTSUP, "MSI-X is not enabled");
    const uint16_t v = vector < 0 ? 0xFFFF : static_cast<uint16_t>(vector);
    bar_.write<uint16_t>(reg::config_vector, v);
    if (bar_.read<uint16_t>(reg::config_vector) != v) return make_error(ENOSPC, "legacy device refused the config vector");
    return {};
  }

  Result<void> setup_interrupts(unsigned vectors) override { return dev_->enable_msix(vectors); }
  IovaMapper& mapper() override { return dev_->container().mapper(); }
  int interrupt_fd(unsigned v) const override { return dev_->irq_eventfd(v); }

 private:
  // The device-specific region moves by 4 bytes once MSI-X is enabled (§4.1.4.8).
  uint32_t config_base() { return has_msix_enabled(*dev_) ? reg::config_msix : reg::config; }

  std::unique_ptr<VfioDevice> dev_;
  RegisterWindow bar_;
  bool msix_ = false;
};

}  // namespace

Result<std::unique_ptr<Transport>> make_legacy_transport(std::unique_ptr<VfioDevice> dev) {
  auto t = std::make_unique<LegacyTransport>(std::move(dev));
  if (auto r = t->init(); !r) return r.error();
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace vpmd::pmd
