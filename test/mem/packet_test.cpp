// Packet: layout (also static_asserted in the header) and the inline helpers.
#include <catch2/catch.hpp>

#include <cstddef>
#include <vpmd/mem/packet.hpp>

using vpmd::Packet;

namespace {

// One object as a pool lays it out: [Packet][headroom][data room].
struct alignas(64) Object {
  Packet pkt;
  std::byte buf[Packet::default_headroom + 512];
};

Packet& fresh(Object& o, std::uint64_t iova_base) {
  o.pkt = Packet{};
  o.pkt.buf_addr = o.buf;
  o.pkt.buf_iova = iova_base;
  o.pkt.buf_len = sizeof(o.buf);
  o.pkt.data_off = Packet::default_headroom;
  o.pkt.nb_segs = 1;
  return o.pkt;
}

}  // namespace

TEST_CASE("Packet is two cache lines with line 0 for RX and line 1 for chaining", "[packet]") {
  CHECK(sizeof(Packet) == 128);
  CHECK(alignof(Packet) == 64);
  CHECK(offsetof(Packet, buf_addr) == 0);
  CHECK(offsetof(Packet, buf_iova) == 8);
  CHECK(offsetof(Packet, data_off) == 16);
  CHECK(offsetof(Packet, ol_flags) < 64);
  CHECK(offsetof(Packet, packet_type) < 64);
  CHECK(offsetof(Packet, next) == 64);
  CHECK(offsetof(Packet, gso_type) < 128);
}

TEST_CASE("Packet data/iova/headroom/tailroom follow data_off and data_len", "[packet]") {
  Object o;
  Packet& p = fresh(o, 0x10000);
  CHECK(p.data() == o.buf + Packet::default_headroom);
  CHECK(p.iova() == 0x10000 + Packet::default_headroom);
  CHECK(p.headroom() == Packet::default_headroom);
  CHECK(p.tailroom() == 512);

  std::byte* a = p.append(100);
  REQUIRE(a == p.data());
  CHECK(p.data_len == 100);
  CHECK(p.pkt_len == 100);
  CHECK(p.tailroom() == 412);

  std::byte* h = p.prepend(12);  // a virtio-net header (virtio-v1.2 §5.1.6)
  REQUIRE(h == o.buf + Packet::default_headroom - 12);
  CHECK(p.iova() == 0x10000 + Packet::default_headroom - 12);
  CHECK(p.data_len == 112);
  CHECK(p.pkt_len == 112);
  CHECK(p.headroom() == Packet::default_headroom - 12);
}

TEST_CASE("Packet append/prepend return nullptr and change nothing when there is no room", "[packet]") {
  Object o;
  Packet& p = fresh(o, 0);
  REQUIRE(p.append(512) != nullptr);
  CHECK(p.tailroom() == 0);
  CHECK(p.append(1) == nullptr);
  CHECK(p.data_len == 512);
  CHECK(p.pkt_len == 512);
  REQUIRE(p.prepend(Packet::default_headroom) == o.buf);
  CHECK(p.prepend(1) == nullptr);
  CHECK(p.data_off == 0);
  CHECK(p.pkt_len == 512u + Packet::default_headroom);
}

TEST_CASE("Packet chain links segments, counts them and appends to the last", "[packet]") {
  Object a, b, c;
  Packet& pa = fresh(a, 0);
  Packet& pb = fresh(b, 0);
  Packet& pc = fresh(c, 0);
  pa.append(10);
  pb.append(20);
  pc.append(30);
  CHECK(pa.last() == &pa);
  REQUIRE(pb.chain(&pc));
  REQUIRE(pa.chain(&pb));
  CHECK(pa.nb_segs == 3);
  CHECK(pa.pkt_len == 60);
  CHECK(pa.last() == &pc);
  CHECK(pa.next == &pb);
  std::byte* tail = pa.append(5);
  CHECK(tail == pc.data() + 30);
  CHECK(pc.data_len == 35);
  CHECK(pa.pkt_len == 65);
  CHECK(pa.data_len == 10);

  Object d;
  Packet& pd = fresh(d, 0);
  pd.nb_segs = UINT16_MAX;  // pretend: a chain that cannot grow
  CHECK_FALSE(pd.chain(&pa));
  CHECK(pd.next == nullptr);
}
