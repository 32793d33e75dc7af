#pragma once
// The memory a vhost-user back end may touch: every DmaRegion mapped for the
// port (packet pools, rings), shared by fd. IOVA = our virtual address, so a
// descriptor's addr and a ring's user address are the same number and the
// back end translates both through one table (vhost-user.rst, "Memory
// regions": guest_phys_addr = userspace_addr).
#include <functional>
#include <vector>

#include "vpmd/mem/iova.hpp"
#include "vpmd/pmd/vhost_user_spec.hpp"

namespace vpmd::pmd::vhost_user {

class SharedMemory final : public IovaMapper {
 public:
  struct Region {
    const std::byte* addr;
    size_t len;
    int fd;  // our own dup: the back end can map the region even if its owner forgot to unmap
  };
  ~SharedMemory() override;
  Result<void> map(DmaRegion& region) override;
  Result<void> unmap(DmaRegion& region) override;
  std::string_view name() const noexcept override { return "vhost-user"; }

  // The SET_MEM_TABLE payload and its fds, in the same order.
  MemTable table() const;
  std::vector<int> fds() const;
  size_t size() const { return regions_.size(); }

  // Called after each change, so a running port's back end hears of a pool
  // mapped late (or an unmapped one) at once.
  std::function<Result<void>()> on_change;

 private:
  std::vector<Region> regions_;
};

}  // namespace vpmd::pmd::vhost_user
