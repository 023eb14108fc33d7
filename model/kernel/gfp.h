// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// GFP flags. The bit values are those of include/linux/gfp.h @ v4.4; they are not an ABI, but keeping them makes
// a flags value printed by the model read the same as one printed by the kernel.
#ifndef MODEL_KERNEL_GFP_H_
#define MODEL_KERNEL_GFP_H_

namespace ionsim::kernel {

using gfp_t = unsigned int;

// Mirrors include/linux/gfp.h @ v4.4 (the ___GFP_* bit values).
inline constexpr gfp_t __GFP_DMA = 0x01u;
inline constexpr gfp_t __GFP_HIGHMEM = 0x02u;
inline constexpr gfp_t __GFP_DMA32 = 0x04u;
inline constexpr gfp_t __GFP_MOVABLE = 0x08u;
inline constexpr gfp_t __GFP_RECLAIMABLE = 0x10u;
inline constexpr gfp_t __GFP_HIGH = 0x20u;
inline constexpr gfp_t __GFP_IO = 0x40u;
inline constexpr gfp_t __GFP_FS = 0x80u;
inline constexpr gfp_t __GFP_COLD = 0x100u;
inline constexpr gfp_t __GFP_NOWARN = 0x200u;
inline constexpr gfp_t __GFP_REPEAT = 0x400u;
inline constexpr gfp_t __GFP_NOFAIL = 0x800u;
inline constexpr gfp_t __GFP_NORETRY = 0x1000u;
inline constexpr gfp_t __GFP_MEMALLOC = 0x2000u;
inline constexpr gfp_t __GFP_COMP = 0x4000u;
inline constexpr gfp_t __GFP_ZERO = 0x8000u;
inline constexpr gfp_t __GFP_NOMEMALLOC = 0x10000u;
inline constexpr gfp_t __GFP_HARDWALL = 0x20000u;
inline constexpr gfp_t __GFP_THISNODE = 0x40000u;
inline constexpr gfp_t __GFP_ATOMIC = 0x80000u;
inline constexpr gfp_t __GFP_NOACCOUNT = 0x100000u;
inline constexpr gfp_t __GFP_NOTRACK = 0x200000u;
inline constexpr gfp_t __GFP_DIRECT_RECLAIM = 0x400000u;
inline constexpr gfp_t __GFP_OTHER_NODE = 0x800000u;
inline constexpr gfp_t __GFP_WRITE = 0x1000000u;
inline constexpr gfp_t __GFP_KSWAPD_RECLAIM = 0x2000000u;
inline constexpr gfp_t __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;

inline constexpr gfp_t GFP_ATOMIC = __GFP_HIGH | __GFP_ATOMIC | __GFP_KSWAPD_RECLAIM;
inline constexpr gfp_t GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
inline constexpr gfp_t GFP_NOIO = __GFP_RECLAIM;
inline constexpr gfp_t GFP_NOFS = __GFP_RECLAIM | __GFP_IO;
inline constexpr gfp_t GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
inline constexpr gfp_t GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL;
inline constexpr gfp_t GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM;
inline constexpr gfp_t GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE;

// Mirrors include/linux/gfp.h:gfpflags_allow_blocking() @ v4.4.
inline bool gfpflags_allow_blocking(gfp_t gfp_flags) { return (gfp_flags & __GFP_DIRECT_RECLAIM) != 0; }

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_GFP_H_
