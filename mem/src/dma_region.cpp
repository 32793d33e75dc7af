// DmaRegion: memfd + NUMA binding + populate + mlock, with errors that say
// how to fix the system (hugepage reservation, node number, memlock limit).
#include <vpmd/mem/dma_region.hpp>

#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older glibc headers lack it
#endif
// <linux/memfd.h> values (log2 of the page size << MFD_HUGE_SHIFT); glibc's
// <sys/mman.h> does not define them and the kernel header clashes with it.
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26)
#endif
#ifndef MFD_HUGE_1GB
#define MFD_HUGE_1GB (30U << 26)
#endif

namespace vpmd {
namespace {

std::string errno_text(int e) { return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")"; }

long read_sys_long(const std::string& path) {
  std::ifstream in(path);
  long v = -1;
  if (in) in >> v;
  return in ? v : -1;
}

// "needed N pages of 2048 kB, free F (of T reserved) on node X; reserve with ..."
std::string hugepage_advice(std::size_t page, std::size_t length, int node) {
  const std::size_t kb = page / KiB;
  const std::size_t needed = length / page;
  const std::string dir = "/sys/kernel/mm/hugepages/hugepages-" + std::to_string(kb) + "kB/";
  const long total = read_sys_long(dir + "nr_hugepages");
  const long free_pages = read_sys_long(dir + "free_hugepages");
  const long resv = read_sys_long(dir + "resv_hugepages");
  std::string s = "needed " + std::to_string(needed) + " hugepage(s) of " + std::to_string(kb) + " kB";
  std::size_t avail = 0;
  if (total < 0) {
    s += "; this kernel offers no " + std::to_string(kb) + " kB hugepages (" + dir + " is missing)";
  } else {
    const long a = free_pages - (resv > 0 ? resv : 0);
    avail = a > 0 ? static_cast<std::size_t>(a) : 0;
    s += ", " + std::to_string(avail) + " free of " + std::to_string(total) + " reserved";
    if (node >= 0) s += " (node " + std::to_string(node) + " must hold them)";
  }
  // The reservation that leaves `needed` free: today's total plus the shortfall.
  const std::size_t shortfall = needed > avail ? needed - avail : needed;
  const std::size_t want = static_cast<std::size_t>(total > 0 ? total : 0) + shortfall;
  if (page == bytes(PageSize::huge_2m)) {
    s += ". Reserve more as root: echo " + std::to_string(want) + " > /proc/sys/vm/nr_hugepages";
  } else {
    s += ". Reserve more as root: echo " + std::to_string(want) + " > " + dir +
         "nr_hugepages (1 GiB pages are best reserved at boot: hugepagesz=1G hugepages=N)";
  }
  s += ", or set allow_small_pages to fall back to 4 KiB pages (not usable for no-IOMMU DMA)";
  return s;
}

int resolve_node(int requested, std::string& err) {
  if (numa_available() < 0) {
    if (requested > 0) err = "NUMA node " + std::to_string(requested) + " requested but NUMA is not available on this system; use numa_node = -1 or 0";
    return 0;
  }
  if (requested < 0) {
    const int cpu = sched_getcpu();
    const int node = cpu >= 0 ? numa_node_of_cpu(cpu) : 0;
    return node >= 0 ? node : 0;
  }
  if (requested > numa_max_node() || numa_bitmask_isbitset(numa_all_nodes_ptr, static_cast<unsigned>(requested)) == 0) {
    err = "NUMA node " + std::to_string(requested) + " does not exist or is not allowed (nodes 0.." +
          std::to_string(numa_max_node()) + "); pass a node listed by `numactl -H`, or -1 for the caller's node";
  }
  return requested;
}

// Binds [addr, addr+len) to one node. Must run before the first touch: the
// policy decides where a page is placed when it is first faulted in.
int bind_to_node(void* addr, std::size_t len, int node) {
  if (numa_available() < 0) return 0;
  struct bitmask* mask = numa_allocate_nodemask();
  if (mask == nullptr) return ENOMEM;
  numa_bitmask_setbit(mask, static_cast<unsigned>(node));
  const long rc = mbind(addr, len, MPOL_BIND, mask->maskp, mask->size + 1, 0);
  const int e = rc == 0 ? 0 : errno;
  numa_free_nodemask(mask);
  return e;
}

// Faults every page in now (after mbind), so that a shortage on the node is
// an error here rather than a SIGBUS on first use.
int populate(std::byte* addr, std::size_t len, std::size_t page) {
  if (madvise(addr, len, MADV_POPULATE_WRITE) == 0) return 0;
  const int e = errno;
  if (e != EINVAL) return e;
  for (std::size_t off = 0; off < len; off += page) {  // kernel < 5.14
    volatile std::byte* p = addr + off;
    *p = std::byte{0};
  }
  return 0;
}

struct Attempt {
  int fd = -1;
  std::byte* addr = nullptr;
  std::size_t length = 0;
  int err = 0;            // errno of the failing step, 0 on success
  const char* step = "";  // which call failed
};

void undo(Attempt& a) {
  if (a.addr != nullptr) munmap(a.addr, a.length);
  if (a.fd >= 0) close(a.fd);
  a.addr = nullptr;
  a.fd = -1;
}

Attempt try_map(const char* name, std::size_t length, std::size_t page, unsigned memfd_flags, int node) {
  Attempt a;
  a.length = (length + page - 1) & ~(page - 1);
  a.fd = memfd_create(name, MFD_CLOEXEC | memfd_flags);
  if (a.fd < 0) { a.err = errno; a.step = "memfd_create"; return a; }
  if (ftruncate(a.fd, static_cast<off_t>(a.length)) != 0) { a.err = errno; a.step = "ftruncate"; undo(a); return a; }
  // MAP_POPULATE is deliberately not used: the mapping must exist before
  // mbind can set its policy, and populating first would place the pages on
  // whatever node the kernel picks. populate() below does the same later.
  void* p = mmap(nullptr, a.length, PROT_READ | PROT_WRITE, MAP_SHARED, a.fd, 0);
  if (p == MAP_FAILED) { a.err = errno; a.step = "mmap"; undo(a); return a; }
  a.addr = static_cast<std::byte*>(p);
  if (int e = bind_to_node(a.addr, a.length, node); e != 0) { a.err = e; a.step = "mbind"; undo(a); return a; }
  if (int e = populate(a.addr, a.length, page); e != 0) { a.err = e; a.step = "populate (madvise)"; undo(a); return a; }
  return a;
}

unsigned memfd_huge_flags(PageSize p) {
  return p == PageSize::huge_1g ? (MFD_HUGETLB | MFD_HUGE_1GB) : (MFD_HUGETLB | MFD_HUGE_2MB);
}

}  // namespace

Result<DmaRegion> DmaRegion::create(const DmaRegionConfig& config) {
  if (config.length == 0) return make_error(EINVAL, "DmaRegion: length is 0; pass the number of bytes the region must hold");
  if (config.page != PageSize::small_4k && config.page != PageSize::huge_2m && config.page != PageSize::huge_1g)
    return make_error(EINVAL, "DmaRegion: page size must be PageSize::small_4k, huge_2m or huge_1g");
  std::string node_err;
  const int node = resolve_node(config.numa_node, node_err);
  if (!node_err.empty()) return make_error(EINVAL, "DmaRegion: " + node_err);
  const char* name = config.name != nullptr ? config.name : "vpmd";

  std::size_t page = bytes(config.page);
  bool huge = config.page != PageSize::small_4k;
  Attempt a;
  if (huge) {
    a = try_map(name, config.length, page, memfd_huge_flags(config.page), node);
    const bool no_hugepages = a.err == ENOMEM || a.err == EINVAL || a.err == ENOSPC || a.err == EFAULT || a.err == EHWPOISON;
    if (a.err != 0 && !(no_hugepages && config.allow_small_pages)) {
      if (no_hugepages)
        return make_error(ENOMEM, "DmaRegion: no hugepages for " + std::to_string(a.length) + " bytes (" + a.step +
                                      ": " + errno_text(a.err) + "): " + hugepage_advice(page, a.length, node));
      return make_error(a.err, std::string("DmaRegion: ") + a.step + " failed: " + errno_text(a.err));
    }
    if (a.err != 0) {  // fall back to 4 KiB pages
      huge = false;
      page = bytes(PageSize::small_4k);
    }
  }
  if (!huge) {
    a = try_map(name, config.length, page, 0, node);
    if (a.err != 0) {
      std::string hint;
      if (a.err == ENOMEM) hint = "; free memory or lower the length";
      if (a.err == EINVAL && std::strcmp(a.step, "mbind") == 0) hint = "; check numa_node";
      return make_error(a.err, std::string("DmaRegion: ") + a.step + " failed: " + errno_text(a.err) + hint);
    }
  }
  // Keep the pages resident: a device must never DMA into a page the kernel
  // swapped out. (hugetlb pages are never swapped; mlock is then a no-op.)
  if (mlock(a.addr, a.length) != 0) {
    const int e = errno;
    undo(a);
    return make_error(e, "DmaRegion: mlock of " + std::to_string(a.length) + " bytes failed: " + errno_text(e) +
                             "; raise the locked-memory limit (ulimit -l, LimitMEMLOCK=) or grant CAP_IPC_LOCK");
  }

  DmaRegion r;
  r.addr_ = a.addr;
  r.length_ = a.length;
  r.page_size_ = page;
  r.page_shift_ = static_cast<unsigned>(std::countr_zero(page));
  r.fd_ = a.fd;
  r.numa_node_ = node;
  r.hugepage_backed_ = huge;
  r.locked_ = true;
  return r;
}

DmaRegion::DmaRegion(DmaRegion&& o) noexcept
    : addr_(std::exchange(o.addr_, nullptr)),
      length_(std::exchange(o.length_, 0)),
      page_size_(o.page_size_),
      page_shift_(o.page_shift_),
      fd_(std::exchange(o.fd_, -1)),
      numa_node_(o.numa_node_),
      hugepage_backed_(o.hugepage_backed_),
      locked_(std::exchange(o.locked_, false)),
      page_iova_(std::move(o.page_iova_)),
      mapper_(std::exchange(o.mapper_, nullptr)) {
  o.page_iova_.clear();
}

DmaRegion& DmaRegion::operator=(DmaRegion&& o) noexcept {
  if (this != &o) {
    release();
    addr_ = std::exchange(o.addr_, nullptr);
    length_ = std::exchange(o.length_, 0);
    page_size_ = o.page_size_;
    page_shift_ = o.page_shift_;
    fd_ = std::exchange(o.fd_, -1);
    numa_node_ = o.numa_node_;
    hugepage_backed_ = o.hugepage_backed_;
    locked_ = std::exchange(o.locked_, false);
    page_iova_ = std::move(o.page_iova_);
    o.page_iova_.clear();
    mapper_ = std::exchange(o.mapper_, nullptr);
  }
  return *this;
}

DmaRegion::~DmaRegion() { release(); }

void DmaRegion::release() noexcept {
  if (addr_ != nullptr) {
    if (locked_) munlock(addr_, length_);
    munmap(addr_, length_);
  }
  if (fd_ >= 0) close(fd_);
  addr_ = nullptr;
  fd_ = -1;
  length_ = 0;
  locked_ = false;
  page_iova_.clear();
  mapper_ = nullptr;
}

Result<void> DmaRegion::set_page_iova(std::vector<std::uint64_t> table, const IovaMapper* by) {
  if (!table.empty() && table.size() != page_count())
    return make_error(EINVAL, "DmaRegion::set_page_iova: table has " + std::to_string(table.size()) +
                                  " entries but the region has " + std::to_string(page_count()) + " pages; pass one IOVA per page");
  page_iova_ = std::move(table);
  mapper_ = page_iova_.empty() ? nullptr : by;
  return {};
}

void DmaRegion::clear_page_iova() noexcept {
  page_iova_.clear();
  mapper_ = nullptr;
}

}  // namespace vpmd
