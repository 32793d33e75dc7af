#pragma once
// What every virtqueue kind offers the burst code: the Virtqueue concept, the
// ring policies, and the small value types shared by SplitRing and PackedRing.
//
// The ring hands back the caller's tokens (e.g. Packet*) and owns no packet
// memory; it takes one block of DMA memory (VA + IOVA) and lays its areas out
// in it (layout.hpp). It knows nothing of PCI, VFIO or sockets: the transport
// reads areas() and rings the doorbell when needs_notify() says so.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "vpmd/mem/result.hpp"
#include "vpmd/ring/layout.hpp"

namespace vpmd::ring {

// Compile-time ring policy: the token type and whether IN_ORDER was negotiated
// (virtio-v1.2 §2.7.9, §2.8.9). In-order rings need no free list and accept
// batched completions; both facts are fixed at start, so they are template
// arguments, not runtime flags.
template <class P>
concept RingPolicy = requires {
  typename P::Token;
  { P::in_order } -> std::convertible_to<bool>;
} && std::is_pointer_v<typename P::Token>;

template <class T>
struct AnyOrder {
  using Token = T*;
  static constexpr bool in_order = false;
};
template <class T>
struct InOrder {
  using Token = T*;
  static constexpr bool in_order = true;
};

// One piece of a buffer as the device sees it (virtio-v1.2 §2.7.5, §2.8.13).
struct Segment {
  uint64_t iova = 0;
  uint32_t len = 0;
  bool device_writable = false;  // VIRTQ_DESC_F_WRITE
};

// The block of DMA memory a ring is laid out in. The caller owns it; the ring
// must not outlive it.
struct RingMemory {
  std::byte* va = nullptr;
  uint64_t iova = 0;
  size_t len = 0;
};

// Whether `mem` can hold a ring of layout `l`: big enough, and aligned (VA
// and IOVA) as the spec's strictest area asks (virtio-v1.2 §2.7, §2.8.10).
inline Result<void> check_ring_memory(const Layout& l, const RingMemory& mem) {
  if (mem.va == nullptr || mem.len < l.total)
    return make_error(EINVAL, "ring memory too small: need " + std::to_string(l.total) + " bytes, got " +
                                  std::to_string(mem.len));
  if (reinterpret_cast<uintptr_t>(mem.va) % l.alignment != 0 || mem.iova % l.alignment != 0)
    return make_error(EINVAL, "ring memory must be " + std::to_string(l.alignment) + "-byte aligned (VA and IOVA)");
  return {};
}

// IOVAs of the three areas, what the transport writes into queue_desc,
// queue_driver and queue_device (virtio-v1.2 §4.1.4.3), or as a legacy PFN.
struct RingAreas {
  uint64_t desc = 0;
  uint64_t driver = 0;
  uint64_t device = 0;
};

struct RingConfig {
  uint16_t size = 256;                    // queue size (split: power of two; packed: any), <= 32768
  uint64_t features = 0;                  // negotiated: INDIRECT_DESC, EVENT_IDX, RING_PACKED, ...
  LayoutKind layout = LayoutKind::modern; // legacy only for split rings
  uint16_t indirect_entries = 0;          // descriptors per indirect table; 0 disables indirect use
};

// Why a ring refused to go on. The device is not trusted: a value it wrote
// that the driver cannot account for stops the queue (no buffer is handed
// out again), and teardown still returns every token exactly once.
enum class Broken : uint8_t {
  none,
  used_idx_overrun,   // split: used->idx advanced past what is in flight
  bad_id,             // id out of range, or not a buffer in flight
  bad_len,            // len larger than the buffer's device-writable bytes
  bad_flags,          // packed: AVAIL/USED bits inconsistent with the wrap counters
};

constexpr std::string_view to_string(Broken b) {
  switch (b) {
    case Broken::none: return "ok";
    case Broken::used_idx_overrun: return "device advanced used idx past the buffers in flight (virtio-v1.2 §2.7.8)";
    case Broken::bad_id: return "device returned an id out of range or not in flight (virtio-v1.2 §2.7.8, §2.8.13)";
    case Broken::bad_len: return "device reported a used length larger than the buffer (virtio-v1.2 §2.7.8.1)";
    case Broken::bad_flags: return "device wrote packed descriptor flags inconsistent with the wrap counter (virtio-v1.2 §2.8.1)";
  }
  return "unknown";
}

// Batched access for a layer above (simd/'s vector burst kernels): a
// specialisation there reads the ring's shadows into a plain struct and
// writes them back, so per-ISA kernels can work on whole batches. Declared
// here only so that the rings can befriend it; the ring layer never uses it.
template <class Ring>
struct RingInternals;

// Result of a single-descriptor bulk add: the i-th buffer.
struct Single {
  uint64_t iova;
  uint32_t len;
};

// The rings' loops take a sink (reap_each) and a source (add_each) per
// buffer, so that a caller can do its per-buffer work inside them; these
// are the array ones behind reap() and add_singles().
template <class Token>
struct ArraySink {  // reap(): tokens and lengths into two arrays
  Token* toks;
  uint32_t* lens;
  [[gnu::always_inline]] bool operator()(uint16_t i, Token tok, uint32_t len) const noexcept {
    toks[i] = tok;
    lens[i] = len;
    return true;
  }
};
template <class Token, class SegOf>
struct ArraySource {  // add_singles(): tokens from an array, segments from seg_of(token)
  const Token* toks;
  SegOf& seg_of;
  [[gnu::always_inline]] Token operator()(uint16_t i, Single& s) const noexcept {
    s = seg_of(toks[i]);
    return toks[i];
  }
};
inline uint16_t count_of(size_t n) noexcept { return static_cast<uint16_t>(n < 0xFFFF ? n : 0xFFFF); }

// The driver side of a virtqueue, whatever its layout.
template <class Q>
concept Virtqueue = requires(Q q, const Q cq, std::span<const Segment> segs, typename Q::Token tok,
                             std::span<typename Q::Token> toks, std::span<uint32_t> lens) {
  typename Q::Token;
  { cq.size() } -> std::same_as<uint16_t>;
  { cq.free_descriptors() } -> std::same_as<uint16_t>;
  { cq.in_flight() } -> std::same_as<uint16_t>;
  { cq.areas() } -> std::same_as<RingAreas>;
  { cq.broken() } -> std::same_as<Broken>;
  { q.add_chain(segs, tok) } -> std::same_as<bool>;
  { q.publish() } -> std::same_as<void>;
  { q.needs_notify() } -> std::same_as<bool>;
  { cq.notification_data() } -> std::same_as<uint16_t>;
  { q.reap(toks, lens) } -> std::same_as<uint16_t>;
  { q.disable_interrupts() } -> std::same_as<void>;
  { q.enable_interrupts() } -> std::same_as<bool>;
  { cq.has_used() } -> std::same_as<bool>;
  { cq.next_id() } -> std::same_as<uint16_t>;
};

}  // namespace vpmd::ring
