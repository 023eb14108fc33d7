#!/usr/bin/env python3
# Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of fuzz/ion_ops_fuzzer (fuzz/corpus/ion_ops/): a few programs in the 8-byte record
encoding of fuzz/ion_program.h, each a typical ION life cycle. `ionsim decode FILE` prints one as a trace.
Usage: tools/fuzz/make_ops_seeds.py [OUT_DIR]"""
import os
import sys

# Byte 0 of a record (fuzz/ion_program.cc: kOpTable).
SPAWN, FORK, EXIT, OPEN, CLOSE, DUP, PASS, ALLOC, FREE, SHARE = 0, 1, 2, 3, 5, 6, 7, 8, 11, 13
MAP, IMPORT, SYNC, CUSTOM, NEW_ALLOC, QUERY, IOCTL, MMAP, MUNMAP = 15, 16, 17, 18, 19, 21, 22, 24, 26
STORE, LOAD, DMABUF_SYNC, DRAIN, SHRINK_OR_DEBUGFS = 27, 28, 29, 30, 31


def rec(op, a=0, b=0, c=0, d=0, e=0, f=0, g=0):
    return bytes([op, a, b, c, d, e, f, g])


def lifecycle(heap, len_index):
    # After the prelude: P1, C1 (fd 0). alloc -> H1; share -> F1 (fd 1); mmap F1 -> M1.
    return b"".join([
        rec(ALLOC, 0, 0, len_index, heap, 0, 0),
        rec(SHARE, 0, 0, 0),
        rec(MMAP, 1, 0, 0, 0, 0, 0),
        rec(STORE, 0, 0, 0, 16, 15, 0xab),
        rec(LOAD, 0, 0, 0, 16, 15),
        rec(DMABUF_SYNC, 1, 0, 0, 2),
        rec(DMABUF_SYNC, 1, 0, 1, 2),
        rec(FREE, 0, 0, 0),
        rec(MUNMAP, 0, 0, 0, 0),
        rec(CLOSE, 1),
        rec(DRAIN),
        rec(SHRINK_OR_DEBUGFS, 0, 0, heap),
    ])


SEEDS = {
    "system-lifecycle": lifecycle(0, 6),
    "system-contig-lifecycle": lifecycle(1, 4),
    "carveout-lifecycle": lifecycle(2, 7),
    "chunk-lifecycle": lifecycle(3, 9),
    "dma-lifecycle": lifecycle(4, 6),
    # fork and pass: the child and another process import the buffer, then everyone exits.
    "fork-pass-import": b"".join([
        rec(ALLOC, 0, 0, 11, 0),          # H1 = alloc C1 64K system
        rec(MAP, 0, 0, 0),                # F1 = map C1 H1
        rec(FORK, 0),                     # P2 = fork P1 (C1@P2, F1@P2)
        rec(SPAWN, 1),                    # P3 = spawn camera
        rec(PASS, 1, 2),                  # F2 = pass F1 P3
        rec(OPEN, 2, 0, 2),               # C2 = open P3
        rec(IMPORT, 2, 0),                # H2 = import C2 F2 (clients C1 C1@P2 C2; P3's dma-bufs: F2)
        rec(FREE, 0, 0, 0),               # free C1 H1
        rec(EXIT, 0),                     # exit P1
        rec(FREE, 1, 0, 0),               # free C2 H2 (clients C1@P2 C2)
        rec(EXIT, 0),
        rec(EXIT, 0),
    ]),
    # the 4.12 ALLOC, heap query, dup and sync.
    "new-alloc-query": b"".join([
        rec(NEW_ALLOC, 0, 0, 8, 2, 0, 0),  # F1 = new_alloc C1 16K carveout
        rec(QUERY, 0, 0, 0, 0),            # query C1 cnt=0 heaps=null
        rec(QUERY, 0, 0, 3, 2),            # query C1 cnt=5 heaps=buf
        rec(DUP, 1),                       # F2 = dup F1
        rec(IMPORT, 0, 1),                 # H1 = import C1 F2 (P1's dma-bufs: F1 F2)
        rec(SYNC, 0, 0),                   # sync C1 F1
        rec(MMAP, 2, 0, 1, 0, 4, 0),       # M1 = mmap F2 8K
        rec(STORE, 0, 0, 0, 0, 200, 1),
        rec(CUSTOM, 0, 0, 1, 0, 0),
        rec(CLOSE, 1),
        rec(CLOSE, 1),
        rec(SHRINK_OR_DEBUGFS, 0, 0, 6),   # debugfs ion/state
    ]),
    # raw ioctls on /dev/ion and a dma-buf: bad pointers, wrong sizes, unknown commands.
    "raw-ioctls": b"".join([
        rec(ALLOC, 0, 0, 4, 0),            # H1
        rec(SHARE, 0, 0, 0),               # F1
        rec(IOCTL, 0, 2, 1, 0, 0, 1, 0),   # FREE with handle 1 from raw bytes
        rec(IOCTL, 0, 1, 0),               # ALLOC with a bad pointer
        rec(IOCTL, 0, 0, 7),               # HEAP_QUERY with NULL
        rec(IOCTL, 1, 2, 9, 0, 0, 1, 0),   # DMA_BUF_IOCTL_SYNC start read
        rec(IOCTL, 1, 2, 9, 0, 0, 5, 0),   # ... end read
        rec(IOCTL, 0, 2, 12, 0),           # an unknown ION command
        rec(IOCTL, 0, 2, 10, 0),           # ALLOC with a 16-byte size field
        rec(IOCTL, 1, 2, 13),              # FIOCLEX
        rec(OPEN, 0, 6, 0),                # D1 = open debugfs
        rec(IOCTL, 2, 2, 3, 0, 0, 1, 0),   # SHARE on the debugfs file
    ]),
    # many clients and handles in one process, pools filled and shrunk.
    "pools-and-shrink": b"".join([
        rec(ALLOC, 0, 0, 15, 0, 0, 0),     # 1 MiB system
        rec(ALLOC, 0, 0, 13, 0, 0, 1),     # 128K system cached
        rec(ALLOC, 0, 0, 4, 6, 0, 0),      # 4K any heap
        rec(OPEN, 0, 0, 0),                # C2
        rec(ALLOC, 1, 0, 10, 1, 0, 0),     # 32K system_contig on C2
        rec(FREE, 0, 0, 0),
        rec(FREE, 0, 0, 1),
        rec(CLOSE, 1),
        rec(DRAIN),
        rec(SHRINK_OR_DEBUGFS, 1, 0, 0, 1, 3),  # shrink system n=3
        rec(SHRINK_OR_DEBUGFS, 1, 0, 0, 0),     # shrink system n=0
        rec(SHRINK_OR_DEBUGFS, 0, 0, 0),        # debugfs ion/heaps/system
    ]),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../fuzz/corpus/ion_ops")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
