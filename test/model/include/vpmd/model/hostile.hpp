#pragma once
// Hostile: a device that writes arbitrary values into every field the device
// may write, to prove the driver survives a broken or malicious device.
// Deterministic: the same seed, or the same byte script, gives the same writes.
//
// Script format for apply(): a sequence of 7-byte records
//   [op: u8][index: le16][value: le32]
// (a trailing partial record is ignored). `op % kOps` selects the write below;
// `index % size` picks a ring entry; `value` is what is written (truncated to
// the field's width).
//
// split (virtio-v1.2 §2.7.8), op % 10:
//   0 used->idx = value            1 used->idx += (int8_t)value (jumps either way)
//   2 used ring[index].id = value  3 used ring[index].len = value
//   4 used->flags = value          5 avail_event = value
//   6 used ring[index].id = value % size (in range, maybe not in flight / duplicate)
//   7 legit: pop up to value%8+1 buffers, use them with len = min(capacity,
//     value >> 8) (no payload is written), publish
//   8 legit: pop everything available, use it with len 0, publish
//   9 plausible forgery: used ring[used->idx].{id = value % size, len = value >> 8}, then used->idx += 1
// packed (virtio-v1.2 §2.8), op % 10:
//   0 desc[index].flags = value    1 desc[index].id = value     2 desc[index].len = value
//   3 device event off_wrap = value   4 device event flags = value
//   5 desc[index] looks used: flags = (value & 1 ? AVAIL|USED : 0), id = (value >> 1) % size
//   6 desc[index].flags = USED without AVAIL
//   7 legit: as split 7           8 legit: as split 8
//   9 desc[index].flags ^= AVAIL|USED (wrong wrap bits)
//
// Writes are atomic release stores, so a concurrent driver's atomic reads are
// not UB; plain driver reads of id/len still race. Use Hostile stepwise in the
// driver's thread or from a fuzzer, not concurrently.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <vpmd/model/device_queue.hpp>
#include <vpmd/model/rng.hpp>

namespace vpmd::model {

class SplitDevice;
class PackedDevice;

class Hostile {
 public:
  static constexpr std::size_t kRecordBytes = 7;
  static constexpr unsigned kOps = 10;

  // cfg.features bit 34 chooses the packed layout. The legit ops use an
  // internal SplitDevice/PackedDevice over the same memory.
  Hostile(QueueConfig cfg, std::uint64_t seed);
  ~Hostile();
  Hostile(const Hostile&) = delete;
  Hostile& operator=(const Hostile&) = delete;

  void apply(std::span<const std::uint8_t> script);
  // `writes` random records from the seeded RNG (through apply()).
  void step(unsigned writes = 1);

  std::uint64_t writes() const { return writes_; }
  // Set when the configuration itself is unusable (areas outside translate);
  // apply() then does nothing.
  const std::string& error() const { return error_; }
  // What the internal legit device noticed about the driver (may be set by a
  // driver that reacts to the hostile writes; informational).
  const std::string& legit_driver_error() const;

 private:
  void apply_split(std::uint8_t op, std::uint16_t index, std::uint32_t value);
  void apply_packed(std::uint8_t op, std::uint16_t index, std::uint32_t value);
  template <class Q>
  void legit(Q& q, std::uint32_t max, std::uint32_t len);

  QueueConfig cfg_;
  bool packed_ = false;
  std::byte* desc_ = nullptr;
  std::byte* driver_ = nullptr;
  std::byte* device_ = nullptr;
  Rng rng_;
  std::uint64_t writes_ = 0;
  std::string error_;
  std::unique_ptr<SplitDevice> split_;
  std::unique_ptr<PackedDevice> packed_dev_;
  std::vector<Chain> legit_inflight_;
};

}  // namespace vpmd::model
