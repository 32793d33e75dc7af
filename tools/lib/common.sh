# Shared by tools/run-tests and tools/run-demo: say what we do, install only
# what is missing, reserve hugepages. Sourced, not run.

say() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian packages every build needs.
VPMD_BUILD_PKGS=(g++ cmake ninja-build pkg-config catch2 libxsimd-dev libnuma-dev linux-libc-dev
                 clang libclang-rt-14-dev)
# Test peers and benchmark references, never linked into libvpmd.a.
VPMD_PEER_PKGS=(dpdk-dev libdpdk-dev valgrind)

apt_updated=0
install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    note "all present: $*"
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
  note "installing: ${missing[*]}"
  if [ $apt_updated -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# reserve_hugepages N: at least N free 2 MiB pages (the pools, the rings, DPDK's peers).
reserve_hugepages() {
  local want=$1 f=/proc/sys/vm/nr_hugepages
  local total free
  total=$(cat $f)
  free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  if [ "$free" -ge "$want" ]; then
    note "hugepages: $free of $total 2 MiB pages free (want $want)"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    note "hugepages: only $free free and not root; tests that need them will say they skip"
    return 0
  fi
  echo $((total + want - free)) > $f
  note "hugepages: reserved $(cat $f) 2 MiB pages, $(awk '/HugePages_Free/ {print $2}' /proc/meminfo) free"
  mkdir -p /dev/hugepages
  mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages || true
}

njobs() { echo 2; }
