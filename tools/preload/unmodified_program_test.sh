#!/usr/bin/env bash
# A program that knows nothing of ionsim, built outside Bazel with the system's `cc` from the ABI header alone
# (testdata/raw_ion.c: raw ioctls, two mappings, fcntl/dup2, fork, debugfs, misuse), runs unmodified under
# `ionsim exec`; its output must equal testdata/raw_ion.expected, which is also what it prints on the real
# module in the QEMU guest (examples/guest_compare.sh checks that).
# Usage: unmodified_program_test.sh IONSIM RAW_ION_C UAPI_HEADER EXPECTED
set -euo pipefail
ionsim=$1 src=$2 uapi=$3 expected=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -Wall -Wextra -Werror -I"$(dirname "$uapi")" "$src" -o "$work/raw_ion"
"$ionsim" exec -- "$work/raw_ion" >"$work/out"
diff -u "$expected" "$work/out"
# A bad board or profile is a usage error before anything runs.
status=0
"$ionsim" exec --profile=nope -- "$work/raw_ion" >/dev/null 2>&1 || status=$?
[[ $status == 2 ]] || { echo "FAIL: exec with a bad profile exited $status, expected 2"; exit 1; }
# The program's exit status comes through.
status=0
"$ionsim" exec -- sh -c 'exit 7' || status=$?
[[ $status == 7 ]] || { echo "FAIL: exec of 'exit 7' exited $status"; exit 1; }
# A kernel WARN is a finding: a buffer left between DMA_BUF_IOCTL_SYNC START and END dies kmapped (v4.4's
# WARN_ON(buffer->kmap_cnt > 0) in ion_buffer_destroy) when the process exits; the program exits 0, exec 1.
cat >"$work/warn.c" <<'PROG'
#include <fcntl.h>
#include <linux/types.h>
#include <sys/ioctl.h>
#include "ion.h"
int main(void) {
	struct ion_allocation_data a = {4096, 0, 1, 0, 0};
	struct ion_fd_data s = {0, -1};
	__u64 start_read = 1; /* DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ */
	int ion = open("/dev/ion", O_RDONLY);
	ioctl(ion, ION_IOC_ALLOC, &a);
	s.handle = a.handle;
	ioctl(ion, ION_IOC_SHARE, &s);
	return ioctl(s.fd, _IOW('b', 0, __u64), &start_read) == 0 ? 0 : 3;
}
PROG
cc -I"$(dirname "$uapi")" "$work/warn.c" -o "$work/warn"
status=0
"$ionsim" exec -- "$work/warn" 2>"$work/err" || status=$?
[[ $status == 1 ]] || { echo "FAIL: exec of a program leaving a WARN exited $status, expected 1"; cat "$work/err"; exit 1; }
grep -q "ion_buffer_destroy" "$work/err" || { echo "FAIL: the report does not name the WARN"; cat "$work/err"; exit 1; }
echo "ok: raw_ion runs unmodified under ionsim exec"
