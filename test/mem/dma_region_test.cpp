// DmaRegion: small-page and hugepage paths, errors, RAII.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>
#include <vpmd/mem/dma_region.hpp>

#include "hugepages.hpp"

using namespace vpmd;

TEST_CASE("DmaRegion with 4 KiB pages rounds up, is writable and fd-backed", "[dma_region]") {
  auto r = DmaRegion::create({.length = 10000, .page = PageSize::small_4k, .name = "test-small"});
  REQUIRE(r.ok());
  CHECK(r->length() == 12288);
  CHECK(r->page_size() == 4096);
  CHECK(r->page_count() == 3);
  CHECK_FALSE(r->hugepage_backed());
  CHECK(r->numa_node() >= 0);
  CHECK(r->fd() >= 0);
  CHECK_FALSE(r->iova_mapped());
  std::memset(r->addr(), 0xab, r->length());
  CHECK(r->contains(r->addr()));
  CHECK(r->contains(r->addr() + r->length() - 1));
  CHECK_FALSE(r->contains(r->addr() + r->length()));
  // The fd shows the same memory (what a vhost-user back-end maps).
  unsigned char byte = 0;
  REQUIRE(pread(r->fd(), &byte, 1, 4097) == 1);
  CHECK(byte == 0xab);
}

TEST_CASE("DmaRegion is move-only RAII: the fd closes with the last owner", "[dma_region]") {
  int fd = -1;
  {
    auto r = DmaRegion::create({.length = 4096, .page = PageSize::small_4k});
    REQUIRE(r.ok());
    DmaRegion moved = std::move(*r);
    CHECK(r->addr() == nullptr);
    CHECK(r->fd() == -1);
    fd = moved.fd();
    CHECK(fcntl(fd, F_GETFD) >= 0);
    auto other = DmaRegion::create({.length = 8192, .page = PageSize::small_4k});
    REQUIRE(other.ok());
    const int other_fd = other->fd();
    moved = std::move(*other);  // closes the first region's fd
    CHECK(fcntl(fd, F_GETFD) == -1);
    fd = other_fd;
    CHECK(moved.length() == 8192);
  }
  CHECK(fcntl(fd, F_GETFD) == -1);
}

TEST_CASE("DmaRegion rejects bad arguments with what to do", "[dma_region]") {
  auto zero = DmaRegion::create({.length = 0});
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error().code == EINVAL);
  CHECK(zero.error().message.find("length is 0") != std::string::npos);

  auto node = DmaRegion::create({.length = 4096, .page = PageSize::small_4k, .numa_node = 4000});
  REQUIRE_FALSE(node.ok());
  CHECK(node.error().code == EINVAL);
  CHECK(node.error().message.find("4000") != std::string::npos);
}

TEST_CASE("DmaRegion on 2 MiB hugepages", "[dma_region][hugepages]") {
  if (test::free_hugepages(2048) < 2) {
    WARN("skipped: fewer than 2 free 2 MiB hugepages; reserve them as root: echo 512 > /proc/sys/vm/nr_hugepages");
    return;
  }
  auto r = DmaRegion::create({.length = 3 * MiB, .page = PageSize::huge_2m, .name = "test-huge"});
  REQUIRE(r.ok());
  CHECK(r->hugepage_backed());
  CHECK(r->length() == 4 * MiB);
  CHECK(r->page_size() == 2 * MiB);
  CHECK(r->page_shift() == 21);
  CHECK(reinterpret_cast<std::uintptr_t>(r->addr()) % (2 * MiB) == 0);
  struct statfs fs {};
  REQUIRE(fstatfs(r->fd(), &fs) == 0);
  CHECK(static_cast<unsigned long>(fs.f_type) == HUGETLBFS_MAGIC);
  std::memset(r->addr(), 1, r->length());  // populated and writable
}

TEST_CASE("DmaRegion without hugepages: actionable error, or 4 KiB fallback when allowed", "[dma_region]") {
  // 1 GiB pages are rarely reserved; when some are, this case has nothing to show.
  if (test::free_hugepages(1048576) > 0) {
    WARN("skipped: 1 GiB hugepages are reserved here, so the no-hugepage path cannot be provoked with them");
    return;
  }
  auto r = DmaRegion::create({.length = 1 * MiB, .page = PageSize::huge_1g});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ENOMEM);
  INFO(r.error().message);
  CHECK(r.error().message.find("needed 1 hugepage(s) of 1048576 kB") != std::string::npos);
  CHECK(r.error().message.find("nr_hugepages") != std::string::npos);
  CHECK(r.error().message.find("allow_small_pages") != std::string::npos);

  auto f = DmaRegion::create({.length = 1 * MiB, .page = PageSize::huge_1g, .allow_small_pages = true});
  REQUIRE(f.ok());
  CHECK_FALSE(f->hugepage_backed());
  CHECK(f->page_size() == 4096);
  CHECK(f->length() == 1 * MiB);
}

TEST_CASE("DmaRegion asking for more 2 MiB pages than are free says how many", "[dma_region][hugepages]") {
  const long avail = test::free_hugepages(2048);
  if (avail < 0) {
    WARN("skipped: this kernel has no 2 MiB hugepages");
    return;
  }
  const std::size_t want = static_cast<std::size_t>(avail) + 4;
  auto r = DmaRegion::create({.length = want * 2 * MiB, .page = PageSize::huge_2m});
  REQUIRE_FALSE(r.ok());
  INFO(r.error().message);
  CHECK(r.error().message.find("needed " + std::to_string(want) + " hugepage(s) of 2048 kB") != std::string::npos);
  CHECK(r.error().message.find("echo ") != std::string::npos);
  CHECK(r.error().message.find("/proc/sys/vm/nr_hugepages") != std::string::npos);
}
