// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The heap picture (tools/ionsim/heap_svg.h): the exact SVG of a small known heap, well-formed XML whatever the
// names hold, every granule drawn exactly once (as free or as the buffer that holds it), set bits no buffer
// accounts for drawn as such, and the capture of a model heap's live, shared, orphaned and deferred buffers.
#include "tools/ionsim/heap_svg.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "model/backend/board_config.h"
#include "model/backend/libion.h"
#include "model/backend/model_backend.h"
#include "model/kernel/mm_user.h"
#include "tests/tools/xml_check.h"

namespace ionsim::testing {
namespace {

using State = HeapExtent::State;

HeapExtent Extent(uint64_t first, uint64_t count, const std::string& buffer, std::vector<std::string> holders,
                  State state = State::kLive) {
  HeapExtent e;
  e.first = first;
  e.count = count;
  e.buffer = buffer;
  e.holders = std::move(holders);
  e.state = state;
  return e;
}

HeapPicture Picture(const std::string& bits) {
  HeapPicture p;
  p.name = "tiny";
  p.type = "carveout";
  p.base = 0x10000;
  p.granule = 4096;
  for (char c : bits) p.bits.push_back(c == 'X');
  return p;
}

struct Drawn {
  uint64_t first;
  uint64_t count;
  std::string state;  // "free" for free runs
  std::string buffer;
};

// The value of attribute `name` in the tag starting at `pos`.
std::string Attr(const std::string& svg, size_t pos, const std::string& name) {
  const size_t end = svg.find('>', pos);
  const size_t at = svg.find(" " + name + "=\"", pos);
  if (at == std::string::npos || at > end) return "";
  const size_t start = at + name.size() + 3;
  return svg.substr(start, svg.find('"', start) - start);
}

// Every extent group and free rectangle of a rendered picture, read back from its data- attributes.
std::vector<Drawn> ReadBack(const std::string& svg) {
  std::vector<Drawn> drawn;
  for (const std::string tag : {"<g class=\"extent\"", "<rect class=\"free\""}) {
    for (size_t pos = svg.find(tag); pos != std::string::npos; pos = svg.find(tag, pos + 1)) {
      const bool free = tag[1] == 'r';
      drawn.push_back({std::stoull(Attr(svg, pos, "data-first")), std::stoull(Attr(svg, pos, "data-count")),
                       free ? "free" : Attr(svg, pos, "data-state"), free ? "" : Attr(svg, pos, "data-buffer")});
    }
  }
  return drawn;
}

// The heap below, 8 granules of 4 KiB at 0x10000:
//   granule  0  1  2  3  4  5  6  7
//   bit      X  X  .  .  X  X  X  .
//   buffer   b1 b1       b2 b2 b3
// b1 held by "cam 2" alone, b2 shared by "sf 1" and "cam 2", b3 on the deferred-free list.
// Expect exactly this document: two free runs, three extents (b2 in two bands), a 4 KiB-step axis, a legend with
// both processes, free, shared and deferred, and nothing for states that are absent (orphaned, unknown).
TEST(RenderHeapSvgTest, SmallKnownHeapRendersExactly) {
  HeapPicture p = Picture("XX..XXX.");
  p.extents = {Extent(0, 2, "b1", {"cam 2"}), Extent(4, 2, "b2", {"sf 1", "cam 2"}),
               Extent(6, 1, "b3", {"cam 2"}, State::kDeferredFree)};
  p.extents[1].detail = "buffer size 8192, ref 2, handles 2";
  const std::string svg = RenderHeapSvg({p}, "tiny heap");
  const std::string expected = R"svg(<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="1080" height="236" viewBox="0 0 1080 236" font-family="DejaVu Sans, Verdana, sans-serif" font-size="11">
<title>tiny heap</title>
<defs>
<pattern id="deferred" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#D9D9D9"/><rect width="3" height="6" fill="#8A8A8A"/></pattern>
<pattern id="orphan" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)"><rect width="1.5" height="8" fill="#000000" fill-opacity="0.45"/></pattern>
<style>
.heading{font-size:14px;font-weight:bold;fill:#222}
.sub{font-size:11px;font-weight:normal;fill:#555}
.edge{fill:none;stroke:#333;stroke-width:0.6}
.orphan-edge{stroke:#000;stroke-width:1.2;stroke-dasharray:4 2}
.frame{fill:none;stroke:#222;stroke-width:1}
.label{font-size:10px;fill:#111;text-anchor:middle;paint-order:stroke;stroke:#fff;stroke-opacity:0.75;stroke-width:2.5px}
.size{font-size:9px;fill:#222}
.free-label{font-size:10px;fill:#888;text-anchor:middle}
.axis line{stroke:#444;stroke-width:1}
.axis text{font-size:9.5px;fill:#333}
.axis .offset{fill:#777}
.legend text{font-size:11px;fill:#222}
</style>
</defs>
<rect width="1080" height="236" fill="#FFFFFF"/>
<text x="40" y="26" class="heading">tiny heap</text>
<g class="heap" data-name="tiny">
<text x="40" y="56" class="heading">tiny <tspan class="sub">carveout heap, 0x10000-0x17fff, 32 KiB in 8 granules of 4 KiB</tspan></text>
<text x="40" y="72" class="sub">20 KiB allocated, 12 KiB free in 2 extents, largest free extent 8 KiB</text>
<rect class="free" data-first="2" data-count="2" x="290" y="82" width="250" height="56" fill="#F7F7F2"><title>free: 0x12000-0x13fff (8 KiB)</title></rect>
<text x="415" y="114" class="free-label">free 8 KiB</text>
<rect class="free" data-first="7" data-count="1" x="915" y="82" width="125" height="56" fill="#F7F7F2"><title>free: 0x17000-0x17fff (4 KiB)</title></rect>
<text x="977.5" y="114" class="free-label">free 4 KiB</text>
<g class="extent" data-first="0" data-count="2" data-state="live" data-buffer="b1"><title>b1: 0x10000-0x11fff (8 KiB), held by cam 2</title><rect x="40" y="82" width="250" height="56" fill="#E69F00"/><rect x="40" y="82" width="250" height="56" class="edge"/><text x="165" y="108" class="label">b1</text><text x="165" y="121" class="label size">8 KiB</text></g>
<g class="extent" data-first="4" data-count="2" data-state="live" data-buffer="b2"><title>b2: 0x14000-0x15fff (8 KiB), shared by sf 1 + cam 2; buffer size 8192, ref 2, handles 2</title><rect x="540" y="82" width="250" height="28" fill="#56B4E9"/><rect x="540" y="110" width="250" height="28" fill="#E69F00"/><rect x="540" y="82" width="250" height="56" class="edge"/><text x="665" y="108" class="label">b2</text><text x="665" y="121" class="label size">8 KiB</text></g>
<g class="extent" data-first="6" data-count="1" data-state="deferred" data-buffer="b3"><title>b3: 0x16000-0x16fff (4 KiB), on the deferred-free list, last known client cam 2</title><rect x="790" y="82" width="125" height="56" fill="url(#deferred)"/><rect x="790" y="82" width="125" height="56" class="edge"/><text x="852.5" y="108" class="label">b3</text><text x="852.5" y="121" class="label size">4 KiB</text></g>
<rect x="40" y="82" width="1000" height="56" class="frame"/>
<g class="axis"><line x1="40" y1="138" x2="40" y2="143"/><text x="40" y="154" text-anchor="start">0x10000</text><text x="40" y="165" text-anchor="start" class="offset">+0</text><line x1="165" y1="138" x2="165" y2="143"/><text x="165" y="154" text-anchor="middle">0x11000</text><text x="165" y="165" text-anchor="middle" class="offset">+4 KiB</text><line x1="290" y1="138" x2="290" y2="143"/><text x="290" y="154" text-anchor="middle">0x12000</text><text x="290" y="165" text-anchor="middle" class="offset">+8 KiB</text><line x1="415" y1="138" x2="415" y2="143"/><text x="415" y="154" text-anchor="middle">0x13000</text><text x="415" y="165" text-anchor="middle" class="offset">+12 KiB</text><line x1="540" y1="138" x2="540" y2="143"/><text x="540" y="154" text-anchor="middle">0x14000</text><text x="540" y="165" text-anchor="middle" class="offset">+16 KiB</text><line x1="665" y1="138" x2="665" y2="143"/><text x="665" y="154" text-anchor="middle">0x15000</text><text x="665" y="165" text-anchor="middle" class="offset">+20 KiB</text><line x1="790" y1="138" x2="790" y2="143"/><text x="790" y="154" text-anchor="middle">0x16000</text><text x="790" y="165" text-anchor="middle" class="offset">+24 KiB</text><line x1="915" y1="138" x2="915" y2="143"/><text x="915" y="154" text-anchor="middle">0x17000</text><text x="915" y="165" text-anchor="middle" class="offset">+28 KiB</text><line x1="1040" y1="138" x2="1040" y2="143"/><text x="1040" y="154" text-anchor="end">0x18000</text><text x="1040" y="165" text-anchor="end" class="offset">+32 KiB</text></g>
</g>
<g class="legend">
<g transform="translate(40,202)"><rect width="16" height="16" fill="#E69F00"/><rect width="16" height="16" class="edge"/><text x="22" y="12">cam 2</text></g>
<g transform="translate(117,202)"><rect width="16" height="16" fill="#56B4E9"/><rect width="16" height="16" class="edge"/><text x="22" y="12">sf 1</text></g>
<g transform="translate(187.4,202)"><rect width="16" height="16" fill="#F7F7F2"/><rect width="16" height="16" class="edge"/><text x="22" y="12">free</text></g>
<g transform="translate(257.8,202)"><rect width="16" height="8" fill="#56B4E9"/><rect y="8" width="16" height="8" fill="#E69F00"/><rect width="16" height="16" class="edge"/><text x="22" y="12">shared: one band per process holding a handle</text></g>
<g transform="translate(598.8,202)"><rect width="16" height="16" fill="url(#deferred)"/><rect width="16" height="16" class="edge"/><text x="22" y="12">on the deferred-free list (freed, granules not yet returned)</text></g>
</g>
</svg>
)svg";
  EXPECT_EQ(svg, expected);
}

TEST(RenderHeapSvgTest, OutputIsWellFormedXmlWhateverTheNamesHold) {
  HeapPicture p = Picture("XXXX....XX");
  p.name = "a<b>&\"c'";
  p.extents = {Extent(0, 4, "b<1>", {"x&y 1", "\"q\" 2"}), Extent(8, 2, "b'2", {"ctl\x01 3"}, State::kOrphaned)};
  const std::string svg = RenderHeapSvg({p, Picture("........")}, "caption <&> \"'");
  EXPECT_EQ(XmlProblem(svg), "") << svg;
  EXPECT_NE(svg.find("a&lt;b&gt;&amp;&quot;c&apos;"), std::string::npos);
  EXPECT_EQ(XmlProblem(RenderHeapSvg({}, "no heaps")), "");
}

// A seeded series of bitmaps, each with buffers over some of its set runs: every set bit is drawn by exactly one
// extent group (a buffer's or, where no buffer accounts for it, an "unknown" one) and every clear bit by exactly
// one free rectangle.
TEST(RenderHeapSvgTest, EveryGranuleIsDrawnExactlyOnceAsFreeOrAllocated) {
  uint64_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return seed >> 33;
  };
  for (int round = 0; round < 50; ++round) {
    HeapPicture p = Picture("");
    const uint64_t n = 1 + next() % 300;
    for (uint64_t g = 0; g < n; ++g) p.bits.push_back(next() % 3 != 0);
    // Buffers over runs of set bits, leaving some set bits unaccounted for.
    for (uint64_t g = 0; g < n;) {
      if (!p.bits[g]) {
        ++g;
        continue;
      }
      uint64_t len = 0;
      while (g + len < n && p.bits[g + len] && len < 1 + next() % 6) ++len;
      if (next() % 4 != 0) {
        p.extents.push_back(Extent(g, len, "b" + std::to_string(g), {"p " + std::to_string(next() % 3)},
                                   static_cast<State>(next() % 3)));
      }
      g += len;
    }
    const std::string svg = RenderHeapSvg({p}, "round " + std::to_string(round));
    ASSERT_EQ(XmlProblem(svg), "") << "round " << round;
    std::vector<int> drawn(n, 0);
    for (const Drawn& d : ReadBack(svg)) {
      for (uint64_t g = d.first; g < d.first + d.count; ++g) {
        ASSERT_LT(g, n) << "round " << round;
        ++drawn[g];
        EXPECT_EQ(d.state == "free", !p.bits[g]) << "round " << round << " granule " << g << " " << d.state;
      }
    }
    for (uint64_t g = 0; g < n; ++g) EXPECT_EQ(drawn[g], 1) << "round " << round << " granule " << g;
  }
}

TEST(RenderHeapSvgTest, SetBitsNoBufferAccountsForAreDrawnAsUnknownAndExplained) {
  HeapPicture p = Picture("XXXX");
  p.extents = {Extent(0, 1, "b1", {"cam 2"})};
  const std::string svg = RenderHeapSvg({p}, "t");
  std::vector<Drawn> drawn = ReadBack(svg);
  ASSERT_EQ(drawn.size(), 2u);
  EXPECT_EQ(drawn[1].first, 1u);
  EXPECT_EQ(drawn[1].count, 3u);
  EXPECT_EQ(drawn[1].state, "unknown");
  EXPECT_NE(svg.find("allocated bits no buffer accounts for"), std::string::npos);
}

TEST(RenderHeapSvgTest, LegendShowsOrphanedAndDeferredOnlyWhenPresent) {
  HeapPicture live = Picture("XX..");
  live.extents = {Extent(0, 2, "b1", {"cam 2"})};
  const std::string plain = RenderHeapSvg({live}, "t");
  EXPECT_EQ(plain.find("orphaned:"), std::string::npos);
  EXPECT_EQ(plain.find("deferred-free list"), std::string::npos);
  EXPECT_EQ(plain.find("shared:"), std::string::npos);
  EXPECT_NE(plain.find(">cam 2</text>"), std::string::npos);

  HeapPicture both = Picture("XXXX");
  both.extents = {Extent(0, 2, "b1", {"codec 3"}, State::kOrphaned), Extent(2, 2, "b2", {"cam 2"}, State::kDeferredFree)};
  const std::string svg = RenderHeapSvg({both}, "t");
  EXPECT_NE(svg.find("orphaned: no handle left"), std::string::npos);
  EXPECT_NE(svg.find("on the deferred-free list"), std::string::npos);
  EXPECT_NE(svg.find("fill=\"url(#orphan)\""), std::string::npos);
  EXPECT_NE(svg.find("fill=\"url(#deferred)\""), std::string::npos);
}

// Bits "X..X...XX....X": free runs at 1 (2), 4 (3), 9 (4); 9 granules free, the largest run 4 granules.
TEST(FreeRunsTest, LargestFreeExtentIsTheLongestClearRun) {
  const HeapPicture p = Picture("X..X...XX....X");
  const std::vector<FreeRun> runs = FreeRuns(p);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].first, 1u);
  EXPECT_EQ(runs[0].count, 2u);
  EXPECT_EQ(runs[2].first, 9u);
  EXPECT_EQ(runs[2].count, 4u);
  EXPECT_EQ(FreeBytes(p), 9u * 4096);
  EXPECT_EQ(LargestFreeExtent(p), 4u * 4096);
  EXPECT_EQ(LargestFreeExtent(Picture("XXX")), 0u);
}

TEST(FormatBytesTest, UsesTheLargestUnitThatDividesExactly) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(4 << 20), "4 MiB");
  EXPECT_EQ(FormatBytes(1800 << 10), "1800 KiB");
  EXPECT_EQ(FormatBytes(720000), "720000 B");
  EXPECT_EQ(FormatBytes(3ULL << 30), "3 GiB");
}

constexpr int kProtRw = static_cast<int>(kernel::PROT_READ | kernel::PROT_WRITE);
constexpr int kMapShared = static_cast<int>(kernel::MAP_SHARED);

// On the dummy board (carveout id 2 with 4 KiB granules, chunk id 3 with 16 KiB chunks), process cam allocates
// three carveout buffers, first fit from the bottom:
//   granule  0  1  2  3  4  5  6
//   buffer   b1 b1 b1 b1 b2 b2 b3
// b1 is shared with sf, which imports it (two holders, cam's client first); b2 keeps only its dma-buf fd after
// cam frees its handle (orphaned, last client cam); b3 is freed and waits on the deferred-free list. A 40 KiB
// chunk-heap buffer takes three chunks. Expect exactly these extents and states; the system heap has no picture.
TEST(CaptureHeapPictureTest, ShowsLiveSharedOrphanedAndDeferredBuffers) {
  std::string error;
  ErrnoOr<ModelConfig> config = ModelConfigFromBoard("dummy", &error);
  ASSERT_TRUE(config.ok()) << error;
  ErrnoOr<std::unique_ptr<ModelBackend>> booted = ModelBackend::Create(config.value());
  ASSERT_TRUE(booted.ok());
  ModelBackend* backend = booted.value().get();
  const ProcId cam = backend->spawn("cam").value();
  const ProcId sf = backend->spawn("sf").value();
  LibIon cam_ion(backend, cam), sf_ion(backend, sf);
  const int cam_fd = cam_ion.Open().value();
  const int sf_fd = sf_ion.Open().value();
  const int b1 = cam_ion.Alloc(cam_fd, 16 << 10, 0, 1U << 2, 0).value();
  const int b2 = cam_ion.Alloc(cam_fd, 8 << 10, 0, 1U << 2, 0).value();
  const int b3 = cam_ion.Alloc(cam_fd, 4 << 10, 0, 1U << 2, 0).value();
  const int c1 = cam_ion.Alloc(cam_fd, 40 << 10, 0, 1U << 3, 0).value();
  const int b1_fd = cam_ion.Share(cam_fd, b1).value();
  const int sf_b1_fd = backend->pass_fd(cam, b1_fd, sf).value();
  const int sf_b1 = sf_ion.Import(sf_fd, sf_b1_fd).value();
  const int b2_fd = cam_ion.Share(cam_fd, b2).value();
  const uint64_t b2_map = backend->mmap(cam, 0, 8 << 10, kProtRw, kMapShared, b2_fd, 0).value();
  ASSERT_TRUE(cam_ion.Free(cam_fd, b2).ok());
  ASSERT_TRUE(cam_ion.Free(cam_fd, b3).ok());

  ErrnoOr<HeapPicture> carveout = CaptureHeapPicture(backend, 2);
  ASSERT_TRUE(carveout.ok());
  const HeapPicture& p = carveout.value();
  EXPECT_EQ(p.name, "carveout");
  EXPECT_EQ(p.type, "carveout");
  EXPECT_EQ(p.base, 0x9fc00000u);
  EXPECT_EQ(p.granule, 4096u);
  ASSERT_EQ(p.bits.size(), 1024u);
  for (size_t g = 0; g < p.bits.size(); ++g) EXPECT_EQ(p.bits[g], g < 7) << g;
  const std::string cam_label = "cam " + std::to_string(cam);
  const std::string sf_label = "sf " + std::to_string(sf);
  ASSERT_EQ(p.extents.size(), 3u);
  EXPECT_EQ(p.extents[0].first, 0u);
  EXPECT_EQ(p.extents[0].count, 4u);
  EXPECT_EQ(p.extents[0].state, State::kLive);
  EXPECT_EQ(p.extents[0].holders, (std::vector<std::string>{cam_label, sf_label}));
  EXPECT_EQ(p.extents[1].first, 4u);
  EXPECT_EQ(p.extents[1].count, 2u);
  EXPECT_EQ(p.extents[1].state, State::kOrphaned);
  EXPECT_EQ(p.extents[1].holders, (std::vector<std::string>{cam_label}));
  EXPECT_EQ(p.extents[2].first, 6u);
  EXPECT_EQ(p.extents[2].count, 1u);
  EXPECT_EQ(p.extents[2].state, State::kDeferredFree);
  EXPECT_EQ(p.extents[2].holders, (std::vector<std::string>{cam_label}));
  EXPECT_EQ(p.extents[0].buffer, "b1");
  EXPECT_EQ(p.extents[2].buffer, "b3");

  ErrnoOr<HeapPicture> chunk = CaptureHeapPicture(backend, 3);
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk.value().granule, 16384u);
  ASSERT_EQ(chunk.value().extents.size(), 1u);
  EXPECT_EQ(chunk.value().extents[0].first, 0u);
  EXPECT_EQ(chunk.value().extents[0].count, 3u);
  EXPECT_EQ(CaptureGenallocHeaps(backend).size(), 2u);
  EXPECT_EQ(CaptureHeapPicture(backend, 0).error().code(), EINVAL);
  EXPECT_EQ(CaptureHeapPicture(backend, 9).error().code(), ENOENT);
  EXPECT_EQ(XmlProblem(RenderHeapSvg(CaptureGenallocHeaps(backend), "dummy")), "");

  ASSERT_TRUE(backend->munmap(cam, b2_map, 8 << 10).ok());
  for (int fd : {b1_fd, b2_fd}) ASSERT_TRUE(backend->close(cam, fd).ok());
  ASSERT_TRUE(backend->close(sf, sf_b1_fd).ok());
  ASSERT_TRUE(sf_ion.Free(sf_fd, sf_b1).ok());
  ASSERT_TRUE(cam_ion.Free(cam_fd, b1).ok());
  ASSERT_TRUE(cam_ion.Free(cam_fd, c1).ok());
  ASSERT_TRUE(backend->run_deferred_free().ok());
  ErrnoOr<HeapPicture> empty = CaptureHeapPicture(backend, 2);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty.value().extents.empty());
  EXPECT_EQ(FreeBytes(empty.value()), 4u << 20);
  EXPECT_EQ(backend->Shutdown(), "");
}

}  // namespace
}  // namespace ionsim::testing
