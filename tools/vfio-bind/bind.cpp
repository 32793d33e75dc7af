// vfio-bind bind / unbind / restore (see bind.hpp).
//
// The kernel's interface, Documentation/ABI/testing/sysfs-bus-pci:
//   devices/<bdf>/driver_override  which driver may take the device next
//   drivers/<name>/unbind, bind    release / attach a device by BDF
//   drivers_probe                  let the matching driver (or the override) attach
#include "bind.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <string_view>
#include <vector>

#include <vpmd/pmd/pci.hpp>

#include "group.hpp"
#include "state.hpp"
#include "sysfs_write.hpp"

namespace vfio_bind {

namespace {

using vpmd::pmd::PciDevice;

constexpr const char* kVfioPci = "vfio-pci";

struct Env {
  const Options& opt;
  std::string pci;  // <root>/bus/pci
  DriverMemory memory;

  explicit Env(const Options& o)
      : opt(o), pci(o.sysfs_root + "/bus/pci"),
        memory(o.state_dir.empty() ? default_state_dir(o.sysfs_root) : o.state_dir) {}

  std::string device_dir(const PciDevice& d) const { return pci + "/devices/" + d.bdf; }
  std::string driver_dir(const std::string& name) const { return pci + "/drivers/" + name; }
  bool driver_loaded(const std::string& name) const { return ::access(driver_dir(name).c_str(), F_OK) == 0; }

