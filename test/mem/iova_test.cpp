// IOVA mappers: identity, VFIO type1 (ranges, alignment, callbacks), and
// physical (pagemap) on real hugepages.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>
#include <vpmd/mem/iova.hpp>

#include "hugepages.hpp"

using namespace vpmd;

namespace {

DmaRegion small_region(std::size_t len) {
  auto r = DmaRegion::create({.length = len, .page = PageSize::small_4k});
  REQUIRE(r.ok());
  return std::move(*r);
}

bool have_hugepages(long n) {
  if (test::free_hugepages(2048) >= n) return true;
  WARN("skipped: fewer than " << n << " free 2 MiB hugepages; reserve them as root: echo 512 > /proc/sys/vm/nr_hugepages");
  return false;
}

std::string temp_path() {
  char tmpl[] = "/tmp/vpmd-pagemap-XXXXXX";
  const int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  close(fd);
  return tmpl;
}

}  // namespace

TEST_CASE("IdentityMapper: IOVA equals VA, refuses a second mapping", "[iova]") {
  DmaRegion r = small_region(5 * 4096);
  IdentityMapper m;
  REQUIRE(m.map(r).ok());
  CHECK(r.iova_mapped());
  CHECK(r.iova_mapper() == &m);
  for (std::size_t off : {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096}, std::size_t{5 * 4096 - 1}})
    CHECK(r.iova(r.addr() + off) == reinterpret_cast<std::uintptr_t>(r.addr()) + off);
  auto again = IdentityMapper::instance().map(r);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == EBUSY);
  CHECK(again.error().message.find("unmap it") != std::string::npos);
  REQUIRE(m.unmap(r).ok());
  CHECK_FALSE(r.iova_mapped());
}

TEST_CASE("Type1Mapper assigns page-aligned, non-overlapping ranges from its base", "[iova]") {
  DmaRegion a = small_region(3 * 4096);
  DmaRegion b = small_region(2 * 4096);
  Type1Mapper m(0x1001);  // unaligned base: the first range starts at the next page
  REQUIRE(m.map(a).ok());
  CHECK(a.iova(a.addr()) == 0x2000);
  CHECK(a.iova(a.addr() + 4096 + 7) == 0x3007);
  CHECK(a.iova(a.addr() + a.length() - 1) == 0x2000 + a.length() - 1);
  REQUIRE(m.map(b).ok());
  CHECK(b.iova(b.addr()) == 0x5000);
  CHECK(m.next_iova() == 0x7000);
  REQUIRE(m.unmap(a).ok());
  CHECK_FALSE(a.iova_mapped());
  // Unmapping through another mapper is refused.
  IdentityMapper id;
  auto wrong = id.unmap(b);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message.find("vfio-type1") != std::string::npos);
}

TEST_CASE("Type1Mapper aligns ranges to 2 MiB for hugepage regions", "[iova][hugepages]") {
  if (!have_hugepages(2)) return;
  auto h = DmaRegion::create({.length = 2 * MiB, .page = PageSize::huge_2m});
  REQUIRE(h.ok());
  DmaRegion s = small_region(4096);
  Type1Mapper m;  // default base 1 << 32
  REQUIRE(m.map(s).ok());
  CHECK(s.iova(s.addr()) == Type1Mapper::default_base);
  REQUIRE(m.map(*h).ok());
  CHECK(h->iova(h->addr()) == Type1Mapper::default_base + 2 * MiB);
  CHECK(h->iova(h->addr()) % (2 * MiB) == 0);
}

TEST_CASE("Type1Mapper calls do_map/do_unmap for the whole range and propagates failures", "[iova]") {
  struct Call {
    std::uint64_t iova;
    const void* va;
    std::size_t len;
  };
  std::vector<Call> maps, unmaps;
  bool fail = false;
  Type1Mapper m(
      Type1Mapper::default_base,
      [&](std::uint64_t iova, const void* va, std::size_t len) -> Result<void> {
        if (fail) return make_error(ENOSPC, "iommu full");
        maps.push_back({iova, va, len});
        return {};
      },
      [&](std::uint64_t iova, const void* va, std::size_t len) -> Result<void> {
        unmaps.push_back({iova, va, len});
        return {};
      });
  DmaRegion r = small_region(4 * 4096);
  REQUIRE(m.map(r).ok());
  REQUIRE(maps.size() == 1);
  CHECK(maps[0].iova == Type1Mapper::default_base);
  CHECK(maps[0].va == r.addr());
  CHECK(maps[0].len == r.length());
  REQUIRE(m.unmap(r).ok());
  REQUIRE(unmaps.size() == 1);
  CHECK(unmaps[0].iova == maps[0].iova);
  CHECK(unmaps[0].len == r.length());

  fail = true;
  auto bad = m.map(r);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "iommu full");
  CHECK_FALSE(r.iova_mapped());
}

