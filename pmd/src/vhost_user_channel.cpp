// vhost-user messages on a UNIX stream socket (docs/interop/vhost-user.rst,
// "Communication"): a 12-byte header, the payload, fds as SCM_RIGHTS on the
// same sendmsg. Writes use MSG_NOSIGNAL: a back end that died must give us
// EPIPE, not kill the process with SIGPIPE.
#include "vhost_user_channel.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vpmd::pmd::vhost_user {

const char* to_string(Request r) noexcept {
  switch (r) {
    case Request::get_features: return "GET_FEATURES";
    case Request::set_features: return "SET_FEATURES";
    case Request::set_owner: return "SET_OWNER";
    case Request::reset_owner: return "RESET_OWNER";
    case Request::set_mem_table: return "SET_MEM_TABLE";
    case Request::set_vring_num: return "SET_VRING_NUM";
    case Request::set_vring_addr: return "SET_VRING_ADDR";
    case Request::set_vring_base: return "SET_VRING_BASE";
    case Request::get_vring_base: return "GET_VRING_BASE";
    case Request::set_vring_kick: return "SET_VRING_KICK";
    case Request::set_vring_call: return "SET_VRING_CALL";
    case Request::get_protocol_features: return "GET_PROTOCOL_FEATURES";
    case Request::set_protocol_features: return "SET_PROTOCOL_FEATURES";
    case Request::get_queue_num: return "GET_QUEUE_NUM";
    case Request::set_vring_enable: return "SET_VRING_ENABLE";
    case Request::set_status: return "SET_STATUS";
    case Request::get_status: return "GET_STATUS";
  }
  return "?";
}

namespace {

// Largest payload we ever send or accept: the memory table.
constexpr uint32_t max_payload = sizeof(MemTable);

Result<sockaddr_un> socket_address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof a.sun_path)
    return make_error(ENAMETOOLONG, "vhost-user socket path '" + path + "' is empty or longer than " +
                                        std::to_string(sizeof a.sun_path - 1) + " bytes");
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

}  // namespace

Channel& Channel::operator=(Channel&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    peer_ = std::move(o.peer_);
    reply_ack_ = o.reply_ack_;
  }
  return *this;
}

void Channel::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  reply_ack_ = false;
}

Result<void> Channel::fail(int err, const std::string& what) {
  close();
  return make_error(err, "vhost-user back end at " + peer_ + ": " + what);
}

Result<void> Channel::write_message(Request r, uint32_t flags, const void* payload, uint32_t size,
                                    std::span<const int> fds) {
  if (fd_ < 0) return make_error(ENOTCONN, "vhost-user back end at " + peer_ + " is not connected");
  if (size > max_payload || fds.size() > max_mem_regions)
    return make_error(EINVAL, std::string("vhost-user ") + to_string(r) + ": message too large");
  Header h{static_cast<uint32_t>(r), flag::version | flags, size};
  iovec iov[2] = {{&h, sizeof h}, {const_cast<void*>(payload), size}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_mem_regions)] = {};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = size ? 2 : 1;
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  const size_t want = sizeof h + size;
  ssize_t n;
  do n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return fail(errno, std::string("sending ") + to_string(r) + " failed: " + std::strerror(errno));
  // A UNIX stream socket takes a message this small whole or not at all.
  if (static_cast<size_t>(n) != want) return fail(EIO, std::string("short write of ") + to_string(r));
  return {};
}