  std::optional<std::string> current_driver(const PciDevice& d) const {
    auto now = vpmd::pmd::pci_probe(d.bdf, opt.sysfs_root);
    return now ? now->driver : std::nullopt;
  }
};

Status require_root() {
  const char* assume = std::getenv("VPMD_VFIO_BIND_ASSUME_ROOT");
  if (::geteuid() == 0 || (assume != nullptr && std::string_view(assume) == "1")) return {};
  return Status::fail(ExitCode::not_root,
                      "must run as root: binding drivers writes to /sys/bus/pci (run it with sudo)");
}

// Probes every BDF before anything changes, so a typo in the third argument
// does not leave the first two half-moved.
Status probe_all(const Options& opt, std::vector<PciDevice>& out) {
  for (const auto& arg : opt.bdfs) {
    auto dev = vpmd::pmd::pci_probe(arg, opt.sysfs_root);
    if (!dev)
      return Status::fail(dev.error().code == EINVAL ? ExitCode::usage : ExitCode::no_device, dev.error().message);
    const bool dup = std::any_of(out.begin(), out.end(), [&](const PciDevice& d) { return d.bdf == dev->bdf; });
    if (!dup) out.push_back(std::move(dev.value()));
  }
  return {};
}

std::vector<std::string> up_interfaces(const PciDevice& d) {
  std::vector<std::string> names;
  for (const auto& i : d.interfaces)
    if (i.up) names.push_back(i.name);
  return names;
}

Status refuse_if_up(const Options& opt, const PciDevice& d, std::ostream& out) {
  const auto up = up_interfaces(d);
  if (up.empty()) return {};
  std::string names;
  for (const auto& n : up) names += (names.empty() ? "" : ", ") + n;
  if (opt.force) {
    out << d.bdf << ": interface " << names << " is up; going on because of --force\n";
    return {};
  }
  return Status::fail(ExitCode::interface_up,
                      d.bdf + " carries network interface " + names +
                          ", which is up: taking the device would cut its traffic. Bring it down "
                          "(ip link set " + up.front() + " down) or pass --force");
}

Status ensure_driver_loaded(const Env& env, const std::string& name) {
  if (env.driver_loaded(name)) return {};
  int err = 0;
  const int rc = run_program(env.opt.modprobe, name, err);
  if (rc == -1 && err != 0)
    return Status::fail(ExitCode::no_driver, "driver " + name + " is not loaded and '" + env.opt.modprobe +
                                                 "' cannot be run (" + std::strerror(err) +
                                                 "): install kmod (apt-get install kmod) or load " + name +
                                                 " yourself, then retry");
  if (rc != 0)
    return Status::fail(ExitCode::no_driver, "'" + env.opt.modprobe + " " + name + "' failed (exit " +
                                                 std::to_string(rc) + "): is the module installed for the running "
                                                 "kernel (package linux-image-$(uname -r))? See dmesg");
  if (!env.driver_loaded(name))
    return Status::fail(ExitCode::no_driver, "'" + env.opt.modprobe + " " + name + "' succeeded but " +
                                                 env.driver_dir(name) + " does not exist: load " + name + " yourself");
  return {};
}

// Without an IOMMU, vfio-pci only takes devices in no-IOMMU mode.
Status check_iommu(const Env& env, std::ostream& out) {
  auto state = vpmd::pmd::iommu_state(env.opt.sysfs_root);
  if (state.mode == vpmd::pmd::IommuMode::on) return {};

  const std::string param = env.opt.sysfs_root + "/module/vfio/parameters/enable_unsafe_noiommu_mode";
  const std::string risk = "no-IOMMU mode is UNSAFE: the device can DMA anywhere in physical memory, "
                           "so only use it on a machine (or VM) you can afford to corrupt";
  if (state.mode == vpmd::pmd::IommuMode::noiommu_enabled) {
    out << "warning: no IOMMU; vfio's no-IOMMU mode is enabled (" << risk << ")\n";
    return {};
  }
  if (state.mode == vpmd::pmd::IommuMode::noiommu_available) {
    if (!env.opt.noiommu)
      return Status::fail(ExitCode::no_iommu,
                          "no IOMMU is active and vfio's no-IOMMU mode is off. Either boot with the IOMMU on "
                          "(intel_iommu=on / amd_iommu=on), or enable no-IOMMU mode: pass --noiommu, or run "
                          "'echo Y > " + std::string("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode") +
                              "' (or 'modprobe vfio enable_unsafe_noiommu_mode=1'). " + risk);
    auto st = write_attr(param, "Y");
    if (!st.ok()) return Status::fail(ExitCode::no_iommu, "cannot enable no-IOMMU mode: " + st.message);
    out << "warning: enabled vfio's no-IOMMU mode (" << risk << ")\n";
    return {};
  }
  return Status::fail(ExitCode::no_iommu,
                      "no IOMMU is active and vfio has no no-IOMMU mode (" + param +
                          " missing: vfio not loaded, or built without CONFIG_VFIO_NOIOMMU). Boot with the IOMMU "
                          "on (intel_iommu=on / amd_iommu=on), or use a vfio built with CONFIG_VFIO_NOIOMMU and run "
                          "'modprobe vfio enable_unsafe_noiommu_mode=1'. " + risk);
}

Status unbind_current(const Env& env, const PciDevice& d) {
  const auto drv = env.current_driver(d);
  if (!drv) return {};
  if (auto st = write_attr(env.driver_dir(*drv) + "/unbind", d.bdf); !st.ok()) return st;
  if (!wait_until([&] { return !env.current_driver(d).has_value(); }))
    return Status::fail(ExitCode::sysfs_failed, d.bdf + " is still bound to " + *drv +
                                                    " after writing its unbind file; see dmesg");
  return {};
}

Status bind_one(const Env& env, const PciDevice& d, std::ostream& out) {
  const std::string original = d.driver.value_or("");
  if (auto st = env.memory.remember_if_new(d.bdf, original); !st.ok()) return st;
  if (auto st = write_attr(env.device_dir(d) + "/driver_override", kVfioPci); !st.ok()) return st;
  if (auto st = unbind_current(env, d); !st.ok()) return st;
  if (auto st = write_attr(env.pci + "/drivers_probe", d.bdf); !st.ok()) return st;
  if (!wait_until([&] { return env.current_driver(d).value_or("") == kVfioPci; }))
    return Status::fail(ExitCode::sysfs_failed,
                        d.bdf + " did not bind to vfio-pci after drivers_probe: vfio-pci refused it "
                                "(no IOMMU group? see 'dmesg | tail'); it is left without a driver, "
                                "'vfio-bind restore " + d.bdf + "' gives it back");
  auto now = vpmd::pmd::pci_probe(d.bdf, env.opt.sysfs_root);
  std::string where;
  if (now) {
    auto g = check_group(*now, env.opt.sysfs_root);
    if (g.group) where = ", group " + std::to_string(*g.group) + " (" + g.vfio_path + ")";
  }
  out << d.bdf << ": bound to vfio-pci (was " << (original.empty() ? "no driver" : original) << ")" << where
      << "\n";
  return {};
}

}  // namespace

Status run_bind(const Options& opt, std::ostream& out) {
  if (auto st = require_root(); !st.ok()) return st;
  std::vector<PciDevice> devs;
  if (auto st = probe_all(opt, devs); !st.ok()) return st;
  Env env(opt);

  std::vector<std::string> joining;
  for (const auto& d : devs) joining.push_back(d.bdf);
  for (const auto& d : devs) {
    if (d.driver.value_or("") == kVfioPci) continue;
    if (auto st = refuse_if_up(opt, d, out); !st.ok()) return st;
    auto g = check_group(d, opt.sysfs_root, joining);
    if (!g.offenders.empty()) {
      std::string who;
      for (const auto& o : g.offenders) who += (who.empty() ? "" : ", ") + o.bdf + " (" + o.driver + ")";
      return Status::fail(ExitCode::group_shared,
                          d.bdf + " shares IOMMU group " + std::to_string(*g.group) +
                              " with devices the host still drives: " + who +
                              ". VFIO takes whole groups: bind them too (list them all in one command), or "
                              "unbind them, or move the card to a slot with its own group");
    }
  }
  if (auto st = ensure_driver_loaded(env, kVfioPci); !st.ok()) return st;
  if (auto st = check_iommu(env, out); !st.ok()) return st;

  for (const auto& d : devs) {
    if (d.driver.value_or("") == kVfioPci) {
      out << d.bdf << ": already bound to vfio-pci\n";
      continue;
    }
    if (auto st = bind_one(env, d, out); !st.ok()) return st;
  }
  return {};
}

Status run_unbind(const Options& opt, std::ostream& out) {
  if (auto st = require_root(); !st.ok()) return st;
  std::vector<PciDevice> devs;
  if (auto st = probe_all(opt, devs); !st.ok()) return st;
  Env env(opt);
  for (const auto& d : devs)
    if (auto st = refuse_if_up(opt, d, out); !st.ok()) return st;
  for (const auto& d : devs) {
    if (!d.driver) {
      out << d.bdf << ": already without a driver\n";
      continue;
    }
    // Remember a host driver, so restore can return to it; a device we bound
    // ourselves keeps the record made by bind.
    if (auto st = env.memory.remember_if_new(d.bdf, *d.driver); !st.ok()) return st;
    if (auto st = unbind_current(env, d); !st.ok()) return st;
    out << d.bdf << ": unbound from " << *d.driver << "\n";
  }
  return {};
}

Status run_restore(const Options& opt, std::ostream& out) {
  if (auto st = require_root(); !st.ok()) return st;
  std::vector<PciDevice> devs;
  if (auto st = probe_all(opt, devs); !st.ok()) return st;
  Env env(opt);
  std::vector<std::string> targets;
  for (const auto& d : devs) {
    auto remembered = env.memory.recall(d.bdf);
    if (!remembered)
      return Status::fail(ExitCode::nothing_remembered,
                          "no remembered driver for " + d.bdf + " (" + env.memory.path(d.bdf) +
                              " missing): it was not bound by vfio-bind with this --state-dir. Give it to a "
                              "driver yourself: echo > driver_override, then echo " + d.bdf +
                              " > /sys/bus/pci/drivers/<name>/bind");
    targets.push_back(*remembered);
  }
  for (const auto& t : targets)
    if (!t.empty())
      if (auto st = ensure_driver_loaded(env, t); !st.ok()) return st;

  for (std::size_t i = 0; i < devs.size(); ++i) {
    const auto& d = devs[i];
    const std::string& target = targets[i];
    // An empty write clears driver_override (sysfs-bus-pci ABI).
    if (auto st = write_attr(env.device_dir(d) + "/driver_override", "\n"); !st.ok()) return st;
    if (env.current_driver(d).value_or("") != target) {
      if (auto st = unbind_current(env, d); !st.ok()) return st;
      if (!target.empty()) {
        if (auto st = write_attr(env.driver_dir(target) + "/bind", d.bdf); !st.ok()) return st;
        if (!wait_until([&] { return env.current_driver(d).value_or("") == target; }))
          return Status::fail(ExitCode::sysfs_failed,
                              d.bdf + " did not bind to " + target + "; see 'dmesg | tail'");
      }
    }
    env.memory.forget(d.bdf);
    out << d.bdf << ": restored to " << (target.empty() ? "no driver" : target) << "\n";
  }
  return {};
}

}  // namespace vfio_bind
