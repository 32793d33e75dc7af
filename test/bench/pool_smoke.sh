#!/bin/bash
# ctest smoke test: bench_pool --quick runs, exits 0 and prints its three
# `name value ns/obj` lines and valid JSON. No timing assertions.
set -u
bin=$1
json=$(mktemp)
trap 'rm -f "$json"' EXIT
out=$("$bin" --quick --json "$json") || { echo "bench_pool exited with $?"; exit 1; }
echo "$out"
for row in pool_cache_bulk32_1t pool_nocache_bulk32_1t pool_cache_bulk32_2t; do
  echo "$out" | grep -Eq "^$row [0-9]+\.[0-9]+ ns/obj\$" || { echo "missing line: $row"; exit 1; }
  grep -q "\"name\": \"$row\"" "$json" || { echo "missing in JSON: $row"; exit 1; }
done
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$json" 2>/dev/null || command -v python3 >/dev/null || true
echo "bench_pool smoke: ok"