Result<void> Channel::read_reply(Request r, void* payload, uint32_t size) {
  auto read_exact = [&](void* buf, size_t len) -> Result<void> {
    auto* p = static_cast<char*>(buf);
    const auto deadline = std::chrono::steady_clock::now() + reply_timeout;
    while (len > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd pfd{fd_, POLLIN, 0};
      const int pr = left.count() > 0 ? ::poll(&pfd, 1, static_cast<int>(left.count())) : 0;
      if (pr < 0 && errno == EINTR) continue;
      if (pr <= 0)
        return fail(ETIMEDOUT, std::string("no reply to ") + to_string(r) + " within " +
                                   std::to_string(reply_timeout.count()) + " ms");
      const ssize_t n = ::recv(fd_, p, len, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(errno, std::string("reading the reply to ") + to_string(r) + ": " + std::strerror(errno));
      if (n == 0) return fail(ECONNRESET, std::string("closed the connection instead of answering ") + to_string(r));
      p += n;
      len -= static_cast<size_t>(n);
    }
    return {};
  };
  Header h{};
  if (auto e = read_exact(&h, sizeof h); !e) return e;
  if (h.request != static_cast<uint32_t>(r))
    return fail(EPROTO, std::string("answered ") + to_string(r) + " with request code " + std::to_string(h.request));
  if ((h.flags & flag::version_mask) != flag::version || !(h.flags & flag::reply))
    return fail(EPROTO, std::string("reply to ") + to_string(r) + " has flags 0x" + std::to_string(h.flags) +
                            " (want version 1 and the reply bit)");
  if (h.size != size)
    return fail(EPROTO, std::string("reply to ") + to_string(r) + " carries " + std::to_string(h.size) +
                            " bytes, expected " + std::to_string(size));
  return read_exact(payload, size);
}

Result<void> Channel::send(Request r, const void* payload, uint32_t size, std::span<const int> fds) {
  if (auto e = write_message(r, reply_ack_ ? flag::need_reply : 0, payload, size, fds); !e) return e;
  if (!reply_ack_) return {};
  uint64_t ack = 0;
  if (auto e = read_reply(r, &ack, sizeof ack); !e) return e;
  if (ack != 0)  // the channel stays usable: the back end only refused this request
    return make_error(EPROTO, "vhost-user back end at " + peer_ + " refused " + to_string(r) + " (ack " +
                                  std::to_string(ack) + ")");
  return {};
}

Result<void> Channel::call(Request r, const void* payload, uint32_t size, void* reply, uint32_t reply_size) {
  if (auto e = write_message(r, 0, payload, size, {}); !e) return e;
  return read_reply(r, reply, reply_size);
}

Result<uint64_t> Channel::get_u64(Request r) {
  uint64_t v = 0;
  if (auto e = call(r, nullptr, 0, &v, sizeof v); !e) return e.error();
  return v;
}

bool Channel::peer_closed() noexcept {
  if (fd_ < 0) return true;
  char c;
  const ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
    close();
    return true;
  }
  return false;
}

Result<Channel> connect_to(const std::string& path) {
  auto a = socket_address(path);
  if (!a) return a.error();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(errno, std::string("socket(AF_UNIX): ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*a), sizeof *a) != 0) {
    const int e = errno;
    ::close(fd);
    return make_error(e, "cannot connect to the vhost-user back end at " + path + ": " + std::strerror(e) +
                             (e == ENOENT || e == ECONNREFUSED ? " (start the back end first, or use server=1)" : ""));
  }
  return Channel(fd, path);
}

Listener& Listener::operator=(Listener&& o) noexcept {
  if (this != &o) {
    this->~Listener();
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
  }
  return *this;
}

Listener::~Listener() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  fd_ = -1;
}

Result<Listener> Listener::create(const std::string& path) {
  auto a = socket_address(path);
  if (!a) return a.error();
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return make_error(EEXIST, path + " exists and is not a socket: choose another path");
    if (connect_to(path)) return make_error(EADDRINUSE, "something already listens on " + path);
    ::unlink(path.c_str());  // stale: left by a process that died
  }
  Listener l;
  l.fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (l.fd_ < 0) return make_error(errno, std::string("socket(AF_UNIX): ") + std::strerror(errno));
  if (::bind(l.fd_, reinterpret_cast<const sockaddr*>(&*a), sizeof *a) != 0 || ::listen(l.fd_, 1) != 0) {
    const int e = errno;
    ::close(l.fd_);
    l.fd_ = -1;
    return make_error(e, "cannot listen on " + path + ": " + std::strerror(e));
  }
  l.path_ = path;
  return l;
}

Result<Channel> Listener::accept(std::chrono::milliseconds timeout) {
  pollfd pfd{fd_, POLLIN, 0};
  int pr;
  do pr = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  while (pr < 0 && errno == EINTR);
  if (pr <= 0)
    return make_error(ETIMEDOUT, "no vhost-user back end connected to " + path_ + " within " +
                                     std::to_string(timeout.count()) + " ms (start it with client=1)");
  const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return make_error(errno, "accept on " + path_ + ": " + std::strerror(errno));
  return Channel(fd, path_);
}

}  // namespace vpmd::pmd::vhost_user
