/* The kernel's uapi <linux/virtio_ring.h> is C-only (vring_init converts
 * void*), so its numbers are taken here, in C, and compared in
 * ring_api_test.cpp with vpmd's spec structs. */
#include <linux/virtio_ring.h>
#include <stddef.h>

unsigned long vpmd_uapi_layout(int what, unsigned n);

unsigned long vpmd_uapi_layout(int what, unsigned n) {
  switch (what) {
    case 0: return sizeof(struct vring_desc);
    case 1: return offsetof(struct vring_desc, flags);
    case 2: return offsetof(struct vring_desc, next);
    case 3: return sizeof(struct vring_used_elem);
    case 4: return sizeof(struct vring_packed_desc);
    case 5: return offsetof(struct vring_packed_desc, id);
    case 6: return offsetof(struct vring_packed_desc, flags);
    case 7: return sizeof(struct vring_packed_desc_event);
    case 8: return vring_size(n, 4096);
    case 9: return VRING_DESC_F_NEXT | VRING_DESC_F_WRITE << 4 | VRING_DESC_F_INDIRECT << 8;
    case 10: return (1u << VRING_PACKED_DESC_F_AVAIL) | (1u << VRING_PACKED_DESC_F_USED);
    case 11: return VRING_USED_F_NO_NOTIFY | VRING_AVAIL_F_NO_INTERRUPT << 4;
    case 12: return VRING_PACKED_EVENT_FLAG_ENABLE | VRING_PACKED_EVENT_FLAG_DISABLE << 4 | VRING_PACKED_EVENT_FLAG_DESC << 8;
    default: return ~0ul;
  }
}
