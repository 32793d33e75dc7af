// The vhost-user front end as a Transport. The device layer runs virtio-v1.2
// §3.1.1 against it unchanged; this file maps each step onto messages
// (vhost-user.rst, "Starting and stopping rings"):
//
//   open        connect or accept, SET_OWNER, GET_FEATURES, protocol features
//   FEATURES_OK SET_FEATURES (only bits the back end offered)
//   setup_queue remembered with fresh kick and call eventfds
//   DRIVER_OK   SET_MEM_TABLE (every region mapped for the port), then per
//               ring CALL, NUM, BASE, ADDR, KICK; SET_VRING_ENABLE; SET_STATUS
//   reset       GET_VRING_BASE per started ring (the back end stops it)
//
// Emulated device parts, as DPDK's virtio-user does: MAC (a random locally
// administered address, fixed for the port's life) and STATUS (the link is
// the connection); CTRL_VQ, MQ, MTU and the like are never offered upward.
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <random>
#include <thread>

#include "vhost_user_channel.hpp"
#include "vhost_user_memory.hpp"
#include "vpmd/pmd/net_spec.hpp"
#include "vpmd/pmd/vfio.hpp"  // Fd
#include "vpmd/pmd/vhost_user.hpp"

namespace vpmd::pmd {

namespace {

using namespace vhost_user;

// What the back end may offer that we pass up to the device layer; the
// rest (control queue, MQ, MTU, announce, LOG_ALL) needs a device part a
// vhost-user back end does not serve.
constexpr uint64_t passed_up = net_feature::csum | net_feature::guest_csum | net_feature::mrg_rxbuf |
                               net_feature::any_layout | net_feature::indirect_desc | net_feature::event_idx |
                               net_feature::version_1 | net_feature::ring_packed | net_feature::in_order |
                               net_feature::guest_tso4 | net_feature::guest_tso6 | net_feature::host_tso4 |
                               net_feature::host_tso6;
// Emulated here.
constexpr uint64_t emulated = net_feature::mac | net_feature::status;
constexpr uint64_t wanted_protocol = protocol::reply_ack | protocol::status;

struct Vring {
  bool configured = false;  // setup_queue called since the last reset
  bool started = false;     // the back end knows it (owes us GET_VRING_BASE)
  uint16_t size = 0;
  ring::RingAreas areas;
  Fd kick, call;
};

std::array<uint8_t, 6> random_mac() {
  std::random_device rd;
  std::array<uint8_t, 6> m{};
  for (auto& b : m) b = static_cast<uint8_t>(rd());
  m[0] = static_cast<uint8_t>((m[0] & 0xfe) | 0x02);  // unicast, locally administered
  return m;
}

class VhostUserTransport final : public Transport {
 public:
  explicit VhostUserTransport(VhostUserArgs a) : args_(std::move(a)), mac_(random_mac()), vrings_(2u * args_.queues) {
    memory_.on_change = [this]() -> Result<void> {
      // A region mapped or unmapped while the rings run: the back end must
      // see the new table before any descriptor points into it.
      if (!(status_ & status::driver_ok) || !ch_.open()) return {};
      return send_mem_table();
    };
  }

