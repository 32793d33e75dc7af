// Hostile device writes, split and packed (see hostile.hpp for the script).
#include <vpmd/model/hostile.hpp>

#include <atomic>
#include <vector>

#include <vpmd/model/layout.hpp>
#include <vpmd/model/packed_device.hpp>
#include <vpmd/model/split_device.hpp>

#include <vpmd/model/access.hpp>

namespace vpmd::model {

using detail::shared16;
using detail::shared32;

namespace {
void put16(std::byte* p, std::uint32_t v) {
  shared16(p).store(static_cast<std::uint16_t>(v), std::memory_order_release);
}
void put32(std::byte* p, std::uint32_t v) { shared32(p).store(v, std::memory_order_release); }
std::uint16_t get16(std::byte* p) { return shared16(p).load(std::memory_order_acquire); }
}  // namespace

Hostile::Hostile(QueueConfig cfg, std::uint64_t seed) : cfg_(std::move(cfg)), rng_(seed) {
  packed_ = has_feature(cfg_.features, kFeatureRingPacked);
  if (packed_) {
    packed_dev_ = std::make_unique<PackedDevice>(cfg_);
    if (!packed_dev_->driver_error().empty()) error_ = packed_dev_->driver_error();
  } else {
    split_ = std::make_unique<SplitDevice>(cfg_);
    if (!split_->driver_error().empty()) error_ = split_->driver_error();
  }
  if (!error_.empty()) return;
  const std::uint16_t n = cfg_.size;
  if (packed_) {
    desc_ = cfg_.translate(cfg_.desc, static_cast<std::uint32_t>(sizeof(PackedDesc) * n));
    driver_ = cfg_.translate(cfg_.driver, sizeof(EventSuppress));
    device_ = cfg_.translate(cfg_.device, sizeof(EventSuppress));
  } else {
    desc_ = cfg_.translate(cfg_.desc, static_cast<std::uint32_t>(sizeof(SplitDesc) * n));
    driver_ = cfg_.translate(cfg_.driver, static_cast<std::uint32_t>(avail_area_bytes(n)));
    device_ = cfg_.translate(cfg_.device, static_cast<std::uint32_t>(used_area_bytes(n)));
  }
}

Hostile::~Hostile() = default;

const std::string& Hostile::legit_driver_error() const {
  return packed_ ? packed_dev_->driver_error() : split_->driver_error();
}

void Hostile::apply(std::span<const std::uint8_t> script) {
  if (!error_.empty()) return;
  for (std::size_t at = 0; at + kRecordBytes <= script.size(); at += kRecordBytes) {
    const std::uint8_t op = static_cast<std::uint8_t>(script[at] % kOps);
    const auto index = static_cast<std::uint16_t>(script[at + 1] | (script[at + 2] << 8));
    const std::uint32_t value = std::uint32_t{script[at + 3]} | (std::uint32_t{script[at + 4]} << 8) |
                                (std::uint32_t{script[at + 5]} << 16) | (std::uint32_t{script[at + 6]} << 24);
    if (packed_) apply_packed(op, index, value);
    else apply_split(op, index, value);
    ++writes_;
  }
}

void Hostile::step(unsigned writes) {
  std::vector<std::uint8_t> script(kRecordBytes * writes);
  for (std::size_t i = 0; i < script.size(); ++i) script[i] = static_cast<std::uint8_t>(rng_.next());
  apply(script);
}

template <class Q>
void Hostile::legit(Q& q, std::uint32_t max, std::uint32_t len) {
  Chain c;
  while (legit_inflight_.size() < max && q.pop_avail(c)) legit_inflight_.push_back(c);
  for (const Chain& g : legit_inflight_) {
    const std::uint64_t cap = g.writable_bytes();
    q.push_used(g, static_cast<std::uint32_t>(cap < len ? cap : len));
  }
  legit_inflight_.clear();
  q.publish();
}

void Hostile::apply_split(std::uint8_t op, std::uint16_t index, std::uint32_t value) {
  const std::uint16_t n = cfg_.size;
  std::byte* idx = device_ + kUsedIdxOff;
  std::byte* elem = device_ + used_ring_off(index % n);
  switch (op) {
    case 0: put16(idx, value); break;
    case 1: put16(idx, static_cast<std::uint32_t>(get16(idx) + static_cast<std::int8_t>(value & 0xFF))); break;
    case 2: put32(elem + offsetof(UsedElem, id), value); break;
    case 3: put32(elem + offsetof(UsedElem, len), value); break;
    case 4: put16(device_ + kUsedFlagsOff, value); break;
    case 5: put16(device_ + used_avail_event_off(n), value); break;
    case 6: put32(elem + offsetof(UsedElem, id), value % n); break;
    case 7: legit(*split_, value % 8 + 1, value >> 8); break;
    case 8: legit(*split_, UINT32_MAX, 0); break;
    case 9: {
      const std::uint16_t at = get16(idx);
      std::byte* e = device_ + used_ring_off(at % n);
      put32(e + offsetof(UsedElem, id), value % n);
      put32(e + offsetof(UsedElem, len), value >> 8);
      put16(idx, static_cast<std::uint16_t>(at + 1));
      break;
    }
    default: break;
  }
}

void Hostile::apply_packed(std::uint8_t op, std::uint16_t index, std::uint32_t value) {
  const std::uint16_t n = cfg_.size;
  std::byte* d = desc_ + sizeof(PackedDesc) * (index % n);
  std::byte* flags = d + offsetof(PackedDesc, flags);
  switch (op) {
    case 0: put16(flags, value); break;
    case 1: put16(d + offsetof(PackedDesc, id), value); break;
    case 2: put32(d + offsetof(PackedDesc, len), value); break;
    case 3: put16(device_ + offsetof(EventSuppress, off_wrap), value); break;
    case 4: put16(device_ + offsetof(EventSuppress, flags), value); break;
    case 5:
      put16(d + offsetof(PackedDesc, id), (value >> 1) % n);
      put16(flags, (value & 1) ? (kPackedDescFAvail | kPackedDescFUsed) : 0);
      break;
    case 6: put16(flags, kPackedDescFUsed); break;
    case 7: legit(*packed_dev_, value % 8 + 1, value >> 8); break;
    case 8: legit(*packed_dev_, UINT32_MAX, 0); break;
    case 9: put16(flags, get16(flags) ^ (kPackedDescFAvail | kPackedDescFUsed)); break;
    default: break;
  }
}

}  // namespace vpmd::model
