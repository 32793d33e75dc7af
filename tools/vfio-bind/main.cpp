// vfio-bind: give network PCI devices to vfio-pci for vpmd, and back.
// Usage and exit codes: see options.cpp (usage_text) and README.md.
#include <iostream>

#include "bind.hpp"
#include "options.hpp"
#include "status.hpp"

int main(int argc, char** argv) {
  using namespace vfio_bind;
  Options opt;
  Status st = parse_options(argc, argv, opt);
  if (st.ok()) {
    switch (opt.command) {
      case Command::help: std::cout << usage_text(); return 0;
      case Command::status: st = run_status(opt, std::cout); break;
      case Command::bind: st = run_bind(opt, std::cout); break;
      case Command::unbind: st = run_unbind(opt, std::cout); break;
      case Command::restore: st = run_restore(opt, std::cout); break;
    }
  }
  std::cout.flush();
  if (!st.ok()) std::cerr << "vfio-bind: " << st.message << "\n";
  return static_cast<int>(st.code);
}