  Result<void> connect_first() {
    if (args_.server) {
      auto l = Listener::create(args_.path);
      if (!l) return l.error();
      listener_ = std::move(*l);
      auto c = listener_.accept(std::chrono::seconds(args_.timeout_s));
      if (!c) return c.error();
      ch_ = std::move(*c);
    } else {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(args_.timeout_s);
      for (;;) {  // the back end may still be starting: retry until the timeout
        auto c = connect_to(args_.path);
        if (c) {
          ch_ = std::move(*c);
          break;
        }
        if (std::chrono::steady_clock::now() >= deadline) return c.error();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    return hello();
  }

  std::string_view name() const noexcept override { return "vhost-user"; }
  bool legacy() const noexcept override { return false; }

  Result<void> reset() override {
    Result<void> out;
    if (ch_.open()) {
      for (uint32_t i = 0; i < vrings_.size(); ++i) {
        if (!vrings_[i].started) continue;
        VringState st{i, 0}, got{};
        // The back end stops the ring and reports where it got to; after the
        // reply it no longer touches the ring (vhost-user.rst GET_VRING_BASE).
        if (auto r = ch_.call(Request::get_vring_base, &st, sizeof st, &got, sizeof got); !r && out) out = r;
      }
      if ((protocol_ & protocol::status) && ch_.open()) (void)ch_.send_u64(Request::set_status, 0);
    }
    for (Vring& v : vrings_) v = Vring{};
    status_ = 0;
    return out;
  }

  uint8_t status() override { return status_; }

  void set_status(uint8_t s) override {
    const uint8_t rising = static_cast<uint8_t>(s & ~status_);
    if (rising & status::features_ok) {
      const uint64_t f = driver_features_ | (backend_features_ & f_protocol_features);
      if (auto r = ch_.send_u64(Request::set_features, f); !r) {
        last_error_ = r.error().message;
        s = static_cast<uint8_t>(s & ~status::features_ok);  // FEATURES_OK does not stick (§3.1.1 step 6)
      }
    }
    if (rising & status::driver_ok) {
      if (auto r = start_rings(); !r) {
        last_error_ = r.error().message;
        s = static_cast<uint8_t>((s & ~status::driver_ok) | status::failed);
      }
    }
    if ((protocol_ & protocol::status) && ch_.open() && (rising & (status::driver_ok | status::failed)))
      if (auto r = ch_.send_u64(Request::set_status, s); !r) last_error_ = r.error().message;
    status_ = s;
  }

  uint64_t device_features() override {
    return ch_.open() ? (backend_features_ & passed_up) | emulated : 0;
  }
  void set_driver_features(uint64_t f) override { driver_features_ = f & backend_features_ & passed_up; }

  uint16_t num_queues() override { return static_cast<uint16_t>(vrings_.size()); }
  uint16_t queue_max_size(uint16_t q) override { return q < vrings_.size() ? 32768 : 0; }

  Result<void> setup_queue(uint16_t q, uint16_t size, const ring::RingAreas& areas, int) override {
    if (q >= vrings_.size()) return make_error(EINVAL, "vhost-user: no queue " + std::to_string(q));
    Vring v;
    v.size = size;
    v.areas = areas;
    v.kick = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    v.call = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!v.kick || !v.call) return make_error(errno, std::string("eventfd: ") + std::strerror(errno));
    v.configured = true;
    vrings_[q] = std::move(v);
    return {};
  }

  Result<Doorbell> doorbell(uint16_t q) override {
    if (q >= vrings_.size() || !vrings_[q].configured) return make_error(EINVAL, "vhost-user: queue not set up");
    Doorbell d;
    d.kind = Doorbell::Kind::eventfd;
    d.fd = vrings_[q].kick.get();
    d.queue = q;
    return d;
  }

  // Emulated configuration space (virtio-v1.2 §5.1.4): mac, status, pairs.
  Result<void> read_config(uint32_t off, void* buf, uint32_t len) override {
    std::array<uint8_t, 12> cfg{};
    std::memcpy(cfg.data() + net_config::mac, mac_.data(), 6);
    const uint16_t st = ch_.open() ? net_config::status_link_up : 0;
    std::memcpy(cfg.data() + net_config::status, &st, 2);
    std::memcpy(cfg.data() + net_config::max_virtqueue_pairs, &args_.queues, 2);
    if (off > cfg.size() || len > cfg.size() - off)
      return make_error(EINVAL, "vhost-user: config read at " + std::to_string(off) + "+" + std::to_string(len) +
                                    " is beyond the emulated mac/status/max_virtqueue_pairs");
    std::memcpy(buf, cfg.data() + off, len);
    return {};
  }
  Result<void> write_config(uint32_t, const void*, uint32_t) override {
    return make_error(EROFS, "vhost-user: the emulated configuration space is read-only");
  }
  Result<void> setup_interrupts(unsigned) override { return {}; }  // a polling driver: call fds stay quiet
  Result<void> set_config_vector(int) override { return {}; }
  IovaMapper& mapper() override { return memory_; }

  bool alive() override { return !ch_.peer_closed(); }

  Result<bool> reconnect() override {
    if (ch_.open()) return true;
    for (Vring& v : vrings_) v = Vring{};  // the back end that knew them is gone
    status_ = 0;
    if (args_.server) {
      auto c = listener_.accept(std::chrono::milliseconds(0));
      if (!c) return false;
      ch_ = std::move(*c);
    } else {
      auto c = connect_to(args_.path);
      if (!c) return false;
      ch_ = std::move(*c);
    }
    if (auto r = hello(); !r) {
      ch_.close();
      return r.error();
    }
    return true;
  }

  std::string last_error() const override { return last_error_; }

 private:
  // SET_OWNER and the feature handshake of a fresh connection.
  Result<void> hello() {
    if (auto r = ch_.send(Request::set_owner, nullptr, 0); !r) return r;
    auto f = ch_.get_u64(Request::get_features);
    if (!f) return f.error();
    backend_features_ = *f;
    protocol_ = 0;
    if (backend_features_ & f_protocol_features) {
      auto p = ch_.get_u64(Request::get_protocol_features);
      if (!p) return p.error();
      protocol_ = *p & wanted_protocol;
      if (auto r = ch_.send_u64(Request::set_protocol_features, protocol_); !r) return r;
      ch_.set_reply_ack((protocol_ & protocol::reply_ack) != 0);
    }
    if (!(backend_features_ & net_feature::version_1))
      return make_error(ENOTSUP, "vhost-user back end at " + args_.path + " does not offer VERSION_1");
    return {};
  }

  Result<void> send_mem_table() {
    const MemTable t = memory_.table();
    const std::vector<int> fds = memory_.fds();
    const auto size = static_cast<uint32_t>(offsetof(MemTable, regions) + t.nregions * sizeof(MemRegion));
    return ch_.send(Request::set_mem_table, &t, size, fds);
  }

  // DRIVER_OK: the back end learns the memory and the rings, then enables them.
  Result<void> start_rings() {
    if (!ch_.open()) return make_error(ENOTCONN, "vhost-user back end at " + args_.path + " is gone");
    if (memory_.size() == 0) return make_error(EINVAL, "vhost-user: no memory mapped for the back end");
    if (auto r = send_mem_table(); !r) return r;
    const bool packed = (driver_features_ & net_feature::ring_packed) != 0;
    for (uint32_t i = 0; i < vrings_.size(); ++i) {
      Vring& v = vrings_[i];
      if (!v.configured) continue;
      const uint64_t idx = i;
      const int call_fd = v.call.get(), kick_fd = v.kick.get();
      if (auto r = ch_.send_u64(Request::set_vring_call, idx, std::span(&call_fd, 1)); !r) return r;
      if (auto r = ch_.send_state(Request::set_vring_num, i, v.size); !r) return r;
      // A fresh ring: next avail index 0; packed rings start with the wrap
      // counter at 1 (virtio-v1.2 §2.8.1).
      if (auto r = ch_.send_state(Request::set_vring_base, i, packed ? packed_base(0, true) : 0); !r) return r;
      const VringAddr a{.index = i, .flags = 0, .desc_user_addr = v.areas.desc, .used_user_addr = v.areas.device,
                        .avail_user_addr = v.areas.driver, .log_guest_addr = 0};
      if (auto r = ch_.send(Request::set_vring_addr, &a, sizeof a); !r) return r;
      v.started = true;  // from here on the back end may own it: stop it with GET_VRING_BASE
      if (auto r = ch_.send_u64(Request::set_vring_kick, idx, std::span(&kick_fd, 1)); !r) return r;
    }
    // With protocol features negotiated rings start disabled (vhost-user.rst
    // "Ring states"); without, they are enabled by the kick fd already.
    if (backend_features_ & f_protocol_features)
      for (uint32_t i = 0; i < vrings_.size(); ++i)
        if (vrings_[i].configured)
          if (auto r = ch_.send_state(Request::set_vring_enable, i, 1); !r) return r;
    return {};
  }

  VhostUserArgs args_;
  std::array<uint8_t, 6> mac_;
  Listener listener_;
  Channel ch_;
  SharedMemory memory_;
  std::vector<Vring> vrings_;
  uint64_t backend_features_ = 0, driver_features_ = 0, protocol_ = 0;
  uint8_t status_ = 0;
  std::string last_error_;
};

}  // namespace

Result<std::unique_ptr<Transport>> open_vhost_user_transport(const VhostUserArgs& args) {
  auto t = std::make_unique<VhostUserTransport>(args);
  if (auto r = t->connect_first(); !r) return r.error();
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace vpmd::pmd
