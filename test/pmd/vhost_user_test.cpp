// The vhost-user front end against a scripted back end in a thread: the
// message sequence a well-behaved back end sees, and what a malformed,
// refusing or vanishing back end gets us (clear errors, never a crash).
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "vpmd/pmd/net_spec.hpp"
#include "vpmd/pmd/vhost_user.hpp"
#include "vpmd/pmd/vhost_user_spec.hpp"
#include "vpmd/pmd/virtio_device.hpp"
#include "vpmd/port.hpp"

using namespace vpmd;
using namespace vpmd::pmd;
namespace vu = vpmd::pmd::vhost_user;

namespace {

struct Message {
  vu::Header h{};
  std::vector<uint8_t> payload;
  std::vector<int> fds;
  uint64_t u64() const {
    uint64_t v = 0;
    std::memcpy(&v, payload.data(), std::min<size_t>(8, payload.size()));
    return v;
  }
};

// What the scripted back end does with one message: reply (raw bytes,
// header included) and/or hang up.
struct Action {
  std::vector<uint8_t> reply;
  bool hang_up = false;
};
using Script = std::function<Action(const Message&)>;

std::vector<uint8_t> reply_bytes(uint32_t request, uint32_t flags, const void* p, uint32_t size) {
  std::vector<uint8_t> b(sizeof(vu::Header) + size);
  const vu::Header h{request, flags, size};
  std::memcpy(b.data(), &h, sizeof h);
  if (size) std::memcpy(b.data() + sizeof h, p, size);
  return b;
}
std::vector<uint8_t> reply_u64(const Message& m, uint64_t v) {
  return reply_bytes(m.h.request, vu::flag::version | vu::flag::reply, &v, 8);
}

constexpr uint64_t offered = net_feature::version_1 | net_feature::mrg_rxbuf | net_feature::ring_packed |
                             net_feature::in_order | net_feature::event_idx | vu::f_protocol_features |
                             net_feature::ctrl_vq | net_feature::mtu;

// A back end that answers like DPDK's: features, protocol features with
// REPLY_ACK, acks, vring bases. Records every message.
struct FakeBackEnd {
  std::string path;
  int listen_fd = -1;
  std::thread thread;
  std::vector<Message> seen;
  Script script;

  explicit FakeBackEnd(Script s) : script(std::move(s)) {
    char t[] = "/tmp/vpmd-vu-XXXXXX";
    path = std::string(::mkdtemp(t)) + "/be.sock";
    listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, path.c_str());
    REQUIRE(::bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listen_fd, 1) == 0);
    thread = std::thread([this] { serve(); });
  }
  ~FakeBackEnd() {
    ::shutdown(listen_fd, SHUT_RDWR);
    thread.join();
    ::close(listen_fd);
    ::unlink(path.c_str());
    for (auto& m : seen)
      for (int fd : m.fds) ::close(fd);
  }
  void serve() {
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return;
    const int fd = ::accept(listen_fd, nullptr, nullptr);
    if (fd < 0) return;
    for (;;) {
      Message m;
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
      iovec iov{&m.h, sizeof m.h};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      if (::recvmsg(fd, &msg, MSG_WAITALL) != static_cast<ssize_t>(sizeof m.h)) break;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        m.fds.resize(n);
        std::memcpy(m.fds.data(), CMSG_DATA(c), n * sizeof(int));
      }
      m.payload.resize(m.h.size);
      if (m.h.size && ::recv(fd, m.payload.data(), m.h.size, MSG_WAITALL) != static_cast<ssize_t>(m.h.size)) break;
      seen.push_back(m);
      const Action a = script(m);
      if (!a.reply.empty()) (void)!::send(fd, a.reply.data(), a.reply.size(), MSG_NOSIGNAL);
      if (a.hang_up) break;
    }
    ::close(fd);
  }
};

// DPDK-like behaviour; `tweak` may replace the answer to one request.
Action well_behaved(const Message& m) {
  using R = vu::Request;
  const auto r = static_cast<R>(m.h.request);
  if (r == R::get_features) return {reply_u64(m, offered)};
  if (r == R::get_protocol_features) return {reply_u64(m, vu::protocol::reply_ack | vu::protocol::status | 1ull << 5)};
  if (r == R::get_vring_base) {
    vu::VringState s{};
    std::memcpy(&s, m.payload.data(), sizeof s);
    return {reply_bytes(m.h.request, vu::flag::version | vu::flag::reply, &s, sizeof s)};
  }
  if (m.h.flags & vu::flag::need_reply) return {reply_u64(m, 0)};
  return {};
}

