// virtio-v1.2 §3.1.1 "Driver Requirements: Device Initialization", step by step.
#include "vpmd/pmd/virtio_device.hpp"

#include "vpmd/pmd/net_spec.hpp"

namespace vpmd::pmd {

namespace {
std::string detail(const Transport& t) {
  const std::string e = t.last_error();
  return e.empty() ? e : ": " + e;
}
}  // namespace

Result<std::unique_ptr<VirtioDevice>> VirtioDevice::init(std::unique_ptr<Transport> t, uint64_t wanted, uint64_t required) {
  auto dev = std::unique_ptr<VirtioDevice>(new VirtioDevice(std::move(t)));
  Transport& tr = *dev->t_;
  if (auto r = tr.reset(); !r) return r.error();                  // 1. reset
  tr.set_status(status::acknowledge);                                // 2. we noticed the device
  tr.set_status(status::acknowledge | status::driver);               // 3. we can drive it
  dev->offered_ = tr.device_features();                              // 4. read, take what we want
  if (tr.legacy()) wanted &= 0xFFFFFFFFull;                          //    legacy: 32 bits, no VERSION_1
  if ((dev->offered_ & required) != required) {
    const uint64_t missing = required & ~dev->offered_;
    dev->fail();
    (void)tr.reset();
    return make_error(ENOTSUP, "device does not offer required features " + feature_names(missing) +
                                   " (offered: " + feature_names(dev->offered_) + ")");
  }
  dev->features_ = dev->offered_ & wanted;
  // §6.1 ACCESS_PLATFORM: a device behind an IOMMU must be driven in IOVAs,
  // which is what we always hand it: accept the bit whenever offered.
  dev->features_ |= dev->offered_ & net_feature::access_platform;
  tr.set_driver_features(dev->features_);
  if (!tr.legacy()) {
    tr.set_status(status::acknowledge | status::driver | status::features_ok);  // 5.
    if (!(tr.status() & status::features_ok)) {                                // 6. re-read
      dev->fail();
      (void)tr.reset();
      return make_error(ENOTSUP, "device refused the feature set " + feature_names(dev->features_) +
                                     " (FEATURES_OK did not stick, virtio-v1.2 §3.1.1)" + detail(tr));
    }
  }
  return dev;
}

Result<void> VirtioDevice::renegotiate() {
  Transport& tr = *t_;
  if (auto r = tr.reset(); !r) return r;
  tr.set_status(status::acknowledge);
  tr.set_status(status::acknowledge | status::driver);
  if ((tr.device_features() & features_) != features_)
    return make_error(EIO, "device no longer offers the features negotiated before");
  tr.set_driver_features(features_);
  if (!tr.legacy()) {
    tr.set_status(status::acknowledge | status::driver | status::features_ok);
    if (!(tr.status() & status::features_ok)) {
      fail();
      return make_error(EIO, "device refused FEATURES_OK on restart" + detail(tr));
    }
  }
  return {};
}

VirtioDevice::~VirtioDevice() {
  if (t_) (void)t_->reset();  // stops the device's DMA before our memory is released
}

Result<void> VirtioDevice::driver_ok() {
  Transport& tr = *t_;
  const uint8_t base = tr.legacy() ? (status::acknowledge | status::driver)
                                   : (status::acknowledge | status::driver | status::features_ok);
  tr.set_status(base | status::driver_ok);
  const uint8_t s = tr.status();
  if (s & (status::failed | status::device_needs_reset))
    return make_error(EIO, "device reported " + std::string(s & status::failed ? "FAILED" : "DEVICE_NEEDS_RESET") +
                               " at DRIVER_OK" + detail(tr));
  if (!(s & status::driver_ok)) return make_error(EIO, "device did not accept DRIVER_OK" + detail(tr));
  return {};
}

void VirtioDevice::fail() { t_->set_status(static_cast<uint8_t>(t_->status() | status::failed)); }

bool VirtioDevice::needs_reset() { return (t_->status() & status::device_needs_reset) != 0; }

Result<QueueMemory> make_queue_memory(IovaMapper& mapper, size_t bytes, int numa_node, bool allow_small_pages) {
  auto region = DmaRegion::create({.length = bytes, .page = PageSize::huge_2m, .numa_node = numa_node,
                                   .allow_small_pages = allow_small_pages, .name = "vpmd-ring"});
  if (!region) return region.error();
  if (region->length() > region->page_size() && region->page_size() < bytes)
    return make_error(EINVAL, "a ring must fit in one page of its region");
  if (auto r = mapper.map(*region); !r) return r.error();
  QueueMemory q{std::move(*region), &mapper};
  q.ring = {q.region.addr(), q.region.iova(q.region.addr()), bytes};
  return q;
}

}  // namespace vpmd::pmd
