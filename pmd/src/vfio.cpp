// VFIO container, group and device (linux/vfio.h). Every ioctl's failure
// becomes an Error that says what to check; nothing aborts.
#include "vpmd/pmd/vfio.hpp"

#include <fcntl.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vpmd/pmd/pci.hpp"

namespace vpmd::pmd {

namespace {
Error sys_error(const std::string& what) {
  const int e = errno;
  return make_error(e ? e : EIO, what + ": " + std::strerror(e));
}
}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}
Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

// ---- container ---------------------------------------------------------------

Result<std::shared_ptr<VfioContainer>> VfioContainer::open() {
  Fd fd(::open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC));
  if (!fd)
    return make_error(errno, std::string("cannot open /dev/vfio/vfio (") + std::strerror(errno) +
                                 "): load vfio-pci (modprobe vfio-pci) and run as root, or see `vfio-bind status`");
  if (ioctl(fd.get(), VFIO_GET_API_VERSION) != VFIO_API_VERSION)
    return make_error(ENOTSUP, "unsupported VFIO API version");
  auto c = std::shared_ptr<VfioContainer>(new VfioContainer());
  c->fd_ = std::move(fd);
  return c;
}

Result<void> VfioContainer::set_iommu(VfioIommu wanted) {
  if (iommu_set_) {
    if (wanted != mode_) return make_error(EINVAL, "container already uses the other IOMMU mode");
    return {};
  }
  int type = 0;
  if (wanted == VfioIommu::noiommu) {
    if (ioctl(fd_.get(), VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU) <= 0)
      return make_error(ENOTSUP, "vfio has no no-IOMMU support: load vfio with enable_unsafe_noiommu_mode=1 "
                                 "(a kernel built with CONFIG_VFIO_NOIOMMU)");
    type = VFIO_NOIOMMU_IOMMU;
  } else if (ioctl(fd_.get(), VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0) {
    type = VFIO_TYPE1v2_IOMMU;
  } else if (ioctl(fd_.get(), VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) > 0) {
    type = VFIO_TYPE1_IOMMU;
  } else {
    return make_error(ENOTSUP, "vfio offers no type1 IOMMU: load vfio_iommu_type1, or boot with the IOMMU on");
  }
  if (ioctl(fd_.get(), VFIO_SET_IOMMU, type) != 0) return sys_error("VFIO_SET_IOMMU");
  const bool same_mapper = mapper_ && mode_ == wanted;
  mode_ = wanted;
  iommu_set_ = true;
  if (same_mapper) {
    // keep it: regions refer to it; its IOVA allocator simply goes on
  } else if (mode_ == VfioIommu::noiommu) {
    mapper_ = std::make_unique<PhysicalMapper>();
  } else {
    mapper_ = std::make_unique<Type1Mapper>(
        Type1Mapper::default_base,
        [this](uint64_t iova, const void* va, size_t len) { return map_dma(iova, va, len); },
        [this](uint64_t iova, const void*, size_t len) { return unmap_dma(iova, len); });
  }
  return {};
}

Result<void> VfioContainer::map_dma(uint64_t iova, const void* va, size_t len) {
  vfio_iommu_type1_dma_map m{};
  m.argsz = sizeof m;
  m.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  m.vaddr = reinterpret_cast<uint64_t>(va);
  m.iova = iova;
  m.size = len;
  if (ioctl(fd_.get(), VFIO_IOMMU_MAP_DMA, &m) != 0) return sys_error("VFIO_IOMMU_MAP_DMA");
  return {};
}

Result<void> VfioContainer::unmap_dma(uint64_t iova, size_t len) {
  vfio_iommu_type1_dma_unmap u{};
  u.argsz = sizeof u;
  u.iova = iova;
  u.size = len;
  if (ioctl(fd_.get(), VFIO_IOMMU_UNMAP_DMA, &u) != 0) return sys_error("VFIO_IOMMU_UNMAP_DMA");
  return {};
}

void VfioContainer::detached() {
  if (groups_ > 0 && --groups_ == 0) iommu_set_ = false;  // the kernel unset the IOMMU with the last group
}

IovaMapper& VfioContainer::mapper() {
  if (!mapper_) return IdentityMapper::instance();  // not attached yet: nothing DMA-capable exists
  return *mapper_;
}

// ---- device --------------------------------------------------------------------

Result<std::unique_ptr<VfioDevice>> VfioDevice::open(const std::string& bdf_in, std::shared_ptr<VfioContainer> container,
                                                     const std::string& sysfs_root) {
  auto pci = pci_probe(bdf_in, sysfs_root);
  if (!pci) return pci.error();
  if (pci->driver.value_or("") != "vfio-pci")
    return make_error(ENODEV, pci->bdf + " is bound to " + pci->driver.value_or("no driver") +
                                  ", not vfio-pci: run `vfio-bind bind " + pci->bdf + "`");
  if (!pci->iommu_group)
    return make_error(ENODEV, pci->bdf + " has no IOMMU group: enable the IOMMU or vfio's no-IOMMU mode (see `vfio-bind status`)");
  const std::string gpath = vfio_group_path(*pci->iommu_group, sysfs_root);
  const VfioIommu mode = gpath.find("noiommu-") != std::string::npos ? VfioIommu::noiommu : VfioIommu::type1;

  auto dev = std::unique_ptr<VfioDevice>(new VfioDevice());
  dev->bdf_ = pci->bdf;
  dev->container_ = std::move(container);
  dev->group_ = Fd(::open(gpath.c_str(), O_RDWR | O_CLOEXEC));
  if (!dev->group_) return sys_error("open " + gpath + " (is another process using the device?)");
  vfio_group_status st{};
  st.argsz = sizeof st;
  if (ioctl(dev->group_.get(), VFIO_GROUP_GET_STATUS, &st) != 0) return sys_error("VFIO_GROUP_GET_STATUS");
  if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE))
    return make_error(EBUSY, "IOMMU group " + std::to_string(*pci->iommu_group) +
                                 " is not viable: bind every device in it to vfio-pci (see `vfio-bind status`)");
  if (!(st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET)) {
    int cfd = dev->container_->fd();
    if (ioctl(dev->group_.get(), VFIO_GROUP_SET_CONTAINER, &cfd) != 0) return sys_error("VFIO_GROUP_SET_CONTAINER");
    dev->container_->attached();
    dev->attached_ = true;
  }
  if (auto r = dev->container_->set_iommu(mode); !r) return r.error();
  dev->device_ = Fd(ioctl(dev->group_.get(), VFIO_GROUP_GET_DEVICE_FD, dev->bdf_.c_str()));
  if (!dev->device_) return sys_error("VFIO_GROUP_GET_DEVICE_FD " + dev->bdf_);
  vfio_device_info info{};
  info.argsz = sizeof info;
  if (ioctl(dev->device_.get(), VFIO_DEVICE_GET_INFO, &info) != 0) return sys_error("VFIO_DEVICE_GET_INFO");
  if (!(info.flags & VFIO_DEVICE_FLAGS_PCI)) return make_error(ENODEV, dev->bdf_ + " is not a PCI device");
  dev->num_regions_ = info.num_regions;
  dev->num_irqs_ = info.num_irqs;
  dev->can_reset_ = (info.flags & VFIO_DEVICE_FLAGS_RESET) != 0;
  dev->regions_.resize(info.num_regions);
  for (uint32_t i = 0; i < info.num_regions; ++i) {
    vfio_region_info ri{};
    ri.argsz = sizeof ri;
    ri.index = i;
    VfioRegion& r = dev->regions_[i];
    r.index = i;
    if (ioctl(dev->device_.get(), VFIO_DEVICE_GET_REGION_INFO, &ri) == 0) {
      r.size = ri.size;
      r.offset = ri.offset;
      r.flags = ri.flags;
    }
  }
  return dev;
}

