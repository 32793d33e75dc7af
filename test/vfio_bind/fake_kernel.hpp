#pragma once
// Plays the kernel's side of a FakeSysfs while a vfio-bind process runs: it
// watches the control files and moves `driver` links the way the PCI core does
// (Documentation/ABI/testing/sysfs-bus-pci):
//   drivers/<d>/unbind  <- BDF : release the device from <d>
//   drivers/<d>/bind    <- BDF : attach it to <d>
//   drivers_probe       <- BDF : attach it to driver_override if set, else to
//                                its native driver (set_native)
// vfio-pci only takes a device that has an IOMMU group; in no-IOMMU mode
// (parameter Y) it makes one named "vfio-noiommu", as drivers/vfio does.
// Every reaction is logged for assertions.
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_sysfs.hpp"

namespace vpmd_test {

class FakeKernel {
 public:
  explicit FakeKernel(FakeSysfs& fs) : fs_(fs) {}
  ~FakeKernel() { stop(); }
  FakeKernel(const FakeKernel&) = delete;
  FakeKernel& operator=(const FakeKernel&) = delete;

  void set_native(const std::string& bdf, const std::string& driver) { native_[bdf] = driver; }
  void start();
  void stop();
  std::vector<std::string> log() const;

 private:
  void run();
  void step();
  void probe(const std::string& bdf, const std::string& driver);
  std::string take(const std::string& rel);  // reads a control file and empties it

  FakeSysfs& fs_;
  std::map<std::string, std::string> native_;
  std::atomic<bool> running_{false};
  std::thread thread_;
  mutable std::mutex log_mutex_;
  std::vector<std::string> log_;
  unsigned next_noiommu_group_ = 100;
};

}  // namespace vpmd_test
