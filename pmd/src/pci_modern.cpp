// The modern virtio PCI interface (virtio-v1.2 §4.1.4): common, notify, ISR
// and device configuration structures found through vendor capabilities and
// reached in BARs.
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <linux/virtio_pci.h>
#include <time.h>

#include <cstddef>

#include "vpmd/pmd/pci_transport.hpp"

namespace vpmd::pmd {

// Common configuration structure (virtio-v1.2 §4.1.4.3), offsets checked
// against the kernel's struct virtio_pci_common_cfg.
namespace common {
inline constexpr uint32_t device_feature_select = 0x00, device_feature = 0x04;
inline constexpr uint32_t driver_feature_select = 0x08, driver_feature = 0x0C;
inline constexpr uint32_t config_msix_vector = 0x10, num_queues = 0x12;
inline constexpr uint32_t device_status = 0x14, config_generation = 0x15;
inline constexpr uint32_t queue_select = 0x16, queue_size = 0x18, queue_msix_vector = 0x1A;
inline constexpr uint32_t queue_enable = 0x1C, queue_notify_off = 0x1E;
inline constexpr uint32_t queue_desc = 0x20, queue_driver = 0x28, queue_device = 0x30;
static_assert(offsetof(virtio_pci_common_cfg, guest_feature) == driver_feature);
static_assert(offsetof(virtio_pci_common_cfg, msix_config) == config_msix_vector);
static_assert(offsetof(virtio_pci_common_cfg, device_status) == device_status);
static_assert(offsetof(virtio_pci_common_cfg, config_generation) == config_generation);
static_assert(offsetof(virtio_pci_common_cfg, queue_select) == queue_select);
static_assert(offsetof(virtio_pci_common_cfg, queue_notify_off) == queue_notify_off);
static_assert(offsetof(virtio_pci_common_cfg, queue_desc_lo) == queue_desc);
static_assert(offsetof(virtio_pci_common_cfg, queue_avail_lo) == queue_driver);
static_assert(offsetof(virtio_pci_common_cfg, queue_used_lo) == queue_device);
inline constexpr uint16_t no_vector = 0xFFFF;  // VIRTIO_MSI_NO_VECTOR
}  // namespace common

Result<std::vector<VirtioPciCap>> find_virtio_caps(VfioDevice& dev) {
  constexpr uint32_t cfg = VFIO_PCI_CONFIG_REGION_INDEX;
  std::vector<VirtioPciCap> caps;
  auto st = dev.read_as<uint16_t>(cfg, PCI_STATUS);
  if (!st) return st.error();
  if (!(*st & PCI_STATUS_CAP_LIST)) return caps;
  auto ptr = dev.read_as<uint8_t>(cfg, PCI_CAPABILITY_LIST);
  if (!ptr) return ptr.error();
  // The list lives in the first 256 bytes and is at most 48 entries long;
  // bound the walk so a looping list cannot hang us.
  for (unsigned hops = 0, at = *ptr & ~3u; at >= 0x40 && hops < 48; ++hops) {
    virtio_pci_notify_cap c{};
    if (auto r = dev.read(cfg, at, &c, sizeof c.cap); !r) return r.error();
    if (c.cap.cap_vndr == PCI_CAP_ID_VNDR && c.cap.cap_len >= sizeof(virtio_pci_cap)) {
      VirtioPciCap v{c.cap.cfg_type, c.cap.bar, c.cap.offset, c.cap.length, 0};
      if (c.cap.cfg_type == VIRTIO_PCI_CAP_NOTIFY_CFG && c.cap.cap_len >= sizeof c) {
        auto m = dev.read_as<uint32_t>(cfg, at + offsetof(virtio_pci_notify_cap, notify_off_multiplier));
        if (!m) return m.error();
        v.notify_off_multiplier = *m;
      }
      caps.push_back(v);
    }
    at = c.cap.cap_next & ~3u;
  }
  return caps;
}

namespace {

class ModernTransport final : public Transport {
 public:
  explicit ModernTransport(std::unique_ptr<VfioDevice> dev) : dev_(std::move(dev)) {}

