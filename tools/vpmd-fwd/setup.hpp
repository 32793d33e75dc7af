#pragma once
// Opening the ports, the pool and the queues, and saying what was chosen.
#include <memory>
#include <vector>

#include "engine.hpp"
#include "options.hpp"

namespace vpmd::fwd {

// Opens every port (not started yet), with the options' feature choices.
Result<std::vector<FwdPort>> open_ports(const Options& o);
// One pool on the first port's DMA mapper (every port of a process shares
// the VFIO container, so the mapper is the same one).
Result<std::unique_ptr<PacketPool>> create_pool(const Options& o, std::vector<FwdPort>& ports);
// One RX and one TX queue per port, then start.
Result<void> start_ports(const Options& o, std::vector<FwdPort>& ports, PacketPool& pool, PacketPool::Cache* cache);
// Transport, features, MAC, link, MTU and the chosen burst path with its reasons.
void print_ports(const Options& o, std::vector<FwdPort>& ports);

std::string mac_string(const std::array<uint8_t, 6>& m);

}  // namespace vpmd::fwd
