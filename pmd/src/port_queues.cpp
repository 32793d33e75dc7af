#include "port_queues.hpp"

#include "vpmd/pmd/net_spec.hpp"

namespace vpmd::pmd {

namespace {

// Ring memory for one queue. TX rings get indirect tables for multi-segment
// packets when INDIRECT_DESC is negotiated, and one header slot per ring id
// for packets without headroom, all in the ring's own hugepage.
template <class Ring>
struct RingAndMemory {
  QueueMemory mem;
  Ring ring;
  size_t hdr_off = 0;  // TX header slots, from the start of the memory
};

template <class Ring>
Result<RingAndMemory<Ring>> make_ring(IovaMapper& mapper, const QueueParams& p, uint16_t size, bool tx) {
  ring::RingConfig cfg{.size = size, .features = p.features, .layout = p.layout,
                       .indirect_entries = uint16_t(tx ? 8 : 0)};
  const size_t hdr_bytes = tx ? size_t{size} * p.hdr_size : 0;
  auto total = [&] { return ring::align_up(Ring::layout_for(cfg).total, 64) + hdr_bytes; };
  if (total() > (2u << 20)) cfg.indirect_entries = 0;
  if (total() > (2u << 20)) return make_error(EINVAL, "ring of " + std::to_string(size) + " does not fit one 2 MiB page");
  const size_t hdr_off = ring::align_up(Ring::layout_for(cfg).total, 64);
  auto mem = make_queue_memory(mapper, total(), p.numa_node);
  if (!mem) return mem.error();
  auto r = Ring::create(cfg, mem->ring);
  if (!r) return r.error();
  // A polling driver takes no interrupts: asking the device not to send
  // them (§2.7.10 NO_INTERRUPT / used_event, §2.8.10 DISABLE) spares a
  // vhost-user back end an eventfd write per used batch (see QueueParams).
  if (p.suppress_interrupts) r->disable_interrupts();
  return RingAndMemory<Ring>{std::move(*mem), std::move(*r), hdr_off};
}

template <class Ring>
std::string describe(const Ring& r) {
  return "size=" + std::to_string(r.size()) + " free=" + std::to_string(r.free_descriptors()) +
         " in_flight=" + std::to_string(r.in_flight()) + " broken=" + std::string(ring::to_string(r.broken())) + " " +
         r.shared_state();
}

template <class Ring>
struct RxHolder final : QueueHolder {
  RxHolder(QueueMemory m, Ring r) : mem(std::move(m)), q(std::move(r)) {}
  QueueMemory mem;
  std::unique_ptr<PacketPool::Cache> cache;
  simd::RxQueue<Ring> q;

  void* state() override { return &q; }
  ring::RingAreas areas() const override { return q.ring.areas(); }
  uint16_t size() const override { return q.ring.size(); }
  void set_doorbell(const simd::Doorbell& d) override { q.doorbell = d; }
  void prime() override {
    const uint16_t t = q.refill_threshold;
    q.refill_threshold = 1;
    simd::rx_refill(q);
    q.refill_threshold = t;
  }
  void detach() override {
    for (Packet* p = q.partial; p != nullptr;) {  // a mergeable packet cut short
      Packet* next = p->next;
      p->next = nullptr;
      p->nb_segs = 1;
      q.pool->free(p, cache.get());  // see below
      p = next;
    }
    q.partial = q.partial_tail = nullptr;
    q.partial_left = 0;
    // Only the queue's own cache: a caller's cache belongs to the polling
    // thread, and stop() may run on another one.
    q.ring.detach_all([this](Packet* p) { q.pool->free(p, cache.get()); });
  }
  const simd::QueueStats& stats() const override { return q.stats; }
  std::string ring_state() const override { return describe(q.ring); }
};

template <class Ring>
struct TxHolder final : QueueHolder {
  TxHolder(QueueMemory m, Ring r) : mem(std::move(m)), q(std::move(r)) {}
  QueueMemory mem;
  std::unique_ptr<PacketPool::Cache> cache;
  simd::TxQueue<Ring> q;
  simd::TxWatchdog watchdog;

