#pragma once
// Host memory standing in for DMA memory in ring tests: IOVA == VA, the way
// the in-tree device model and vhost-user see it.
#include <cstdlib>
#include <cstring>
#include <memory>

#include "vpmd/ring/virtqueue.hpp"

namespace vpmd::test {

struct TestMemory {
  explicit TestMemory(size_t len, size_t align = 4096)
      : len_((len + align - 1) / align * align),
        p_(static_cast<std::byte*>(std::aligned_alloc(align, len_))) {
    std::memset(p_.get(), 0xA5, len_);  // garbage, as fresh DMA memory may be: the ring must zero it
  }
  ring::RingMemory ring() const { return {p_.get(), reinterpret_cast<uint64_t>(p_.get()), len_}; }
  std::byte* data() const { return p_.get(); }
  size_t size() const { return len_; }

 private:
  struct Free { void operator()(std::byte* b) const { std::free(b); } };
  size_t len_;
  std::unique_ptr<std::byte, Free> p_;
};

}  // namespace vpmd::test
