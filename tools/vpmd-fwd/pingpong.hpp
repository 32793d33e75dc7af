#pragma once
// vpmd-fwd --mode pingpong: round-trip latency with one frame in flight
// against a peer that returns every frame with its MACs swapped (testpmd
// macswap, vpmd-fwd --mode macswap). DPDK's arm of the same measurement is
// test/bench/dpdk_pingpong.c; the two define every figure the same way.
#include <csignal>

#include "engine.hpp"
#include "options.hpp"

namespace vpmd::fwd {

// Runs o.warmup_trips untimed and o.round_trips timed round trips on
// port.port (started), prints `name value unit` lines (and writes them as
// JSON to o.json). Returns the number of problems (lost or wrong frames, a
// short run, an unwritable JSON file): 0 means a clean run.
uint64_t run_pingpong(FwdPort& port, PacketPool& pool, PacketPool::Cache* cache, const Options& o,
                      const volatile std::sig_atomic_t& stop);

}  // namespace vpmd::fwd
