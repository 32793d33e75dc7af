#pragma once
// Small readers for sysfs attribute files, private to the PCI probe.
// sysfs attributes are short text files ("0x1af4\n"); links name drivers and
// IOMMU groups by their last path component.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vpmd::pmd::sysfs {

// Whole file, or nullopt when it cannot be opened or read.
std::optional<std::string> read_text(const std::string& path);
// First line with trailing whitespace removed.
std::optional<std::string> read_line(const std::string& path);
// A number written in hex ("0x1af4") or decimal ("-1").
std::optional<std::int64_t> read_number(const std::string& path);
// Last component of the target of a symbolic link, nullopt if not a link.
std::optional<std::string> link_basename(const std::string& path);
// Names in a directory (no "." / ".."), sorted; empty if it cannot be opened.
std::vector<std::string> list_dir(const std::string& path);
bool exists(const std::string& path);

}  // namespace vpmd::pmd::sysfs
