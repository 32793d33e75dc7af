#pragma once
// Test helper: how many hugepages of a size are free right now (sysfs).
#include <fstream>
#include <string>

namespace vpmd::test {

inline long free_hugepages(std::size_t page_kb) {
  std::ifstream in("/sys/kernel/mm/hugepages/hugepages-" + std::to_string(page_kb) + "kB/free_hugepages");
  long free_pages = -1;
  if (in) in >> free_pages;
  std::ifstream rin("/sys/kernel/mm/hugepages/hugepages-" + std::to_string(page_kb) + "kB/resv_hugepages");
  long resv = 0;
  if (rin) rin >> resv;
  return in ? free_pages - resv : 0;
}

}  // namespace vpmd::test
