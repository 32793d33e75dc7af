#pragma once
// What every model device queue shares: its configuration (what a driver hands
// to the transport), the chain a device pops, counters, and the DeviceQueue
// concept that SplitDevice and PackedDevice both satisfy.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace vpmd::model {

// Maps a driver-supplied IOVA range to host memory; nullptr when any byte of
// [iova, iova + len) is outside what the device may touch (a real IOMMU fault).
using Translate = std::function<std::byte*(std::uint64_t iova, std::uint32_t len)>;

// IOVA == VA. Rejects only the null page and ranges that wrap the address space.
Translate identity_translate();

// IOVA window [iova_base, iova_base + bytes) mapped at host address `base`;
// anything outside it translates to nullptr.
Translate window_translate(std::uint64_t iova_base, std::byte* base, std::size_t bytes);

struct QueueConfig {
  std::uint16_t size = 0;     // queue size; split: power of two; packed: any 1..32768 (0 means 32768 is NOT accepted)
  std::uint64_t desc = 0;     // split: descriptor table   | packed: descriptor ring
  std::uint64_t driver = 0;   // split: available ring     | packed: driver event suppression
  std::uint64_t device = 0;   // split: used ring          | packed: device event suppression
  std::uint64_t features = 0; // negotiated feature bits (INDIRECT_DESC 28, EVENT_IDX 29, RING_PACKED 34, IN_ORDER 35)
  Translate translate;        // how the device reaches memory
};

// One descriptor's buffer as the device sees it (after indirect expansion).
struct Segment {
  std::byte* data = nullptr;
  std::uint32_t len = 0;
  bool device_writable = false;
};

// One available buffer (virtio-v1.2 §2.6.4 "a buffer ... consists of zero or
// more device-readable elements followed by zero or more device-writable").
struct Chain {
  std::uint16_t id = 0;     // split: head descriptor index; packed: Buffer ID
  std::uint16_t descs = 0;  // descriptors the buffer occupies in the ring/table (an indirect buffer counts 1)
  std::uint64_t serial = 0; // n-th buffer this queue popped (0-based): the payload pattern's token
  std::vector<Segment> segs;

  std::uint64_t readable_bytes() const;
  std::uint64_t writable_bytes() const;
};

struct Counters {
  std::uint64_t kicks = 0;        // notify() calls: driver notifications the device saw
  std::uint64_t interrupts = 0;   // should_interrupt() answers that were true
  std::uint64_t consumed = 0;     // buffers popped
  std::uint64_t used = 0;         // buffers pushed used (published or not)
  std::uint64_t published = 0;    // publish() calls that made something visible
};

// The device side of one virtqueue.
template <class Q>
concept DeviceQueue = requires(Q q, const Q cq, const Chain& c, Chain& out, std::uint32_t n, bool b) {
  { q.pop_avail() } -> std::same_as<std::optional<Chain>>;
  { q.pop_avail(out) } -> std::same_as<bool>;          // allocation-free form: reuses out.segs
  { q.push_used(c, n) } -> std::same_as<void>;
  { q.publish() } -> std::same_as<void>;
  { q.should_interrupt() } -> std::same_as<bool>;
  { q.set_notifications(b) } -> std::same_as<void>;
  { q.set_in_order_batching(b) } -> std::same_as<void>;
  { q.notify() } -> std::same_as<void>;
  { cq.driver_error() } -> std::same_as<const std::string&>;
  { cq.model_error() } -> std::same_as<const std::string&>;
  { cq.counters() } -> std::same_as<const Counters&>;
  { cq.size() } -> std::same_as<std::uint16_t>;
  { cq.in_flight() } -> std::same_as<std::uint32_t>;
  { cq.pending() } -> std::same_as<std::uint32_t>;
  { cq.features() } -> std::same_as<std::uint64_t>;
};

}  // namespace vpmd::model
