// Runs inside the QEMU guest with both NICs bound to vfio-pci: the VFIO PCI
// transport (modern or legacy, type1 or no-IOMMU) takes QEMU's virtio-net-pci
// from reset to DRIVER_OK exactly as virtio-v1.2 §3.1.1 says, sets up every
// data queue as split and (when offered) packed rings, reads the device
// configuration, closes (device reset) and opens again; then bad input.
#include <linux/vfio.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>

#include "guest_check.hpp"
#include "vpmd/pmd/net_spec.hpp"
#include "vpmd/pmd/pci_transport.hpp"
#include "vpmd/pmd/virtio_device.hpp"
#include "vpmd/ring/packed_ring.hpp"
#include "vpmd/ring/split_ring.hpp"

using namespace vpmd;
using namespace vpmd::pmd;

namespace {

struct Tok {};

constexpr uint64_t kWanted = net_feature::mac | net_feature::status | net_feature::mtu | net_feature::mrg_rxbuf |
                             net_feature::event_idx | net_feature::indirect_desc | net_feature::version_1 |
                             net_feature::ring_packed;

template <class Ring>
Result<void> setup_data_queue(VirtioDevice& dev, uint16_t q, std::vector<QueueMemory>& keep, int vector) {
  Transport& t = dev.transport();
  const uint16_t max = t.queue_max_size(q);
  if (max == 0) return make_error(ENOENT, "queue " + std::to_string(q) + " missing");
  // Legacy devices fix the size; modern ones take any size up to the maximum.
  const uint16_t size = t.legacy() ? max : std::min<uint16_t>(max, 256);
  ring::RingConfig cfg{.size = size, .features = dev.features(),
                       .layout = t.legacy() ? ring::LayoutKind::legacy : ring::LayoutKind::modern};
  auto mem = make_queue_memory(t.mapper(), Ring::layout_for(cfg).total);
  if (!mem) return mem.error();
  auto r = Ring::create(cfg, mem->ring);
  if (!r) return r.error();
  if (auto s = t.setup_queue(q, size, r->areas(), vector); !s) return s;
  if (auto d = t.doorbell(q); !d) return d.error();
  keep.push_back(std::move(*mem));
  return {};
}

// Waits for MSI-X vector 0 (configuration change) and returns whether it fired.
bool wait_config_interrupt(Transport& t, int timeout_ms) {
  pollfd p{t.interrupt_fd(0), POLLIN, 0};
  if (p.fd < 0 || ::poll(&p, 1, timeout_ms) != 1) return false;
  uint64_t n = 0;
  return ::read(p.fd, &n, sizeof n) == sizeof n && n > 0;
}

// QEMU's monitor toggles the link (the harness relays the marker to QMP);
// the device raises a configuration-change interrupt and its status follows
// (virtio-v1.2 §5.1.4 VIRTIO_NET_S_LINK_UP, §4.1.5.3 config change).
void link_toggle(guest::Checker& c, VirtioDevice& d, const std::string& qemu_id, const std::string& tag) {
  for (bool up : {false, true}) {
    std::printf("VPMD-QMP: {\"execute\":\"set_link\",\"arguments\":{\"name\":\"%s\",\"up\":%s}}\n",
                qemu_id.c_str(), up ? "true" : "false");
    std::fflush(stdout);
    const bool irq = wait_config_interrupt(d.transport(), 20000);
    c.check(irq, tag + "config-change interrupt for link " + (up ? "up" : "down"));
    auto st = d.config<uint16_t>(net_config::status);
    c.check(st && ((*st & net_config::status_link_up) != 0) == up,
            tag + "status reads link " + (up ? "up" : "down") + " after set_link");
  }
}

// One full bring-up of `bdf`; returns the negotiated features (0 on failure).
uint64_t bring_up(guest::Checker& c, const std::string& bdf, std::shared_ptr<VfioContainer> container, int round,
                  const std::string& qemu_id) {
  const std::string tag = bdf + " round " + std::to_string(round) + ": ";
  auto t = open_pci_transport(bdf, container);
  if (!c.check_ok(t, tag + "VFIO open and transport probe")) return 0;
  const std::string tname(t.value()->name());
  const bool legacy = (*t)->legacy();
  c.check(legacy == (guest::guest_mode() == "legacy"), tag + "interface is " + tname + " in mode " + guest::guest_mode());
  auto dev = VirtioDevice::init(std::move(*t), kWanted);
  if (!c.check_ok(dev, tag + "reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK")) return 0;
  VirtioDevice& d = **dev;
  std::printf("# %s offered %s\n# %s negotiated %s\n", bdf.c_str(), feature_names(d.offered()).c_str(), bdf.c_str(),
              feature_names(d.features()).c_str());
  c.check(d.has(net_feature::mac), tag + "MAC negotiated");
  c.check(legacy != d.has(net_feature::version_1), tag + "VERSION_1 negotiated exactly on the modern interface");
  c.check((d.features() & ~(kWanted | net_feature::access_platform)) == 0, tag + "nothing negotiated that was not asked");
  if (guest::guest_mode() == "viommu") c.check(d.has(net_feature::access_platform), tag + "ACCESS_PLATFORM taken behind the vIOMMU");

  uint8_t mac[6];
  auto m = d.transport().read_config(net_config::mac, mac, 6);
  c.check_ok(m, tag + "read MAC from device config");
  char macs[32];
  std::snprintf(macs, sizeof macs, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  c.check(mac[0] == 0x52 && mac[1] == 0x54 && mac[2] == 0 && mac[3] == 0 && mac[4] == 0 && mac[5] >= 1,
          tag + "MAC is QEMU's 52:54:00:00:00:0N (" + macs + ")");
  if (d.has(net_feature::status)) {
    auto st = d.config<uint16_t>(net_config::status);
    c.check(st && (*st & net_config::status_link_up), tag + "status reads link up");
  }
  const uint16_t nq = d.transport().num_queues();
  c.check(nq >= 2, tag + "device has " + std::to_string(nq) + " queues (rx, tx at least)");

  // MSI-X: vector 0 for configuration changes, 1 and 2 for the queues.
  const bool irqs = round == 1;
  if (irqs) {
    c.check_ok(d.transport().setup_interrupts(3), tag + "MSI-X with 3 vectors through VFIO_DEVICE_SET_IRQS");
    c.check_ok(d.transport().set_config_vector(0), tag + "config change on vector 0");
  }
  std::vector<QueueMemory> mems;
  const bool packed = d.has(net_feature::ring_packed);
  for (uint16_t q : {rx_queue_index(0), tx_queue_index(0)}) {
    auto r = packed ? setup_data_queue<ring::PackedRing<ring::AnyOrder<Tok>>>(d, q, mems, irqs ? q + 1 : -1)
                    : setup_data_queue<ring::SplitRing<ring::AnyOrder<Tok>>>(d, q, mems, irqs ? q + 1 : -1);
    c.check_ok(r, tag + (packed ? "packed" : "split") + " queue " + std::to_string(q) + " set up");
  }
  c.check_ok(d.driver_ok(), tag + "DRIVER_OK accepted");
  c.check((d.transport().status() & status::driver_ok) != 0, tag + "status reads DRIVER_OK");
  c.check(!d.needs_reset(), tag + "no DEVICE_NEEDS_RESET");
  if (irqs && d.has(net_feature::status)) link_toggle(c, d, qemu_id, tag);
  const uint64_t f = d.features();
  dev->reset();  // close: the destructor resets the device
  return f;
}

void bad_input(guest::Checker& c, const std::vector<std::string>& nics, std::shared_ptr<VfioContainer> container) {
  auto missing = open_pci_transport("0000:00:1f.7", container);
  c.check(!missing && !missing.error().message.empty(), "no such device: " + (missing ? std::string("opened?!") : missing.error().message));
  auto bad = open_pci_transport("00:zz.9", container);
  c.check(!bad, "malformed BDF: " + (bad ? std::string("opened?!") : bad.error().message));
  auto bridge = open_pci_transport("0000:00:00.0", container);
  c.check(!bridge && bridge.error().message.find("not a virtio-net") != std::string::npos,
          "host bridge refused: " + (bridge ? std::string("opened?!") : bridge.error().message));

  // A device not bound to vfio-pci: take NIC 1 off its driver, try, give it back.
  const std::string sys = "/sys/bus/pci/devices/" + nics[1];
  std::ofstream(sys + "/driver/unbind") << nics[1] << std::flush;
  auto unbound = open_pci_transport(nics[1], container);
  c.check(!unbound && unbound.error().message.find("not vfio-pci") != std::string::npos,
          "device without vfio-pci refused: " + (unbound ? std::string("opened?!") : unbound.error().message));
  std::ofstream("/sys/bus/pci/drivers_probe") << nics[1] << std::flush;  // driver_override still says vfio-pci
  auto rebound = open_pci_transport(nics[1], container);
  c.check_ok(rebound, "rebound to vfio-pci and opened again");

  // A feature set the device refuses: require one it does not offer. The
  // device is left reset (status 0), and opens again afterwards.
  auto t = open_pci_transport(nics[0], container);
  if (!c.check_ok(t, "open for the refused-features check")) return;
  const uint64_t absent = net_feature::speed_duplex;  // QEMU 7.2 never offers it on a hubport
  auto dev = VirtioDevice::init(std::move(*t), kWanted | absent, absent);
  c.check(!dev && dev.error().message.find("SPEED_DUPLEX") != std::string::npos,
          "required feature not offered is refused: " + (dev ? std::string("accepted?!") : dev.error().message));
  auto again = open_pci_transport(nics[0], container);
  if (c.check_ok(again, "reopen after the refusal")) c.check((*again)->status() == 0, "device left reset (status 0)");
}

}  // namespace

int main() {
  guest::Checker c;
  const auto nics = guest::guest_nics();
  if (!c.check(nics.size() >= 2, "two NICs handed to the test (" + std::to_string(nics.size()) + ")")) return c.finish();
  auto container = VfioContainer::open();
  if (!c.check_ok(container, "VFIO container")) return c.finish();
  for (int round = 1; round <= 2; ++round)  // the second open after close must work as well
    for (size_t i = 0; i < nics.size(); ++i)
      c.check(bring_up(c, nics[i], *container, round, "nic" + std::to_string(i)) != 0,
              nics[i] + " round " + std::to_string(round) + " complete");
  bad_input(c, nics, *container);
  return c.finish();
}
