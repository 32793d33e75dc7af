// The fake kernel's reactions to sysfs control writes (see fake_kernel.hpp).
#include "fake_kernel.hpp"

#include <chrono>
#include <filesystem>

#include <vpmd/pmd/pci.hpp>

namespace vpmd_test {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Only a complete, well-formed BDF counts: a read racing the writer may see
// an empty file, never a torn one that parses.
bool complete_bdf(const std::string& s) { return s.size() == 12 && vpmd::pmd::parse_pci_address(s).ok(); }

}  // namespace

void FakeKernel::start() {
  running_.store(true, std::memory_order_relaxed);
  thread_ = std::thread([this] { run(); });
}

void FakeKernel::stop() {
  if (!thread_.joinable()) return;
  running_.store(false, std::memory_order_relaxed);
  thread_.join();
}

std::vector<std::string> FakeKernel::log() const {
  std::lock_guard<std::mutex> lock(log_mutex_);
  return log_;
}

void FakeKernel::run() {
  while (running_.load(std::memory_order_relaxed)) {
    step();
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}

std::string FakeKernel::take(const std::string& rel) {
  const std::string s = trim(fs_.read(rel));
  // Empty the file before acting, so the writer, which waits for the effect,
  // can never have its next write wiped by this truncation.
  if (complete_bdf(s)) fs_.write(rel, "");
  return s;
}

void FakeKernel::probe(const std::string& bdf, const std::string& driver) {
  if (!fs_.exists("bus/pci/drivers/" + driver)) {
    std::lock_guard<std::mutex> lock(log_mutex_);
    log_.push_back("probe " + bdf + ": no driver " + driver);
    return;
  }
  if (driver == "vfio-pci" && !fs_.group_of(bdf)) {
    if (trim(fs_.read("module/vfio/parameters/enable_unsafe_noiommu_mode")) != "Y") {
      std::lock_guard<std::mutex> lock(log_mutex_);
      log_.push_back("vfio-pci " + bdf + ": refused, no IOMMU group");
      return;
    }
    const unsigned g = next_noiommu_group_++;
    fs_.add_group(g, "vfio-noiommu");
    fs_.link_group(bdf, g);
  }
  fs_.link_driver(bdf, driver);
  std::lock_guard<std::mutex> lock(log_mutex_);
  log_.push_back("bind " + bdf + " " + driver);
}

void FakeKernel::step() {
  namespace fs = std::filesystem;
  if (auto bdf = take("bus/pci/drivers_probe"); complete_bdf(bdf)) {
    if (!fs_.driver_of(bdf)) {
      std::string ov = trim(fs_.read("bus/pci/devices/" + bdf + "/driver_override"));
      if (ov.empty() || ov == "(null)") ov = native_.count(bdf) ? native_[bdf] : "";
      if (!ov.empty()) probe(bdf, ov);
    }
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs_.root() + "/bus/pci/drivers", ec)) {
    const std::string drv = entry.path().filename().string();
    if (auto bdf = take("bus/pci/drivers/" + drv + "/unbind"); complete_bdf(bdf)) {
      if (fs_.driver_of(bdf) == drv) {
        fs_.unlink_driver(bdf);
        std::lock_guard<std::mutex> lock(log_mutex_);
        log_.push_back("unbind " + bdf + " " + drv);
      }
    }
    if (auto bdf = take("bus/pci/drivers/" + drv + "/bind"); complete_bdf(bdf)) {
      if (!fs_.driver_of(bdf)) probe(bdf, drv);
    }
  }
}

}  // namespace vpmd_test