TEST_CASE("Type1Mapper reports an exhausted IOVA space", "[iova]") {
  Type1Mapper m(0, {}, {}, 3 * 4096);
  DmaRegion a = small_region(2 * 4096);
  DmaRegion b = small_region(2 * 4096);
  REQUIRE(m.map(a).ok());
  auto r = m.map(b);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ENOSPC);
  CHECK(r.error().message.find("exhausted") != std::string::npos);
}

TEST_CASE("PhysicalMapper refuses 4 KiB pages", "[iova]") {
  DmaRegion r = small_region(4096);
  PhysicalMapper m;
  auto res = m.map(r);
  REQUIRE_FALSE(res.ok());
  CHECK(res.error().message.find("4 KiB pages are not physically contiguous") != std::string::npos);
  CHECK(res.error().message.find("no-IOMMU DMA needs hugepages") != std::string::npos);
}

TEST_CASE("PhysicalMapper reads contiguous physical addresses of hugepages", "[iova][hugepages]") {
  if (geteuid() != 0) {
    WARN("skipped: not root; /proc/self/pagemap hides PFNs without CAP_SYS_ADMIN");
    PhysicalMapper m;
    if (!have_hugepages(1)) return;
    auto h = DmaRegion::create({.length = 2 * MiB, .page = PageSize::huge_2m});
    REQUIRE(h.ok());
    auto res = m.map(*h);
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().message.find("run as root") != std::string::npos);
    return;
  }
  if (!have_hugepages(2)) return;
  auto h = DmaRegion::create({.length = 4 * MiB, .page = PageSize::huge_2m});
  REQUIRE(h.ok());
  PhysicalMapper m;
  auto res = m.map(*h);
  INFO((res.ok() ? std::string("ok") : res.error().message));
  REQUIRE(res.ok());
  for (std::size_t page = 0; page < h->page_count(); ++page) {
    const std::byte* base = h->addr() + page * h->page_size();
    const std::uint64_t pa = h->iova(base);
    CHECK(pa != 0);
    CHECK(pa % (2 * MiB) == 0);  // a hugepage is physically aligned to its size
    CHECK(h->iova(base + 5 * 4096 + 17) == pa + 5 * 4096 + 17);
    // Cross-check one 4 KiB piece against pagemap directly.
    const int fd = open("/proc/self/pagemap", O_RDONLY);
    REQUIRE(fd >= 0);
    std::uint64_t e = 0;
    const auto vpn = reinterpret_cast<std::uintptr_t>(base + 3 * 4096) / 4096;
    REQUIRE(pread(fd, &e, 8, static_cast<off_t>(vpn * 8)) == 8);
    close(fd);
    CHECK((e & PhysicalMapper::pfn_mask) * 4096 == pa + 3 * 4096);
  }
}

TEST_CASE("PhysicalMapper reports zero PFNs and non-contiguous hugepages", "[iova][hugepages]") {
  if (!have_hugepages(1)) return;
  auto h = DmaRegion::create({.length = 2 * MiB, .page = PageSize::huge_2m});
  REQUIRE(h.ok());
  // A pagemap-format file: one entry per 4 KiB virtual page at vpn * 8.
  const std::string path = temp_path();
  const auto vpn = reinterpret_cast<std::uintptr_t>(h->addr()) / 4096;
  auto write_entries = [&](std::uint64_t first_pfn, std::size_t hole) {
    const int fd = open(path.c_str(), O_WRONLY | O_TRUNC);
    REQUIRE(fd >= 0);
    std::vector<std::uint64_t> e(512);
    for (std::size_t i = 0; i < e.size(); ++i) e[i] = PhysicalMapper::present_bit | (first_pfn == 0 ? 0 : first_pfn + i + (i == hole));
    REQUIRE(pwrite(fd, e.data(), e.size() * 8, static_cast<off_t>(vpn * 8)) == static_cast<ssize_t>(e.size() * 8));
    close(fd);
  };
  PhysicalMapper fake(path.c_str());

  write_entries(0, 9999);
  auto zero = fake.map(*h);
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error().code == EPERM);
  CHECK(zero.error().message.find("run as root") != std::string::npos);

  write_entries(0x40000, 77);
  auto split = fake.map(*h);
  REQUIRE_FALSE(split.ok());
  CHECK(split.error().message.find("not physically contiguous at 4 KiB piece 77") != std::string::npos);

  write_entries(0x40000, 9999);
  auto good = fake.map(*h);
  REQUIRE(good.ok());
  CHECK(h->iova(h->addr() + 100) == 0x40000ull * 4096 + 100);
  unlink(path.c_str());
}
