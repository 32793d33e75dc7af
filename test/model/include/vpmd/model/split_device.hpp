#pragma once
// The device side of a split virtqueue (virtio-v1.2 §2.7), read through
// QueueConfig::translate and checking everything the driver wrote.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <vpmd/model/device_queue.hpp>
#include <vpmd/model/layout.hpp>

namespace vpmd::model {

class SplitDevice {
 public:
  explicit SplitDevice(QueueConfig cfg);

  // Next available buffer, or nullopt when the driver has published nothing new
  // (or driver_error() is set: the queue then stays stopped, like a device that
  // sets DEVICE_NEEDS_RESET). The bool form reuses out.segs' capacity.
  std::optional<Chain> pop_avail();
  bool pop_avail(Chain& out);

  // Marks a popped chain used with `written_len` bytes written; becomes visible
  // to the driver only at publish(). Misuse by the test (unknown chain, too
  // long written_len, out of order under IN_ORDER) sets model_error().
  void push_used(const Chain& chain, std::uint32_t written_len);
  void publish();

  // Evaluates the driver's interrupt suppression for everything published
  // since the previous call (§2.7.7 flags / §2.7.10 used_event).
  bool should_interrupt();

  // Device notification suppression (§2.7.10): NO_NOTIFY flag, or with
  // EVENT_IDX avail_event = "kick me at the next one". After enabling, poll
  // pop_avail() once more: the driver may have added buffers meanwhile.
  void set_notifications(bool enabled);

  // With IN_ORDER negotiated: publish() writes a single used entry for the
  // whole batch (§2.7.9 "In-order use of descriptors") when true; one entry
  // per buffer when false (default).
  void set_in_order_batching(bool on) { in_order_batching_ = on; }

  // The transport reports a driver notification (kick).
  void notify() { ++counters_.kicks; }

  const std::string& driver_error() const { return driver_error_; }
  const std::string& model_error() const { return model_error_; }
  const Counters& counters() const { return counters_; }
  std::uint16_t size() const { return size_; }
  std::uint64_t features() const { return cfg_.features; }
  std::uint32_t in_flight() const { return in_flight_; }  // popped, not yet pushed used
  std::uint32_t pending() const { return static_cast<std::uint32_t>(pending_.size()); }  // pushed, not published
  std::uint16_t last_avail_idx() const { return last_avail_; }
  std::uint16_t used_idx() const { return used_idx_; }   // as published

 private:
  struct PendingUsed {
    std::uint32_t id;
    std::uint32_t len;
  };
  bool fail(std::string msg);
  bool add_segment(Chain& out, const SplitDesc& d, const char* where, std::uint32_t index, bool& seen_writable);
  bool walk_indirect(Chain& out, const SplitDesc& d, std::uint16_t at, bool& seen_writable);
  std::uint16_t load_avail_idx() const;

  QueueConfig cfg_;
  std::uint16_t size_ = 0;
  std::byte* desc_ = nullptr;
  std::byte* avail_ = nullptr;
  std::byte* used_ = nullptr;
  bool event_idx_ = false;
  bool in_order_ = false;
  bool indirect_ = false;
  bool in_order_batching_ = false;
  bool notify_enabled_ = true;

  std::uint16_t last_avail_ = 0;    // next avail ring index the device reads
  std::uint16_t used_idx_ = 0;      // used->idx as last published
  std::uint16_t signalled_ = 0;     // used_idx_ at the last should_interrupt()
  std::uint64_t next_serial_ = 0;   // serial of the next popped chain
  std::uint64_t next_used_serial_ = 0;  // IN_ORDER: serial expected by push_used
  std::uint32_t in_flight_ = 0;

  std::vector<std::uint8_t> head_in_flight_;           // by head index
  std::vector<std::uint8_t> desc_owned_;               // descriptor is in an in-flight chain
  std::vector<std::vector<std::uint16_t>> chain_of_;   // head -> descriptors of its chain
  std::vector<std::uint16_t> walk_;                    // scratch: descriptors of the chain being popped
  std::vector<PendingUsed> pending_;

  Counters counters_;
  std::string driver_error_;
  std::string model_error_;
};

static_assert(DeviceQueue<SplitDevice>);

}  // namespace vpmd::model