  Result<void> init() {
    auto caps = find_virtio_caps(*dev_);
    if (!caps) return caps.error();
    // §4.1.4.1: the driver uses the first capability of each type it can use.
    for (const auto& c : *caps) {
      RegisterWindow* w = nullptr;
      switch (c.cfg_type) {
        case VIRTIO_PCI_CAP_COMMON_CFG: w = &common_; break;
        case VIRTIO_PCI_CAP_NOTIFY_CFG: w = &notify_; break;
        case VIRTIO_PCI_CAP_ISR_CFG: w = &isr_; break;
        case VIRTIO_PCI_CAP_DEVICE_CFG: w = &device_; break;
        default: continue;
      }
      if (w->valid() || c.bar > 5) continue;
      auto reg = dev_->region(c.bar);
      if (!reg) continue;
      if (uint64_t{c.offset} + c.length > (*reg)->size)
        return make_error(EINVAL, dev_->bdf() + ": virtio capability points past BAR" + std::to_string(c.bar));
      auto map = dev_->map_region(c.bar);
      if (!map) return map.error();
      *w = RegisterWindow(dev_.get(), c.bar, c.offset, c.length, *map);
      if (c.cfg_type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
        notify_multiplier_ = c.notify_off_multiplier;
        notify_bar_ = c.bar;
        notify_base_ = c.offset;
      }
    }
    if (!common_.valid() || !notify_.valid())
      return make_error(ENODEV, dev_->bdf() + " has no virtio common/notify capabilities: not a modern virtio "
                                             "device (virtio-v1.2 §4.1.4); try the legacy interface");
    if (common_.length() < 0x38) return make_error(EINVAL, dev_->bdf() + ": common configuration too short");
    return dev_->enable_bus_master();
  }

  std::string_view name() const noexcept override { return "pci-modern"; }
  bool legacy() const noexcept override { return false; }

  Result<void> reset() override {
    set_status(0);
    return wait_for_reset(*this, dev_->bdf());  // QEMU answers at once
  }
  uint8_t status() override { return common_.read<uint8_t>(common::device_status); }
  void set_status(uint8_t s) override { common_.write<uint8_t>(common::device_status, s); }

  uint64_t device_features() override {
    common_.write<uint32_t>(common::device_feature_select, 0);
    uint64_t lo = common_.read<uint32_t>(common::device_feature);
    common_.write<uint32_t>(common::device_feature_select, 1);
    uint64_t hi = common_.read<uint32_t>(common::device_feature);
    return lo | hi << 32;
  }
  void set_driver_features(uint64_t f) override {
    common_.write<uint32_t>(common::driver_feature_select, 0);
    common_.write<uint32_t>(common::driver_feature, static_cast<uint32_t>(f));
    common_.write<uint32_t>(common::driver_feature_select, 1);
    common_.write<uint32_t>(common::driver_feature, static_cast<uint32_t>(f >> 32));
  }

  uint16_t num_queues() override { return common_.read<uint16_t>(common::num_queues); }
  uint16_t queue_max_size(uint16_t q) override {
    if (q >= num_queues()) return 0;
    common_.write<uint16_t>(common::queue_select, q);
    return common_.read<uint16_t>(common::queue_size);
  }

  Result<void> setup_queue(uint16_t q, uint16_t size, const ring::RingAreas& a, int vector) override {
    const uint16_t max = queue_max_size(q);
    if (max == 0) return make_error(EINVAL, "queue " + std::to_string(q) + " does not exist");
    if (size == 0 || size > max)
      return make_error(EINVAL, "queue " + std::to_string(q) + ": size " + std::to_string(size) +
                                    " exceeds the device's maximum " + std::to_string(max));
    common_.write<uint16_t>(common::queue_select, q);
    common_.write<uint16_t>(common::queue_size, size);
    write64(common::queue_desc, a.desc);      // §4.1.4.3: 64-bit fields as two 32-bit halves
    write64(common::queue_driver, a.driver);
    write64(common::queue_device, a.device);
    if (vector >= 0) {
      common_.write<uint16_t>(common::queue_msix_vector, static_cast<uint16_t>(vector));
      if (common_.read<uint16_t>(common::queue_msix_vector) != vector)
        return make_error(ENOSPC, "device refused MSI-X vector " + std::to_string(vector) + " for queue " + std::to_string(q));
    }
    common_.write<uint16_t>(common::queue_enable, 1);
    return {};
  }

