#pragma once
// The vhost-user control channel: one UNIX stream socket to the back end,
// messages with SCM_RIGHTS fds, replies read with a deadline and checked
// field by field. The back end is another process and not trusted: a short,
// oversized or mismatched reply is an error, never a crash, and leaves the
// channel closed (the byte stream can no longer be framed).
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "vpmd/mem/result.hpp"
#include "vpmd/pmd/vhost_user_spec.hpp"

namespace vpmd::pmd::vhost_user {

class Channel {
 public:
  Channel() = default;
  explicit Channel(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}
  Channel(Channel&& o) noexcept : fd_(std::exchange(o.fd_, -1)), peer_(std::move(o.peer_)), reply_ack_(o.reply_ack_) {}
  Channel& operator=(Channel&& o) noexcept;
  ~Channel() { close(); }

  bool open() const noexcept { return fd_ >= 0; }
  void close() noexcept;
  // With REPLY_ACK negotiated, every request without a reply of its own asks
  // for an ack, so a back end that rejects it says so at once.
  void set_reply_ack(bool on) noexcept { reply_ack_ = on; }

  // A request without a reply (acked when REPLY_ACK is on).
  Result<void> send(Request r, const void* payload, uint32_t size, std::span<const int> fds = {});
  Result<void> send_u64(Request r, uint64_t v, std::span<const int> fds = {}) { return send(r, &v, sizeof v, fds); }
  Result<void> send_state(Request r, uint32_t index, uint32_t num) {
    const VringState s{index, num};
    return send(r, &s, sizeof s);
  }
  // A request whose reply carries exactly `reply_size` bytes of payload.
  Result<void> call(Request r, const void* payload, uint32_t size, void* reply, uint32_t reply_size);
  Result<uint64_t> get_u64(Request r);

  // Non-blocking: has the back end closed its end (EOF or error)?
  bool peer_closed() noexcept;

  static constexpr std::chrono::milliseconds reply_timeout{5000};

 private:
  Result<void> write_message(Request r, uint32_t flags, const void* payload, uint32_t size, std::span<const int> fds);
  Result<void> read_reply(Request r, void* payload, uint32_t size);
  Result<void> fail(int err, const std::string& what);

  int fd_ = -1;
  std::string peer_;  // the socket path, for messages
  bool reply_ack_ = false;
};

// Client: connect to a listening back end. Fails at once (ENOENT,
// ECONNREFUSED) when nobody listens; the caller decides whether to retry.
Result<Channel> connect_to(const std::string& path);

// Server: we listen, the back end connects (its `client=1` mode).
class Listener {
 public:
  Listener() = default;
  Listener(Listener&& o) noexcept : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)) {}
  Listener& operator=(Listener&& o) noexcept;
  ~Listener();
  // Creates the socket at `path`, replacing a stale one nobody listens on.
  static Result<Listener> create(const std::string& path);
  // Waits up to `timeout` (0: just checks) for a back end to connect.
  Result<Channel> accept(std::chrono::milliseconds timeout);
  bool open() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace vpmd::pmd::vhost_user
