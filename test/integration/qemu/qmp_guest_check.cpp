// Guest side of the qemu_qmp_relay_* test: proves that a guest binary can have
// the host act on QEMU through QMP while it runs (run-guest's qmp-relay), and
// that the NIC's config change reaches the guest as a config interrupt.
//
// With the NICs on the kernel's virtio_pci/virtio_net (run-guest --bind none
// --modules 'virtio_pci virtio_net'), for NIC --nic N (QEMU id nicN, MAC
// 52:54:00:00:00:<N+1>): bring its interface up, ask QEMU for
// set_link nicN down, wait for carrier 0, then set_link up and wait for
// carrier 1. virtio-v1.2 §5.1.4.2: VIRTIO_NET_S_LINK_UP lives in the device
// configuration; a change of it is signalled by a configuration change
// notification (§4.1.5.2: the MSI-X config vector), which virtio_net answers
// by re-reading status and setting the carrier. The virtioN-config count in
// /proc/interrupts must grow at each step.
//
// usage (in the guest): qmp_guest_check [--nic N] [--timeout-ms MS]
// Exit 0 when every check passed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int failures = 0;

void expect(bool ok, const std::string& what) {
  std::cout << (ok ? "  ok    " : "  FAIL  ") << what << std::endl;
  if (!ok) ++failures;
}

std::string read_trimmed(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);  // an empty string when unreadable (carrier of a down link)
  return s;
}

// run-guest gives NIC n the MAC 52:54:00:00:00:<n+1>; the interface is the one
// with that address.
std::string interface_of_nic(int nic) {
  char mac[32];
  std::snprintf(mac, sizeof mac, "52:54:00:00:00:%02x", nic + 1);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/class/net", ec)) {
    if (read_trimmed(e.path() / "address") == mac) return e.path().filename().string();
  }
  return {};
}

// The virtio device behind an interface (e.g. "virtio1"): its config vector
// is named "<dev>-config" in /proc/interrupts.
std::string virtio_device_of(const std::string& ifname) {
  std::error_code ec;
  const fs::path dev = fs::canonical("/sys/class/net/" + ifname + "/device", ec);
  return ec ? std::string{} : dev.filename().string();
}

// Sum of the per-CPU counts on the /proc/interrupts line whose name is `name`;
// -1 when there is no such line (e.g. INTx instead of MSI-X).
long interrupt_count(const std::string& name) {
  std::ifstream in("/proc/interrupts");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string w, last;
    long sum = 0;
    words >> w;  // "NN:"
    while (words >> w) {
      if (!w.empty() && w.find_first_not_of("0123456789") == std::string::npos) {
        sum += std::strtol(w.c_str(), nullptr, 10);
      }
      last = w;
    }
    if (last == name) return sum;
  }
  return -1;
}

// The marker qmp-relay watches for; flushed at once so it leaves the guest now.
void ask_host(const std::string& json) { std::cout << "VPMD-QMP: " << json << std::endl; }

// Polls the carrier until it reads `want`; the time since t0, or -1 on timeout.
long wait_carrier(const std::string& ifname, const char* want, long timeout_ms,
                  Clock::time_point t0 = Clock::now()) {
  const fs::path carrier = "/sys/class/net/" + ifname + "/carrier";
  for (;;) {
    const long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    if (read_trimmed(carrier) == want) return ms;
    if (ms > timeout_ms) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool set_link_and_wait(const std::string& nic_id, const std::string& ifname, bool up,
                       const std::string& config_irq, long timeout_ms) {
  const long irq_before = interrupt_count(config_irq);
  const auto t0 = Clock::now();  // before the marker: the whole round trip
  ask_host(std::string(R"({"execute":"set_link","arguments":{"name":")") + nic_id +
           R"(","up":)" + (up ? "true" : "false") + "}}");
  const long ms = wait_carrier(ifname, up ? "1" : "0", timeout_ms, t0);
  const long irq_after = interrupt_count(config_irq);
  std::cout << "  set_link " << nic_id << (up ? " up" : " down") << ": carrier "
            << (up ? "1" : "0") << " after " << ms << " ms (guest-measured round trip), "
            << config_irq << " " << irq_before << " -> " << irq_after << std::endl;
  expect(ms >= 0, ifname + " carrier reads " + (up ? "1" : "0") + " after set_link " + nic_id +
                      (up ? " up" : " down"));
  expect(irq_after > irq_before, config_irq + " interrupt counted for set_link " + nic_id +
                                     (up ? " up" : " down"));
  return ms >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  int nic = 1;
  long timeout_ms = 20000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--nic" && i + 1 < argc) {
      nic = std::atoi(argv[++i]);
    } else if (a == "--timeout-ms" && i + 1 < argc) {
      timeout_ms = std::atol(argv[++i]);
    } else {
      std::cerr << "usage: qmp_guest_check [--nic N] [--timeout-ms MS]\n";
      return 2;
    }
  }
  const char* qmp = std::getenv("VPMD_GUEST_QMP");
  if (qmp == nullptr || std::string(qmp) != "1") {
    std::cout << "  FAIL  VPMD_GUEST_QMP=1 not set: run this under run-guest, whose qmp-relay "
                 "forwards VPMD-QMP lines"
              << std::endl;
    return 1;
  }
  const std::string nic_id = "nic" + std::to_string(nic);
  const std::string ifname = interface_of_nic(nic);
  expect(!ifname.empty(), "an interface has the MAC of " + nic_id +
                              " (needs --bind none --modules 'virtio_pci virtio_net')");
  if (ifname.empty()) return 1;
  const std::string config_irq = virtio_device_of(ifname) + "-config";
  std::cout << "  " << nic_id << " is " << ifname << ", config vector " << config_irq << std::endl;
  expect(interrupt_count(config_irq) >= 0, config_irq + " is in /proc/interrupts (MSI-X config vector)");

  // The carrier file is readable only while the interface is up.
  const std::string up_cmd = "ip link set " + ifname + " up";
  expect(std::system(up_cmd.c_str()) == 0, up_cmd);
  expect(wait_carrier(ifname, "1", timeout_ms) >= 0, ifname + " carrier is 1 before set_link");

  if (set_link_and_wait(nic_id, ifname, false, config_irq, timeout_ms)) {
    set_link_and_wait(nic_id, ifname, true, config_irq, timeout_ms);
  }
  std::cout << (failures == 0 ? "qmp_guest_check: all checks passed" : "qmp_guest_check: FAILED")
            << std::endl;
  return failures == 0 ? 0 : 1;
}
