#pragma once
// Test drivers that keep a ring busy through the fixtures and verify what the
// model device did: ids in flight, written lengths, payload patterns, and
// IN_ORDER batch reaping (a used entry retires every older buffer too).
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <vpmd/model/pattern.hpp>

#include "packed_fixture.hpp"
#include "split_fixture.hpp"

namespace vpmd::model::test {

inline constexpr std::uint32_t kReadBytes = 32;
inline constexpr std::uint32_t kWriteBytes = 64;

// Buffers of 2 descriptors (32 readable + 64 writable bytes), or 1 writable
// descriptor when the ring has a single slot.
struct SplitRun {
  SplitDriver drv;
  std::uint64_t seed;
  bool in_order;
  bool full_len;  // device writes everything (needed to check batched IN_ORDER buffers)
  std::vector<std::int64_t> serial_of;  // by head; -1 when free
  std::deque<std::uint16_t> fifo;
  std::uint64_t next_serial = 0, reaped = 0;
  std::string error;

  SplitRun(std::uint16_t size, std::uint64_t s, bool io, bool full)
      : drv(size), seed(s), in_order(io), full_len(full), serial_of(size, -1) {}
  std::uint16_t per() const { return drv.size >= 2 ? 2 : 1; }

  bool submit() {
    for (std::uint16_t h = 0; h + per() <= drv.size; h = static_cast<std::uint16_t>(h + per())) {
      if (serial_of[h] >= 0) continue;
      if (per() == 2) {
        fill_pattern({drv.buf(h), kReadBytes}, seed, next_serial);
        drv.set_desc(h, drv.buf(h), kReadBytes, kDescFNext, static_cast<std::uint16_t>(h + 1));
        drv.set_desc(static_cast<std::uint16_t>(h + 1), drv.buf(h + 1u), kWriteBytes, kDescFWrite);
      } else {
        drv.set_desc(h, drv.buf(h + 1u), kWriteBytes, kDescFWrite);
      }
      serial_of[h] = static_cast<std::int64_t>(next_serial++);
      fifo.push_back(h);
      drv.add(h);
      return true;
    }
    return false;
  }

  void retire(std::uint16_t h, std::uint32_t len) {
    const auto serial = static_cast<std::uint64_t>(serial_of[h]);
    if (len > kWriteBytes && error.empty()) error = "used len " + std::to_string(len) + " > buffer";
    if (check_pattern({drv.buf(h + 1u), len}, seed, serial) != len && error.empty())
      error = "written pattern mismatch, serial " + std::to_string(serial);
    serial_of[h] = -1;
    ++reaped;
  }

  std::uint32_t reap() {
    std::uint32_t n = 0;
    const std::uint16_t used = drv.used_idx();
    while (drv.last_used != used) {
      const UsedElem e = drv.used_elem(drv.last_used);
      if (e.id >= drv.size || serial_of[e.id] < 0) {
        if (error.empty()) error = "used id " + std::to_string(e.id) + " not in flight";
        return n;
      }
      if (!in_order) {
        retire(static_cast<std::uint16_t>(e.id), e.len);
        std::erase(fifo, static_cast<std::uint16_t>(e.id));
        ++drv.last_used;
        ++n;
        continue;
      }
      // IN_ORDER: the entry names the LAST buffer of a batch (§2.7.9).
      for (;;) {
        const std::uint16_t h = fifo.front();
        fifo.pop_front();
        ++drv.last_used;
        ++n;
        if (h == e.id) {
          retire(h, e.len);
          break;
        }
        retire(h, full_len ? kWriteBytes : 0);
      }
    }
    return n;
  }
};

struct PackedRun {
  PackedDriver drv;
  std::uint64_t seed;
  bool in_order;
  bool full_len;
  std::vector<std::int64_t> serial_of;  // by id
  std::deque<std::uint16_t> fifo;
  std::uint32_t free_slots;
  std::uint64_t next_serial = 0, reaped = 0;
  std::uint16_t next_id = 0;
  std::string error;

  PackedRun(std::uint16_t size, std::uint64_t s, bool io, bool full)
      : drv(size), seed(s), in_order(io), full_len(full), serial_of(size, -1), free_slots(size) {}
  std::uint16_t per() const { return drv.size >= 2 ? 2 : 1; }

  bool submit() {
    if (free_slots < per()) return false;
    std::uint16_t id = next_id;
    for (std::uint16_t k = 0; k < drv.size && serial_of[id] >= 0; ++k) id = static_cast<std::uint16_t>((id + 1) % drv.size);
    if (serial_of[id] >= 0) return false;
    next_id = static_cast<std::uint16_t>((id + 1) % drv.size);
    std::byte* rd = drv.buf(2u * id);
    std::byte* wr = drv.buf(2u * id + 1);
    if (per() == 2) {
      fill_pattern({rd, kReadBytes}, seed, next_serial);
      drv.add(id, {{rd, kReadBytes, 0}, {wr, kWriteBytes, kDescFWrite}});
    } else {
      drv.add(id, {{wr, kWriteBytes, kDescFWrite}});
    }
    free_slots -= per();
    serial_of[id] = static_cast<std::int64_t>(next_serial++);
    fifo.push_back(id);
    return true;
  }

  void retire(std::uint16_t id, std::uint32_t len) {
    const auto serial = static_cast<std::uint64_t>(serial_of[id]);
    if (len > kWriteBytes && error.empty()) error = "used len " + std::to_string(len) + " > buffer";
    if (check_pattern({drv.buf(2u * id + 1), len}, seed, serial) != len && error.empty())
      error = "written pattern mismatch, serial " + std::to_string(serial);
    serial_of[id] = -1;
    free_slots += drv.descs_of_id[id];
    ++reaped;
  }

  std::uint32_t reap() {
    std::uint32_t n = 0;
    for (;;) {
      const std::uint16_t pos = drv.used_pos;
      const std::uint16_t f = drv.flags_at(pos).load(std::memory_order_acquire);
      const bool a = (f & kPackedDescFAvail) != 0, u = (f & kPackedDescFUsed) != 0;
      if (a != drv.used_wrap || u != drv.used_wrap) return n;
      const std::uint16_t id = drv.ring()[pos].id;
      const std::uint32_t len = drv.ring()[pos].len;
      if (id >= drv.size || serial_of[id] < 0) {
        if (error.empty()) error = "used id " + std::to_string(id) + " not in flight";
        return n;
      }
      if (!in_order) {
        drv.skip(drv.descs_of_id[id]);
        retire(id, len);
        std::erase(fifo, id);
        ++n;
        continue;
      }
      for (;;) {  // §2.8.9: retire every buffer up to the one named
        const std::uint16_t h = fifo.front();
        fifo.pop_front();
        drv.skip(drv.descs_of_id[h]);
        ++n;
        if (h == id) {
          retire(h, len);
          break;
        }
        retire(h, full_len ? kWriteBytes : 0);
      }
    }
  }
};

}  // namespace vpmd::model::test
