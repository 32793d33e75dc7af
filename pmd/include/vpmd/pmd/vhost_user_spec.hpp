#pragma once
// The vhost-user protocol as the front end ("master") speaks it: message
// codes, flags and payloads (QEMU docs/interop/vhost-user.rst, the protocol's
// specification). Every payload is little-endian and laid out with natural
// alignment; the static_asserts pin the layouts the back end expects.
#include <cstddef>
#include <cstdint>

namespace vpmd::pmd::vhost_user {

// Front-end requests ("Front-end message types").
enum class Request : uint32_t {
  get_features = 1,
  set_features = 2,
  set_owner = 3,
  reset_owner = 4,
  set_mem_table = 5,
  set_vring_num = 8,
  set_vring_addr = 9,
  set_vring_base = 10,
  get_vring_base = 11,
  set_vring_kick = 12,
  set_vring_call = 13,
  get_protocol_features = 15,
  set_protocol_features = 16,
  get_queue_num = 17,
  set_vring_enable = 18,
  set_status = 39,
  get_status = 40,
};
const char* to_string(Request r) noexcept;

// Header flags: bits 0-1 the protocol version (1), bit 2 this is a reply,
// bit 3 the sender wants a reply (with REPLY_ACK negotiated).
namespace flag {
inline constexpr uint32_t version = 0x1;
inline constexpr uint32_t version_mask = 0x3;
inline constexpr uint32_t reply = 1u << 2;
inline constexpr uint32_t need_reply = 1u << 3;
}  // namespace flag

// The virtio feature bit that says "protocol features follow"; it is not a
// virtio-net feature and never reaches the device layer.
inline constexpr uint64_t f_protocol_features = 1ull << 30;

// Protocol feature bits (GET/SET_PROTOCOL_FEATURES).
namespace protocol {
inline constexpr uint64_t mq = 1ull << 0;
inline constexpr uint64_t reply_ack = 1ull << 3;
inline constexpr uint64_t status = 1ull << 16;
}  // namespace protocol

struct Header {
  uint32_t request;
  uint32_t flags;
  uint32_t size;  // payload bytes that follow
};
static_assert(sizeof(Header) == 12);

// SET_VRING_NUM / SET_VRING_BASE / GET_VRING_BASE / SET_VRING_ENABLE.
struct VringState {
  uint32_t index;
  uint32_t num;
};
static_assert(sizeof(VringState) == 8);

// SET_VRING_ADDR: front-end virtual addresses of the three areas. For a
// packed ring (virtio-v1.2 §2.8) "avail" is the driver event suppression
// area and "used" the device event suppression area.
struct VringAddr {
  uint32_t index;
  uint32_t flags;  // bit 0: log used-ring writes (we never ask)
  uint64_t desc_user_addr;
  uint64_t used_user_addr;
  uint64_t avail_user_addr;
  uint64_t log_guest_addr;
};
static_assert(sizeof(VringAddr) == 40 && offsetof(VringAddr, desc_user_addr) == 8 &&
              offsetof(VringAddr, used_user_addr) == 16 && offsetof(VringAddr, avail_user_addr) == 24);

// SET_MEM_TABLE: one fd per region rides along as SCM_RIGHTS, in order.
inline constexpr uint32_t max_mem_regions = 8;
struct MemRegion {
  uint64_t guest_phys_addr;  // the address descriptors carry (our IOVA)
  uint64_t memory_size;
  uint64_t userspace_addr;   // the front end's virtual address (ring addresses use these)
  uint64_t mmap_offset;      // where the region starts in its fd
};
struct MemTable {
  uint32_t nregions;
  uint32_t padding;
  MemRegion regions[max_mem_regions];
};
static_assert(sizeof(MemRegion) == 32 && sizeof(MemTable) == 8 + 8 * 32);

// SET_VRING_KICK / SET_VRING_CALL: u64 with the vring index in bits 0-7 and
// bit 8 set when no fd is passed.
inline constexpr uint64_t vring_index_mask = 0xff;
inline constexpr uint64_t vring_nofd = 1ull << 8;

// SET_VRING_BASE for a packed ring: bits 0-14 the next avail index, bit 15
// the driver's wrap counter, which starts at 1 (virtio-v1.2 §2.8.1).
inline constexpr uint32_t packed_base(uint16_t next_avail, bool wrap) {
  return (uint32_t{next_avail} & 0x7fff) | (wrap ? 0x8000u : 0u);
}
static_assert(packed_base(0, true) == 0x8000);

}  // namespace vpmd::pmd::vhost_user