  void* state() override { return &q; }
  ring::RingAreas areas() const override { return q.ring.areas(); }
  uint16_t size() const override { return q.ring.size(); }
  void set_doorbell(const simd::Doorbell& d) override { q.doorbell = d; }
  void detach() override {
    q.ring.detach_all([](Packet* p) { p->pool->free(p); });
  }
  void upkeep() override { watchdog.upkeep(q); }
  const simd::QueueStats& stats() const override { return q.stats; }
  std::string ring_state() const override { return describe(q.ring); }
};

template <class Ring>
Result<std::unique_ptr<QueueHolder>> rx_for(IovaMapper& mapper, const QueueParams& p, const RxSetup& s,
                                            uint16_t refill_batch) {
  auto r = make_ring<Ring>(mapper, p, s.size, false);
  if (!r) return r.error();
  auto h = std::make_unique<RxHolder<Ring>>(std::move(r->mem), std::move(r->ring));
  auto& q = h->q;
  q.pool = s.pool;
  if (s.cache == nullptr && s.pool->cache_size() != 0) {
    auto c = s.pool->make_cache();
    if (!c) return c.error();
    h->cache = std::move(*c);
  }
  q.cache = s.cache != nullptr ? s.cache : h->cache.get();
  q.hdr_size = p.hdr_size;
  q.post_off = static_cast<uint16_t>(s.pool->headroom() - p.hdr_size);
  q.post_len = static_cast<uint32_t>(s.pool->data_room()) + p.hdr_size;
  q.mergeable = (p.features & net_feature::mrg_rxbuf) != 0;
  q.guest_csum = (p.features & net_feature::guest_csum) != 0;
  // Refill once refill_batch buffers are used (make_rx_queue).
  q.refill_threshold = static_cast<uint16_t>(std::max(1, std::min<int>(refill_batch, s.size / 2)));
  q.port_id = p.port_id;
  q.queue_id = p.queue_id;
  return std::unique_ptr<QueueHolder>(std::move(h));
}

template <class Ring>
Result<std::unique_ptr<QueueHolder>> tx_for(IovaMapper& mapper, const QueueParams& p, const TxSetup& s) {
  auto r = make_ring<Ring>(mapper, p, s.size, true);
  if (!r) return r.error();
  const size_t hdr_off = r->hdr_off;
  auto h = std::make_unique<TxHolder<Ring>>(std::move(r->mem), std::move(r->ring));
  auto& q = h->q;
  q.hdr_slots = h->mem.ring.va + hdr_off;
  q.hdr_slots_iova = h->mem.ring.iova + hdr_off;
  q.hdr_size = p.hdr_size;
  // Once fewer than 32 descriptors are free, each burst reaps a few
  // completions (tx_burst.hpp). Doing so once made qemu_fwd_pair_legacy_split
  // stall now and then: QEMU 7.2 can miss a notification, and the watchdog
  // (tx_watchdog.hpp, run by Port::upkeep) now notifies it again.
  q.reclaim_threshold = static_cast<uint16_t>(std::max(1, std::min(32, s.size / 4)));
  if (s.cache == nullptr && s.free_pool != nullptr && s.free_pool->cache_size() != 0) {
    auto c = s.free_pool->make_cache();
    if (!c) return c.error();
    h->cache = std::move(*c);
  }
  q.free_pool = s.free_pool;
  q.cache = s.cache != nullptr ? s.cache : h->cache.get();
  return std::unique_ptr<QueueHolder>(std::move(h));
}

}  // namespace

Result<std::unique_ptr<QueueHolder>> make_rx_queue(ring::RingKind kind, simd::Policy policy, IovaMapper& mapper,
                                                   const QueueParams& p, const RxSetup& s) {
  // Policy::vector runs on the any-order rings, like Policy::scalar.
  const bool io = policy == simd::Policy::in_order;
  // The RX refill waits for 8 used buffers. At full rate that is every
  // burst anyway; with one frame in flight (ping-pong) it keeps 7 round trips
  // in 8 free of refill work, without the step that a 32-buffer refill every
  // 32nd packet puts near p97 (DPDK's virtio RX refills on every burst). It
  // was 32 for a while as a suspect in a QEMU legacy-device stall; the stall
  // came back without it (see the TX reclaim threshold below).
  // The split vector path waits for 32, as DPDK's split vector RX rearms
  // (RTE_VIRTIO_VPMD_RX_REARM_THRESH): against DPDK's vhost back end,
  // whose bursts do not always fill ours, fewer refills (each an avail->idx
  // store the back end's core reads back, and a full barrier before the
  // notification check) took the front end's busy cycles per packet from
  // 29.9-34.6 to 24.0-28.3 in good rounds (vpmd-fwd rxonly, 8 rounds, A/B
  // in one go); ping-pong p99.9 rose by 100-300 ns, still a quarter of
  // DPDK's there. The packed vector path showed no such gain and keeps 8.
  const uint16_t batch = policy == simd::Policy::vector && kind == ring::RingKind::split ? 32 : 8;
  if (kind == ring::RingKind::split)
    return io ? rx_for<simd::SplitInOrder>(mapper, p, s, batch) : rx_for<simd::SplitAny>(mapper, p, s, batch);
  return io ? rx_for<simd::PackedInOrder>(mapper, p, s, batch) : rx_for<simd::PackedAny>(mapper, p, s, batch);
}

Result<std::unique_ptr<QueueHolder>> make_tx_queue(ring::RingKind kind, simd::Policy policy, IovaMapper& mapper,
                                                   const QueueParams& p, const TxSetup& s) {
  // Policy::vector runs on the any-order rings, like Policy::scalar.
  const bool io = policy == simd::Policy::in_order;
  if (kind == ring::RingKind::split) return io ? tx_for<simd::SplitInOrder>(mapper, p, s) : tx_for<simd::SplitAny>(mapper, p, s);
  return io ? tx_for<simd::PackedInOrder>(mapper, p, s) : tx_for<simd::PackedAny>(mapper, p, s);
}

}  // namespace vpmd::pmd