  Result<Doorbell> doorbell(uint16_t q) override {
    common_.write<uint16_t>(common::queue_select, q);
    const uint64_t off = uint64_t{common_.read<uint16_t>(common::queue_notify_off)} * notify_multiplier_;
    if (off + 2 > notify_.length()) return make_error(EINVAL, "queue notify address outside the notify capability");
    Doorbell d;
    d.queue = q;
    if (notify_.mapped()) {
      d.kind = Doorbell::Kind::mmio16;
      d.mmio = notify_.mapped() + off;
    } else {  // an unmappable BAR: a pwrite per notification
      d.kind = Doorbell::Kind::pwrite16;
      d.fd = dev_->fd();
      auto reg = dev_->region(notify_bar());
      if (!reg) return reg.error();
      d.offset = (*reg)->offset + notify_base() + off;
    }
    return d;
  }

  Result<void> read_config(uint32_t off, void* buf, uint32_t len) override {
    if (!device_.valid() || uint64_t{off} + len > device_.length())
      return make_error(EINVAL, "device configuration read outside the device capability");
    // §4.1.4.3.1 / §2.5.1: re-read while config_generation changes.
    for (int tries = 0; tries < 100; ++tries) {
      const uint8_t before = common_.read<uint8_t>(common::config_generation);
      auto* p = static_cast<uint8_t*>(buf);
      for (uint32_t i = 0; i < len; ++i) p[i] = device_.read<uint8_t>(off + i);
      if (common_.read<uint8_t>(common::config_generation) == before) return {};
    }
    return make_error(EAGAIN, "device configuration kept changing while being read");
  }
  Result<void> write_config(uint32_t off, const void* buf, uint32_t len) override {
    if (!device_.valid() || uint64_t{off} + len > device_.length())
      return make_error(EINVAL, "device configuration write outside the device capability");
    auto* p = static_cast<const uint8_t*>(buf);
    for (uint32_t i = 0; i < len; ++i) device_.write<uint8_t>(off + i, p[i]);
    return {};
  }

  Result<void> set_config_vector(int vector) override {
    const uint16_t v = vector < 0 ? common::no_vector : static_cast<uint16_t>(vector);
    common_.write<uint16_t>(common::config_msix_vector, v);
    if (common_.read<uint16_t>(common::config_msix_vector) != v)
      return make_error(ENOSPC, "device refused the configuration MSI-X vector");
    return {};
  }

  Result<void> setup_interrupts(unsigned vectors) override { return dev_->enable_msix(vectors); }
  IovaMapper& mapper() override { return dev_->container().mapper(); }
  int interrupt_fd(unsigned v) const override { return dev_->irq_eventfd(v); }
  VfioDevice& vfio() { return *dev_; }

 private:
  void write64(uint32_t off, uint64_t v) {
    common_.write<uint32_t>(off, static_cast<uint32_t>(v));
    common_.write<uint32_t>(off + 4, static_cast<uint32_t>(v >> 32));
  }
  uint32_t notify_bar() const { return notify_bar_; }
  uint64_t notify_base() const { return notify_base_; }

  std::unique_ptr<VfioDevice> dev_;
  RegisterWindow common_, notify_, isr_, device_;
  uint32_t notify_multiplier_ = 0;
  uint32_t notify_bar_ = 0;
  uint64_t notify_base_ = 0;
};

}  // namespace

Result<std::unique_ptr<Transport>> make_modern_transport(std::unique_ptr<VfioDevice> dev) {
  auto t = std::make_unique<ModernTransport>(std::move(dev));
  if (auto r = t->init(); !r) return r.error();
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace vpmd::pmd