VfioDevice::~VfioDevice() {
  disable_irqs();
  for (auto& r : regions_)
    if (r.map) ::munmap(r.map, r.size);
  device_ = Fd();
  if (attached_ && group_) {
    (void)ioctl(group_.get(), VFIO_GROUP_UNSET_CONTAINER);
    group_ = Fd();
    container_->detached();
  }
}

Result<VfioRegion*> VfioDevice::region(uint32_t index) {
  if (index >= regions_.size() || regions_[index].size == 0)
    return make_error(ENOENT, bdf_ + " has no region " + std::to_string(index));
  return &regions_[index];
}

Result<std::byte*> VfioDevice::map_region(uint32_t index) {
  auto r = region(index);
  if (!r) return r.error();
  VfioRegion& reg = **r;
  if (reg.map) return reg.map;
  if (!(reg.flags & VFIO_REGION_INFO_FLAG_MMAP)) return static_cast<std::byte*>(nullptr);
  int prot = 0;
  if (reg.flags & VFIO_REGION_INFO_FLAG_READ) prot |= PROT_READ;
  if (reg.flags & VFIO_REGION_INFO_FLAG_WRITE) prot |= PROT_WRITE;
  void* p = ::mmap(nullptr, reg.size, prot, MAP_SHARED, device_.get(), static_cast<off_t>(reg.offset));
  if (p == MAP_FAILED) return static_cast<std::byte*>(nullptr);  // fall back to read/write
  reg.map = static_cast<std::byte*>(p);
  return reg.map;
}

