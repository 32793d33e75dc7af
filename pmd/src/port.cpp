// Port lifecycle: open (probe, VFIO, negotiate, read config), queue setup,
// start (queues, DRIVER_OK, path selection, RX fill, bind bursts), stop
// (reset, every packet back to its pool), stats.
#include "vpmd/port.hpp"

#include <chrono>
#include <mutex>

#include "port_queues.hpp"
#include "vpmd/pmd/net_spec.hpp"
#include "vpmd/pmd/path_select.hpp"
#include "vpmd/pmd/pci_transport.hpp"
#include "vpmd/pmd/vhost_user.hpp"

namespace vpmd {

using namespace vpmd::pmd;

struct Port::Impl {
  PortConfig cfg;
  std::unique_ptr<VirtioDevice> dev;
  std::vector<RxSetup> rx_setup;
  std::vector<TxSetup> tx_setup;
  std::vector<std::unique_ptr<QueueHolder>> rxq, txq;
  PathChoice path;
  bool needs_renegotiation = false;
  // The device went away under a started port (vhost-user back end gone):
  // link_up() brings the port back when it returns.
  bool resume = false;
  std::chrono::steady_clock::time_point next_attempt{};
  uint64_t link_down_events = 0, reconnects = 0;
  // Counters of queues a restart replaced: the port's figures stay
  // cumulative over stop/start and reconnects, as DPDK's ethdev stats do.
  std::vector<QueueStats> rx_before, tx_before;
};

namespace {
void accumulate(QueueStats& into, const QueueStats& s) {
  into.packets += s.packets;
  into.bytes += s.bytes;
  into.errors += s.errors;
  into.missed += s.missed;
  into.refill_failures += s.refill_failures;
  into.kicks += s.kicks;
  into.renotifies += s.renotifies;
}
}  // namespace

namespace {

uint16_t rx_stopped(void*, Packet**, uint16_t) noexcept { return 0; }
uint16_t tx_stopped(void*, Packet* const*, uint16_t) noexcept { return 0; }

// One VFIO container per process while any port uses it: every PCI port
// shares one IOMMU context, so one packet pool serves them all.
Result<std::shared_ptr<VfioContainer>> shared_container() {
  static std::mutex m;
  static std::weak_ptr<VfioContainer> current;
  std::lock_guard lock(m);
  if (auto c = current.lock()) return c;
  auto c = VfioContainer::open();
  if (!c) return c.error();
  current = *c;
  return *c;
}

uint64_t wanted_features(const PortConfig& c) {
  uint64_t f = net_feature::version_1 | net_feature::mac | net_feature::status | net_feature::mtu |
               net_feature::any_layout;
  if (c.packed) f |= net_feature::ring_packed;
  if (c.in_order) f |= net_feature::in_order;
  if (c.mergeable) f |= net_feature::mrg_rxbuf;
  if (c.event_idx) f |= net_feature::event_idx;
  if (c.indirect) f |= net_feature::indirect_desc;
  return f;
}

}  // namespace

Port::Port(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Port::~Port() { stop(); }

// The transport a spec names: "vhost-user:..." or "pci:BDF" (or a bare BDF).
// vhost-user knobs override the PortConfig fields of the same meaning.
static Result<std::unique_ptr<Transport>> open_transport(std::string_view spec, PortConfig& cfg) {
  if (spec.starts_with("vhost-user:")) {
    auto a = parse_vhost_user_args(spec.substr(11));
    if (!a) return a.error();
    if (a->queues != 1)
      return make_error(ENOTSUP, "vhost-user: multi-queue is not available yet: use queues=1");
    cfg.packed = a->packed.value_or(cfg.packed);
    cfg.in_order = a->in_order.value_or(cfg.in_order);
    cfg.mergeable = a->mrg_rxbuf.value_or(cfg.mergeable);
    cfg.event_idx = a->event_idx.value_or(cfg.event_idx);
    return open_vhost_user_transport(*a);
  }
  std::string_view bdf = spec;
  if (bdf.substr(0, 4) == "pci:") bdf.remove_prefix(4);
  auto container = shared_container();
  if (!container) return container.error();
  return open_pci_transport(std::string(bdf), *container);
}

Result<std::unique_ptr<Port>> Port::open(std::string_view spec, const PortConfig& config) {
  if (config.rx_queues != 1 || config.tx_queues != 1)
    return make_error(ENOTSUP, "multi-queue (MQ/RSS) is not available yet: use rx_queues = tx_queues = 1");
  PortConfig cfg = config;
  auto t = open_transport(spec, cfg);
  if (!t) return t.error();
  auto dev = VirtioDevice::init(std::move(*t), wanted_features(cfg), net_feature::mac);
  if (!dev) return dev.error();
  if ((*dev)->transport().legacy() && !(*dev)->has(net_feature::any_layout)) {
    (*dev)->fail();
    return make_error(ENOTSUP, "legacy device without ANY_LAYOUT: its header must be a separate descriptor, "
                               "which vpmd does not do");
  }
  auto impl = std::make_unique<Impl>();
  impl->cfg = cfg;
  impl->dev = std::move(*dev);
  impl->rx_setup.resize(cfg.rx_queues);
  impl->tx_setup.resize(cfg.tx_queues);
  auto port = std::unique_ptr<Port>(new Port(std::move(impl)));
  VirtioDevice& d = *port->impl_->dev;
  if (auto r = d.transport().read_config(net_config::mac, port->mac_.data(), 6); !r) return r.error();
  if (d.has(net_feature::mtu)) {
    auto m = d.config<uint16_t>(net_config::mtu);
    if (m) port->mtu_ = *m;
  }
  port->rx_.assign(cfg.rx_queues, {&rx_stopped, nullptr});
  port->tx_.assign(cfg.tx_queues, {&tx_stopped, nullptr});
  return port;
}

IovaMapper& Port::dma_mapper() { return impl_->dev->transport().mapper(); }

static Result<uint16_t> pick_size(Transport& t, uint16_t queue, uint16_t wanted, bool packed) {
  const uint16_t max = t.queue_max_size(queue);
  if (max == 0) return make_error(ENOENT, "device has no queue " + std::to_string(queue));
  if (t.legacy()) {  // the device fixes legacy queue sizes (§4.1.4.8)
    if (wanted != 0 && wanted != max)
      return make_error(EINVAL, "this legacy device fixes queue " + std::to_string(queue) + " at " + std::to_string(max) +
                                    " entries: ask for 0 or " + std::to_string(max));
    return max;
  }
  const uint16_t size = wanted == 0 ? std::min<uint16_t>(max, 1024) : wanted;
  if (size > max)
    return make_error(EINVAL, "ring size " + std::to_string(size) + " exceeds the device's maximum " + std::to_string(max));
  if (!ring::valid_queue_size(packed ? ring::RingKind::packed : ring::RingKind::split, size))
    return make_error(EINVAL, "ring size " + std::to_string(size) + " is not a power of two (split rings, virtio-v1.2 §2.7)");
  return size;
}

Result<void> Port::rx_queue_setup(uint16_t q, uint16_t ring_size, PacketPool& pool, PacketPool::Cache* cache) {
  if (started_) return make_error(EBUSY, "stop the port before setting up queues");
  if (q >= impl_->rx_setup.size()) return make_error(EINVAL, "no RX queue " + std::to_string(q));
  if (pool.mapper() != &dma_mapper())
    return make_error(EINVAL, "pool '" + pool.name() + "' was not created with this port's dma_mapper(): "
                              "its IOVAs would mean nothing to the device");
  VirtioDevice& d = *impl_->dev;
  auto size = pick_size(d.transport(), rx_queue_index(q), ring_size, d.has(net_feature::ring_packed));
  if (!size) return size.error();
  if (pool.capacity() <= *size)
    return make_error(EINVAL, "pool of " + std::to_string(pool.capacity()) + " packets cannot fill an RX ring of " +
                                  std::to_string(*size) + ": give it at least ring size + bursts in flight + caches");
  if (pool.headroom() < net_hdr_size(d.features()))
    return make_error(EINVAL, "pool headroom is smaller than the virtio-net header");
  if (cache != nullptr && cache->pool() != &pool)
    return make_error(EINVAL, "the cache given for RX queue " + std::to_string(q) + " belongs to another pool");
  impl_->rx_setup[q] = {*size, &pool, cache};
  return {};
}

Result<void> Port::tx_queue_setup(uint16_t q, uint16_t ring_size, PacketPool* free_pool, PacketPool::Cache* cache) {
  if (started_) return make_error(EBUSY, "stop the port before setting up queues");
  if (q >= impl_->tx_setup.size()) return make_error(EINVAL, "no TX queue " + std::to_string(q));
  VirtioDevice& d = *impl_->dev;
  auto size = pick_size(d.transport(), tx_queue_index(q), ring_size, d.has(net_feature::ring_packed));
  if (!size) return size.error();
  if (cache != nullptr && (free_pool == nullptr || cache->pool() != free_pool))
    return make_error(EINVAL, "the cache given for TX queue " + std::to_string(q) + " is not a cache of its free_pool");
  impl_->tx_setup[q] = {*size, free_pool, true, cache};
  return {};
}

Result<void> Port::start() {
  if (started_) return {};
  Impl& m = *impl_;
  VirtioDevice& d = *m.dev;
  Transport& t = d.transport();
  for (size_t q = 0; q < m.rx_setup.size(); ++q)
    if (m.rx_setup[q].pool == nullptr) return make_error(EINVAL, "RX queue " + std::to_string(q) + " is not set up");
  for (size_t q = 0; q < m.tx_setup.size(); ++q)
    if (!m.tx_setup[q].configured) return make_error(EINVAL, "TX queue " + std::to_string(q) + " is not set up");
  if (m.needs_renegotiation)
    if (auto r = d.renegotiate(); !r) return r;

  m.path = select_path({.features = d.features(), .cpu = detect_cpu(), .allow_in_order = m.cfg.in_order,
                        .max_simd = m.cfg.max_simd});
  QueueParams p{.features = d.features(),
                .layout = t.legacy() ? ring::LayoutKind::legacy : ring::LayoutKind::modern,
                .hdr_size = static_cast<uint16_t>(net_hdr_size(d.features())),
                .port_id = m.cfg.port_id, .queue_id = 0, .numa_node = m.cfg.numa_node,
                .suppress_interrupts = t.name() == "vhost-user"};
  auto fail = [&](Error e) -> Result<void> {
    d.fail();
    (void)t.reset();
    m.needs_renegotiation = true;
    for (auto& h : m.rxq) h->detach();
    m.rxq.clear();
    m.txq.clear();
    return e;
  };
  m.rx_before.resize(m.rx_setup.size());
  m.tx_before.resize(m.tx_setup.size());
  for (size_t q = 0; q < m.rxq.size(); ++q) accumulate(m.rx_before[q], m.rxq[q]->stats());
  for (size_t q = 0; q < m.txq.size(); ++q) accumulate(m.tx_before[q], m.txq[q]->stats());
  m.rxq.clear();
  m.txq.clear();
  for (uint16_t q = 0; q < m.rx_setup.size(); ++q) {
    p.queue_id = q;
    auto h = make_rx_queue(m.path.kind, m.path.policy, t.mapper(), p, m.rx_setup[q]);
    if (!h) return fail(h.error());
    if (auto r = t.setup_queue(rx_queue_index(q), (*h)->size(), (*h)->areas(), -1); !r) return fail(r.error());
    auto db = t.doorbell(rx_queue_index(q));
    if (!db) return fail(db.error());
    (*h)->set_doorbell(*db);
    m.rxq.push_back(std::move(*h));
  }
  for (uint16_t q = 0; q < m.tx_setup.size(); ++q) {
    p.queue_id = q;
    auto h = make_tx_queue(m.path.kind, m.path.policy, t.mapper(), p, m.tx_setup[q]);
    if (!h) return fail(h.error());
    if (auto r = t.setup_queue(tx_queue_index(q), (*h)->size(), (*h)->areas(), -1); !r) return fail(r.error());
    auto db = t.doorbell(tx_queue_index(q));
    if (!db) return fail(db.error());
    (*h)->set_doorbell(*db);
    m.txq.push_back(std::move(*h));
  }
  if (auto r = d.driver_ok(); !r) return fail(r.error());
  for (auto& h : m.rxq) h->prime();
  for (size_t q = 0; q < m.rxq.size(); ++q) rx_[q] = {m.path.ops.rx, m.rxq[q]->state()};
  for (size_t q = 0; q < m.txq.size(); ++q) tx_[q] = {m.path.ops.tx, m.txq[q]->state()};
  started_ = true;
  return {};
}

void Port::bind_stubs() {
  for (auto& e : rx_) e = {&rx_stopped, nullptr};
  for (auto& e : tx_) e = {&tx_stopped, nullptr};
}

void Port::stop() {
  if (!impl_) return;
  impl_->resume = false;
  if (!started_) return;
  bind_stubs();
  Impl& m = *impl_;
  (void)m.dev->transport().reset();  // the device stops touching our memory first
  for (auto& h : m.rxq) h->detach();
  for (auto& h : m.txq) h->detach();
  m.needs_renegotiation = true;
  started_ = false;
}

QueueStats Port::rx_stats(uint16_t q) const {
  QueueStats s = q < impl_->rx_before.size() ? impl_->rx_before[q] : QueueStats{};
  if (q < impl_->rxq.size()) accumulate(s, impl_->rxq[q]->stats());
  return s;
}
QueueStats Port::tx_stats(uint16_t q) const {
  QueueStats s = q < impl_->tx_before.size() ? impl_->tx_before[q] : QueueStats{};
  if (q < impl_->txq.size()) accumulate(s, impl_->txq[q]->stats());
  return s;
}

std::vector<std::pair<std::string, uint64_t>> Port::xstats() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  auto add = [&](const std::string& pfx, const QueueStats& s) {
    out.emplace_back(pfx + "packets", s.packets);
    out.emplace_back(pfx + "bytes", s.bytes);
    out.emplace_back(pfx + "errors", s.errors);
    out.emplace_back(pfx + "missed", s.missed);
    out.emplace_back(pfx + "refill_failures", s.refill_failures);
    out.emplace_back(pfx + "kicks", s.kicks);
    out.emplace_back(pfx + "renotifies", s.renotifies);
  };
  for (uint16_t q = 0; q < impl_->rxq.size(); ++q) add("rx_q" + std::to_string(q) + "_", rx_stats(q));
  for (uint16_t q = 0; q < impl_->txq.size(); ++q) add("tx_q" + std::to_string(q) + "_", tx_stats(q));
  out.emplace_back("link_down_events", impl_->link_down_events);
  out.emplace_back("reconnects", impl_->reconnects);
  return out;
}

std::string Port::queue_state() const {
  std::string s = "device status 0x";
  const uint8_t st = impl_->dev->transport().status();
  s += "0123456789abcdef"[st >> 4];
  s += "0123456789abcdef"[st & 15];
  s += "\n";
  for (size_t q = 0; q < impl_->rxq.size(); ++q) s += "rx" + std::to_string(q) + ": " + impl_->rxq[q]->ring_state() + "\n";
  for (size_t q = 0; q < impl_->txq.size(); ++q) s += "tx" + std::to_string(q) + ": " + impl_->txq[q]->ring_state() + "\n";
  return s;
}

void Port::lose_device() {
  Impl& m = *impl_;
  bind_stubs();
  ++m.link_down_events;
  // The back end is gone, so nothing touches the rings any more: every
  // posted and in-flight packet goes back to its pool now.
  (void)m.dev->transport().reset();
  for (auto& h : m.rxq) h->detach();
  for (auto& h : m.txq) h->detach();
  m.needs_renegotiation = true;
  started_ = false;
  m.resume = true;
}

void Port::try_resume() {
  Impl& m = *impl_;
  const auto now = std::chrono::steady_clock::now();
  if (now < m.next_attempt) return;
  m.next_attempt = now + std::chrono::milliseconds(100);
  auto back = m.dev->transport().reconnect();
  if (!back || !*back) return;
  if (start()) {  // §3.1.1 again: renegotiate, new rings, DRIVER_OK, RX filled
    ++m.reconnects;
    m.resume = false;
  }
}

void Port::upkeep(bool tx_queues) {
  Impl& m = *impl_;
  if (!m.dev->transport().alive()) {
    if (started_) lose_device();
    if (m.resume) try_resume();
  }
  if (!started_ || !tx_queues) return;
  for (auto& h : m.txq) h->upkeep();
}

void Port::tx_upkeep(uint16_t q) {
  if (started_ && q < impl_->txq.size()) impl_->txq[q]->upkeep();
}

bool Port::link_up() {
  VirtioDevice& d = *impl_->dev;
  upkeep();
  if (!started_ && !d.transport().alive()) return false;
  if (!d.has(net_feature::status)) return true;
  auto s = d.config<uint16_t>(net_config::status);
  return s && (*s & net_config::status_link_up);
}

uint64_t Port::features() const { return impl_->dev->features(); }
std::string Port::features_string() const { return feature_names(impl_->dev->features()); }
std::string Port::path() const { return impl_->path.describe(); }
std::string Port::transport() const { return std::string(impl_->dev->transport().name()); }

}  // namespace vpmd