Result<std::unique_ptr<Transport>> open_at(const FakeBackEnd& be, const std::string& extra = "") {
  auto a = parse_vhost_user_args("path=" + be.path + ",timeout=2" + extra);
  REQUIRE(a);
  return open_vhost_user_transport(*a);
}

}  // namespace

TEST_CASE("vhost-user args: knobs, defaults and errors") {
  auto a = parse_vhost_user_args("path=/run/x.sock,server=1,queues=1,packed=1,in_order=0,mrg_rxbuf=0,event_idx=1,timeout=3");
  REQUIRE(a);
  CHECK(a->path == "/run/x.sock");
  CHECK(a->server);
  CHECK(*a->packed);
  CHECK_FALSE(*a->in_order);
  CHECK_FALSE(*a->mrg_rxbuf);
  CHECK(*a->event_idx);
  CHECK(a->timeout_s == 3);
  auto d = parse_vhost_user_args("path=/x");
  REQUIRE(d);
  CHECK_FALSE(d->server);
  CHECK_FALSE(d->packed.has_value());
  CHECK(!parse_vhost_user_args("path=/x,packed=2"));
  CHECK(!parse_vhost_user_args("path=/x,queues=0"));
  CHECK(!parse_vhost_user_args("path=/x,bogus"));
  CHECK(parse_vhost_user_args("packed=1").error().message.find("path=SOCKET is required") != std::string::npos);
}

TEST_CASE("vhost-user: the message sequence a back end sees from open to DRIVER_OK and reset") {
  FakeBackEnd be(well_behaved);
  uint64_t ring_at = 0;
  {
    auto t = open_at(be);
    REQUIRE(t);
    // Emulated: MAC and STATUS; never passed up: CTRL_VQ, MTU, the protocol bit.
    const uint64_t f = (*t)->device_features();
    CHECK((f & net_feature::mac));
    CHECK((f & net_feature::status));
    CHECK_FALSE((f & net_feature::ctrl_vq));
    CHECK_FALSE((f & net_feature::mtu));
    CHECK_FALSE((f & vu::f_protocol_features));

    auto dev = VirtioDevice::init(std::move(*t), net_feature::version_1 | net_feature::ring_packed |
                                                     net_feature::mac | net_feature::status);
    REQUIRE(dev);
    Transport& tr = (*dev)->transport();
    auto mem = make_queue_memory(tr.mapper(), 4096, -1, /*allow_small_pages=*/true);
    REQUIRE(mem);
    const ring::RingAreas areas{mem->ring.iova, mem->ring.iova + 1024, mem->ring.iova + 2048};
    ring_at = mem->ring.iova;
    REQUIRE(tr.setup_queue(0, 64, areas, -1));
    REQUIRE(tr.setup_queue(1, 64, areas, -1));
    auto db = tr.doorbell(1);
    REQUIRE(db);
    CHECK(db->kind == simd::Doorbell::Kind::eventfd);
    REQUIRE((*dev)->driver_ok());
    uint8_t mac[6];
    REQUIRE(tr.read_config(net_config::mac, mac, 6));
    CHECK((mac[0] & 3) == 2);  // unicast, locally administered
  }  // the device's destructor resets it: GET_VRING_BASE for both rings

  using R = vu::Request;
  std::vector<R> order;
  for (auto& m : be.seen) order.push_back(static_cast<R>(m.h.request));
  auto find = [&](R r, size_t from = 0) {
    for (size_t i = from; i < order.size(); ++i)
      if (order[i] == r) return i;
    return order.size();
  };
  REQUIRE(order.size() > 10);
  CHECK(order[0] == R::set_owner);
  CHECK(order[1] == R::get_features);
  CHECK(order[2] == R::get_protocol_features);
  CHECK(order[3] == R::set_protocol_features);
  CHECK(be.seen[3].u64() == (vu::protocol::reply_ack | vu::protocol::status));  // only what we speak
  const size_t sf = find(R::set_features);
  REQUIRE(sf < order.size());
  CHECK(be.seen[sf].u64() == (net_feature::version_1 | net_feature::ring_packed | vu::f_protocol_features));
  const size_t mt = find(R::set_mem_table);
  REQUIRE(mt < order.size());
  CHECK(mt > sf);
  vu::MemTable table{};
  std::memcpy(&table, be.seen[mt].payload.data(), be.seen[mt].payload.size());
  CHECK(table.nregions == 1);
  CHECK(be.seen[mt].fds.size() == 1);
  CHECK(table.regions[0].guest_phys_addr == table.regions[0].userspace_addr);
  CHECK(table.regions[0].userspace_addr <= ring_at);
  CHECK(ring_at < table.regions[0].userspace_addr + table.regions[0].memory_size);
  // Per ring: CALL, NUM, BASE (packed: wrap counter 1), ADDR, KICK; then ENABLE; then DRIVER_OK.
  const size_t base = find(R::set_vring_base, mt);
  REQUIRE(base < order.size());
  vu::VringState st{};
  std::memcpy(&st, be.seen[base].payload.data(), sizeof st);
  CHECK(st.num == 0x8000);
  CHECK(find(R::set_vring_kick, mt) < find(R::set_vring_enable, mt));
  CHECK(be.seen[find(R::set_vring_kick, mt)].fds.size() == 1);
  const size_t status = find(R::set_status, find(R::set_vring_enable, mt));
  REQUIRE(status < order.size());
  CHECK((be.seen[status].u64() & status::driver_ok));
  const size_t gvb = find(R::get_vring_base, status);
  CHECK(gvb < order.size());
  CHECK(find(R::get_vring_base, gvb + 1) < order.size());
  // With REPLY_ACK, every request without its own reply asked for an ack.
  for (size_t i = 4; i < be.seen.size(); ++i)
    if (order[i] != R::get_features && order[i] != R::get_vring_base) CHECK((be.seen[i].h.flags & vu::flag::need_reply));
}