Result<void> VfioDevice::read(uint32_t index, uint64_t off, void* buf, size_t len) {
  auto r = region(index);
  if (!r) return r.error();
  if (off + len > (*r)->size) return make_error(EINVAL, "read past the end of region " + std::to_string(index));
  if (::pread(device_.get(), buf, len, static_cast<off_t>((*r)->offset + off)) != static_cast<ssize_t>(len))
    return sys_error("read of region " + std::to_string(index) + " of " + bdf_);
  return {};
}

Result<void> VfioDevice::write(uint32_t index, uint64_t off, const void* buf, size_t len) {
  auto r = region(index);
  if (!r) return r.error();
  if (off + len > (*r)->size) return make_error(EINVAL, "write past the end of region " + std::to_string(index));
  if (::pwrite(device_.get(), buf, len, static_cast<off_t>((*r)->offset + off)) != static_cast<ssize_t>(len))
    return sys_error("write of region " + std::to_string(index) + " of " + bdf_);
  return {};
}

Result<void> VfioDevice::enable_bus_master() {
  auto cmd = read_as<uint16_t>(VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND);
  if (!cmd) return cmd.error();
  const uint16_t want = *cmd | PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
  if (want == *cmd) return {};
  return write_as<uint16_t>(VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, want);
}

uint32_t VfioDevice::msix_supported() const {
  if (VFIO_PCI_MSIX_IRQ_INDEX >= num_irqs_) return 0;
  vfio_irq_info ii{};
  ii.argsz = sizeof ii;
  ii.index = VFIO_PCI_MSIX_IRQ_INDEX;
  if (ioctl(device_.get(), VFIO_DEVICE_GET_IRQ_INFO, &ii) != 0) return 0;
  return ii.count;
}

Result<void> VfioDevice::enable_msix(unsigned count) {
  disable_irqs();
  if (count == 0 || count > msix_supported())
    return make_error(EINVAL, bdf_ + " offers " + std::to_string(msix_supported()) + " MSI-X vectors, " +
                                  std::to_string(count) + " asked");
  std::vector<int32_t> fds;
  for (unsigned i = 0; i < count; ++i) {
    Fd e(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!e) return sys_error("eventfd");
    fds.push_back(e.get());
    irq_fds_.push_back(std::move(e));
  }
  std::vector<std::byte> buf(sizeof(vfio_irq_set) + sizeof(int32_t) * count);
  auto* set = reinterpret_cast<vfio_irq_set*>(buf.data());
  set->argsz = static_cast<uint32_t>(buf.size());
  set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
  set->index = VFIO_PCI_MSIX_IRQ_INDEX;
  set->start = 0;
  set->count = count;
  std::memcpy(buf.data() + sizeof(vfio_irq_set), fds.data(), sizeof(int32_t) * count);
  if (ioctl(device_.get(), VFIO_DEVICE_SET_IRQS, set) != 0) {
    irq_fds_.clear();
    return sys_error("VFIO_DEVICE_SET_IRQS (MSI-X)");
  }
  return {};
}

void VfioDevice::disable_irqs() {
  if (irq_fds_.empty()) return;
  vfio_irq_set set{};
  set.argsz = sizeof set;
  set.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
  set.index = VFIO_PCI_MSIX_IRQ_INDEX;
  set.start = 0;
  set.count = 0;
  (void)ioctl(device_.get(), VFIO_DEVICE_SET_IRQS, &set);
  irq_fds_.clear();
}

int VfioDevice::irq_eventfd(unsigned vector) const { return vector < irq_fds_.size() ? irq_fds_[vector].get() : -1; }

Result<void> VfioDevice::reset() {
  if (!can_reset_) return make_error(ENOTSUP, bdf_ + " has no function-level reset");
  if (ioctl(device_.get(), VFIO_DEVICE_RESET) != 0) return sys_error("VFIO_DEVICE_RESET");
  return {};
}

}  // namespace vpmd::pmd
