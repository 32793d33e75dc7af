#pragma once
// The device side of a packed virtqueue (virtio-v1.2 §2.8), read through
// QueueConfig::translate and checking everything the driver wrote.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <vpmd/model/device_queue.hpp>
#include <vpmd/model/layout.hpp>

namespace vpmd::model {

class PackedDevice {
 public:
  explicit PackedDevice(QueueConfig cfg);

  // Next available buffer (§2.8.1 AVAIL == avail wrap counter, USED != it), or
  // nullopt; after driver_error() the queue stays stopped.
  std::optional<Chain> pop_avail();
  bool pop_avail(Chain& out);

  // As SplitDevice: queue a used element; publish() writes the used
  // descriptors, each one's flags after its id/len with release, and the
  // batch's first flags last so the driver sees the batch at once (§2.8.6).
  void push_used(const Chain& chain, std::uint32_t written_len);
  void publish();

  // Driver event suppression (§2.8.10): ENABLE / DISABLE / DESC off_wrap.
  bool should_interrupt();

  // Device event suppression (§2.8.10): DISABLE, ENABLE, or with EVENT_IDX
  // DESC at the next descriptor the device will read. After enabling, poll
  // pop_avail() once more.
  void set_notifications(bool enabled);

  // With IN_ORDER: one used descriptor per batch, carrying the LAST buffer's
  // id, then skip the whole batch (§2.8.9); one per buffer when false.
  void set_in_order_batching(bool on) { in_order_batching_ = on; }

  void notify() { ++counters_.kicks; }

  const std::string& driver_error() const { return driver_error_; }
  const std::string& model_error() const { return model_error_; }
  const Counters& counters() const { return counters_; }
  std::uint16_t size() const { return size_; }
  std::uint64_t features() const { return cfg_.features; }
  std::uint32_t in_flight() const { return in_flight_; }
  std::uint32_t pending() const { return static_cast<std::uint32_t>(pending_.size()); }
  std::uint16_t next_avail() const { return next_avail_; }
  bool avail_wrap_counter() const { return avail_wrap_; }
  std::uint16_t next_used() const { return next_used_; }     // as published
  bool used_wrap_counter() const { return used_wrap_; }

 private:
  struct PendingUsed {
    std::uint16_t id;
    std::uint16_t descs;
    std::uint32_t len;
    bool writable;  // buffer had device-writable elements: used flags carry WRITE
  };
  bool fail(std::string msg);
  bool add_segment(Chain& out, const PackedDesc& d, const char* where, std::uint32_t index, bool& seen_writable);
  bool walk_indirect(Chain& out, const PackedDesc& d, std::uint16_t at, bool& seen_writable);
  void advance(std::uint16_t& pos, bool& wrap, std::uint32_t by) const;

  QueueConfig cfg_;
  std::uint16_t size_ = 0;
  std::byte* ring_ = nullptr;
  std::byte* driver_evt_ = nullptr;  // driver event suppression (driver writes, device reads)
  std::byte* device_evt_ = nullptr;  // device event suppression (device writes, driver reads)
  bool event_idx_ = false;
  bool in_order_ = false;
  bool indirect_ = false;
  bool in_order_batching_ = false;
  bool notify_enabled_ = true;

  std::uint16_t next_avail_ = 0;   // §2.8.1: both wrap counters start at 1
  bool avail_wrap_ = true;
  std::uint16_t next_used_ = 0;
  bool used_wrap_ = true;
  std::uint32_t slots_in_flight_ = 0;  // ring slots popped and not yet published used
  std::uint32_t unsignalled_ = 0;      // slots made used since the last should_interrupt()
  std::uint64_t next_serial_ = 0;
  std::uint64_t next_used_serial_ = 0;
  std::uint32_t in_flight_ = 0;

  std::vector<std::uint8_t> id_in_flight_;
  std::vector<PendingUsed> pending_;

  Counters counters_;
  std::string driver_error_;
  std::string model_error_;
};

static_assert(DeviceQueue<PackedDevice>);

}  // namespace vpmd::model
