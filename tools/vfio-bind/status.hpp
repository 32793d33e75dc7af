#pragma once
// vfio-bind status: network PCI devices, the kernel's IOMMU state, hugepages.
#include <iosfwd>

#include "exit_code.hpp"
#include "options.hpp"

namespace vfio_bind {

Status run_status(const Options& opt, std::ostream& out);

}  // namespace vfio_bind
