#pragma once
// The vhost-user transport (docs/interop/vhost-user.rst): the device is a
// back-end process (DPDK's vhost, QEMU's vhost-user-net peers, ...) reached
// through a UNIX socket, sharing our fd-backed DMA memory with no copy.
//
//   vhost-user:path=SOCK[,server=1][,queues=N][,packed=0|1][,in_order=0|1]
//              [,mrg_rxbuf=0|1][,event_idx=0|1][,timeout=SECONDS]
//
// The knobs mirror DPDK's virtio-user devargs: client by default (the back
// end listens); server=1 listens at SOCK and waits for the back end (its
// client=1 mode), which is also the mode in which a restarted back end finds
// us again. packed/in_order/mrg_rxbuf/event_idx override the PortConfig
// fields of the same meaning; timeout bounds the wait for a connection.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "vpmd/mem/result.hpp"
#include "vpmd/pmd/transport.hpp"

namespace vpmd::pmd {

struct VhostUserArgs {
  std::string path;
  bool server = false;
  uint16_t queues = 1;
  std::optional<bool> packed, in_order, mrg_rxbuf, event_idx;
  unsigned timeout_s = 30;
};

// Parses what follows "vhost-user:". Unknown keys and bad values are errors
// that name the key.
Result<VhostUserArgs> parse_vhost_user_args(std::string_view args);

// Connects (client) or listens and waits (server), then SET_OWNER and the
// feature handshake; the rest of §3.1.1 runs over the Transport interface.
Result<std::unique_ptr<Transport>> open_vhost_user_transport(const VhostUserArgs& args);

}  // namespace vpmd::pmd
