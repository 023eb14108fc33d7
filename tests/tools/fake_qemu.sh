#!/bin/sh
# A stand-in for tools/qemu/ionsim-qemu in the crosscheck's tests: takes the same `run` arguments, "runs" each
# trace of the bundle on the model with `ionsim replay` (tools/ionsim/ionsim, relative to the working
# directory), and reports handle id 7 wherever the model allocated handle 2, as a diverging kernel would. Its
# console is a file it names on stdout as the harness does, written trace by trace.
set -u
board=dummy
data=
out=
while [ $# -gt 0 ]; do
  case "$1" in
    --board | --data | --out | --timeout | --bin | --append | --profile)
      case "$1" in
        --board) board=$2 ;;
        --data) data=$2 ;;
        --out) out=$2 ;;
      esac
      shift 2
      ;;
    --) break ;;
    *) shift ;;
  esac
done
work=$data/fake
mkdir -p "$work"
rm -f "$work"/*
serial=$work/serial.log
echo "IONSIM_BOOTED uptime=0" >"$serial"
echo "ionsim-qemu: run: live serial log $serial"
awk -v dir="$work" '
  NR <= 2 { next }
  left > 0 { print >> (dir "/" name ".trace"); left--; next }
  /^trace / { name = $2; left = $3; printf "" > (dir "/" name ".trace"); print name >> (dir "/names") }
' "$data/bundle"
: >"$out"
n=0
while read -r name; do
  {
    echo "IONSIM_TRACE $name ok us=1000 reload_us=100"
    tools/ionsim/ionsim replay --board "$board" "$work/$name.trace" 2>/dev/null | sed 's/=> ok id=2$/=> ok id=7/'
    echo "IONSIM_TRACE_END $name"
  } >>"$out"
  n=$((n + 1))
done <"$work/names"
echo "IONSIM_REPLAY traces=$n us=$((n * 1000))" >>"$out"
cat "$out" >>"$serial"
