# Shared by prepare, run-guest and qemu-test (sourced, not run).
# Exit code 77 means "cannot run here": ctest reports it as skipped.
VPMD_SKIP=77
qemu_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$qemu_dir/../../.." && pwd)
default_cache=${VPMD_QEMU_CACHE:-$repo_root/build/qemu-cache}

say() { echo "${0##*/}: $*" >&2; }
skip() { say "SKIP: $*"; exit $VPMD_SKIP; }
die() { say "error: $*"; exit 1; }

# The newest kernel that has both modules and an image in /boot. Never
# hard-coded: whatever linux-image-amd64 installed.
find_kernel_version() {
  local v best=""
  for d in /lib/modules/*/; do
    v=$(basename "$d")
    [ -e "/boot/vmlinuz-$v" ] || continue
    best=$(printf '%s\n%s\n' "$best" "$v" | sed '/^$/d' | sort -V | tail -n 1)
  done
  echo "$best"
}
