# usage: benchmarks/import_time.sh ROOT ARGS...: the import time (ms) of `jaxstab ARGS` with
# ROOT on PYTHONPATH: the sum of the top-level cumulative `-X importtime` times, median of 3.
root=$1; shift
for i in 1 2 3; do PYTHONPATH=$root python -X importtime -m jaxstab.cli "$@" 2>&1 >/dev/null | awk -F'|' '/^import time: +[0-9]/ && $3 !~ /^  / {s+=$2} END {printf "%.0f\n", s/1000}'; done | sort -n | sed -n 2p
