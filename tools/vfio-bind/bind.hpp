#pragma once
// vfio-bind bind / unbind / restore.
#include <iosfwd>

#include "exit_code.hpp"
#include "options.hpp"

namespace vfio_bind {

// Each checks every device first and changes nothing if a check fails; then
// acts device by device, printing one line per device to `out`.
Status run_bind(const Options& opt, std::ostream& out);
Status run_unbind(const Options& opt, std::ostream& out);
Status run_restore(const Options& opt, std::ostream& out);

}  // namespace vfio_bind