TEST_CASE("vhost-user: a malformed or refusing back end is a clear error") {
  struct Case {
    const char* name;
    Script script;
    const char* expect;
  };
  using R = vu::Request;
  const std::vector<Case> cases = {
      {"short reply", [](const Message& m) {
         if (static_cast<R>(m.h.request) == R::get_features) {
           const uint32_t v = 1;
           return Action{reply_bytes(m.h.request, vu::flag::version | vu::flag::reply, &v, 4)};
         }
         return well_behaved(m);
       }, "carries 4 bytes, expected 8"},
      {"wrong request code", [](const Message& m) {
         if (static_cast<R>(m.h.request) == R::get_features) {
           const uint64_t v = offered;
           return Action{reply_bytes(99, vu::flag::version | vu::flag::reply, &v, 8)};
         }
         return well_behaved(m);
       }, "with request code 99"},
      {"no reply flag", [](const Message& m) {
         if (static_cast<R>(m.h.request) == R::get_features) {
           const uint64_t v = offered;
           return Action{reply_bytes(m.h.request, vu::flag::version, &v, 8)};
         }
         return well_behaved(m);
       }, "want version 1 and the reply bit"},
      {"hangs up", [](const Message& m) {
         if (static_cast<R>(m.h.request) == R::get_features) return Action{{}, true};
         return well_behaved(m);
       }, "closed the connection instead of answering GET_FEATURES"},
      {"no VERSION_1", [](const Message& m) {
         if (static_cast<R>(m.h.request) == R::get_features) return Action{reply_u64(m, net_feature::mrg_rxbuf)};
         return well_behaved(m);
       }, "does not offer VERSION_1"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    FakeBackEnd be(c.script);
    auto t = open_at(be);
    REQUIRE(!t);
    CHECK(t.error().message.find(c.expect) != std::string::npos);
  }

  SECTION("a refused SET_FEATURES fails negotiation with the back end's word") {
    FakeBackEnd be([](const Message& m) {
      if (static_cast<R>(m.h.request) == R::set_features) return Action{reply_u64(m, 1)};
      return well_behaved(m);
    });
    auto t = open_at(be);
    REQUIRE(t);
    auto dev = VirtioDevice::init(std::move(*t), net_feature::version_1);
    REQUIRE(!dev);
    CHECK(dev.error().message.find("refused SET_FEATURES") != std::string::npos);
  }
  SECTION("a back end that never answers times out") {
    FakeBackEnd be([](const Message& m) {
      if (static_cast<R>(m.h.request) == R::get_features) return Action{};
      return well_behaved(m);
    });
    auto t = open_at(be);
    REQUIRE(!t);
    CHECK(t.error().message.find("no reply to GET_FEATURES") != std::string::npos);
  }
}
