// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/heap_svg.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "model/ion_priv.h"
#include "model/kernel/bitmap.h"
#include "model/kernel/genalloc.h"

namespace ionsim {
namespace {

namespace k = ::ionsim::kernel;

// A coordinate with at most two decimals and no trailing zeros ("12", "12.5", "12.25").
std::string Num(double v) {
  std::string s = absl::StrFormat("%.2f", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

// Text escaped for XML character data and attribute values.
std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // Control characters are not allowed in XML 1.0; comm names could hold anything.
        out += (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') ? '?' : c;
    }
  }
  return out;
}

const char* StateName(HeapExtent::State state) {
  switch (state) {
    case HeapExtent::State::kLive:
      return "live";
    case HeapExtent::State::kOrphaned:
      return "orphaned";
    case HeapExtent::State::kDeferredFree:
      return "deferred";
  }
  return "live";
}

// Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), then a few more.
constexpr const char* kPalette[] = {"#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00",
                                    "#CC79A7", "#F0E442", "#8C6D31", "#6B6ECF", "#7F7F7F"};
constexpr const char* kDeferredColour = "#8A8A8A";
constexpr const char* kUnknownColour = "#D62728";
constexpr const char* kFreeColour = "#F7F7F2";

// Layout (pixels).
constexpr double kLeft = 40;
constexpr double kBarWidth = 1000;
constexpr double kWidth = kLeft * 2 + kBarWidth;
constexpr double kBarHeight = 56;
constexpr double kHeadingGap = 38;  // from the heading baseline to the bar (two lines of text)
constexpr double kAxisHeight = 34;  // ticks and labels under the bar
constexpr double kHeapGap = 30;

// A tick step in bytes: a power of two giving between 4 and 8 intervals... at most 16 for odd sizes.
uint64_t TickStep(uint64_t bytes, uint64_t granule) {
  uint64_t step = granule;
  while (bytes / step > 8) step *= 2;
  return step;
}

// A generous estimate of the width of a text in the sans-serif font at `size` pixels.
double TextWidth(const std::string& text, double size) { return 0.62 * size * static_cast<double>(text.size()); }

struct Run {
  uint64_t first;
  uint64_t count;
};

// Set bits that no extent covers, as runs.
std::vector<Run> UnaccountedRuns(const HeapPicture& p) {
  std::vector<bool> covered(p.bits.size(), false);
  for (const HeapExtent& e : p.extents) {
    for (uint64_t g = e.first; g < e.first + e.count && g < covered.size(); ++g) covered[g] = true;
  }
  std::vector<Run> runs;
  for (uint64_t g = 0; g < p.bits.size();) {
    if (!p.bits[g] || covered[g]) {
      ++g;
      continue;
    }
    const uint64_t start = g;
    while (g < p.bits.size() && p.bits[g] && !covered[g]) ++g;
    runs.push_back({start, g - start});
  }
  return runs;
}

}  // namespace

std::string FormatBytes(uint64_t bytes) {
  if (bytes && bytes % (1ULL << 30) == 0) return absl::StrFormat("%" PRIu64 " GiB", bytes >> 30);
  if (bytes && bytes % (1ULL << 20) == 0) return absl::StrFormat("%" PRIu64 " MiB", bytes >> 20);
  if (bytes && bytes % (1ULL << 10) == 0) return absl::StrFormat("%" PRIu64 " KiB", bytes >> 10);
  return absl::StrFormat("%" PRIu64 " B", bytes);
}

std::vector<FreeRun> FreeRuns(const HeapPicture& picture) {
  std::vector<FreeRun> runs;
  const uint64_t n = picture.bits.size();
  for (uint64_t g = 0; g < n;) {
    if (picture.bits[g]) {
      ++g;
      continue;
    }
    const uint64_t start = g;
    while (g < n && !picture.bits[g]) ++g;
    runs.push_back({start, g - start});
  }
  return runs;
}

uint64_t LargestFreeExtent(const HeapPicture& picture) {
  uint64_t best = 0;
  for (const FreeRun& run : FreeRuns(picture)) best = std::max(best, run.count);
  return best * picture.granule;
}

uint64_t FreeBytes(const HeapPicture& picture) {
  uint64_t free = 0;
  for (const FreeRun& run : FreeRuns(picture)) free += run.count;
  return free * picture.granule;
}

std::string RenderHeapSvg(const std::vector<HeapPicture>& heaps, const std::string& caption) {
  // Colours by process, in order of first appearance (heaps in order, extents by address), so the same state
  // always gets the same colours.
  std::map<std::string, std::string> colour;
  std::vector<std::string> processes;
  for (const HeapPicture& p : heaps) {
    std::vector<const HeapExtent*> sorted;
    for (const HeapExtent& e : p.extents) sorted.push_back(&e);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const HeapExtent* a, const HeapExtent* b) { return a->first < b->first; });
    for (const HeapExtent* e : sorted) {
      if (e->state == HeapExtent::State::kDeferredFree) continue;
      for (const std::string& h : e->holders) {
        if (colour.count(h)) continue;
        colour[h] = kPalette[processes.size() % (sizeof(kPalette) / sizeof(kPalette[0]))];
        processes.push_back(h);
      }
    }
  }
  bool any_deferred = false, any_orphan = false, any_shared = false, any_unknown = false;
  std::vector<std::string> shared_colours;  // of the first shared extent, for its legend swatch
  std::string orphan_colour;                // of the first orphaned extent

  std::string body;
  double y = 56;
  for (const HeapPicture& p : heaps) {
    const uint64_t granules = p.bits.size();
    const uint64_t size = granules * p.granule;
    uint64_t used = 0;
    for (bool b : p.bits) used += b;
    const uint64_t largest = LargestFreeExtent(p);
    const size_t free_runs = FreeRuns(p).size();
    body += absl::StrFormat("<g class=\"heap\" data-name=\"%s\">\n", Escape(p.name).c_str());
    body += absl::StrFormat("<text x=\"%s\" y=\"%s\" class=\"heading\">%s <tspan class=\"sub\">%s heap, 0x%" PRIx64
                   "-0x%" PRIx64 ", %s in %" PRIu64 " granules of %s</tspan></text>\n",
                   Num(kLeft).c_str(), Num(y).c_str(), Escape(p.name).c_str(), Escape(p.type).c_str(), p.base,
                   p.base + size - (size ? 1 : 0), FormatBytes(size).c_str(), granules,
                   FormatBytes(p.granule).c_str());
    body += absl::StrFormat("<text x=\"%s\" y=\"%s\" class=\"sub\">%s allocated, %s free in %zu extent%s, largest free "
                   "extent %s</text>\n",
                   Num(kLeft).c_str(), Num(y + 16).c_str(), FormatBytes(used * p.granule).c_str(),
                   FormatBytes(size - used * p.granule).c_str(), free_runs, free_runs == 1 ? "" : "s",
                   FormatBytes(largest).c_str());
    const double top = y + kHeadingGap - 12;
    const double scale = granules ? kBarWidth / static_cast<double>(granules) : 0;
    auto x_of = [&](uint64_t g) { return kLeft + static_cast<double>(g) * scale; };
    // Free runs.
    for (const FreeRun& run : FreeRuns(p)) {
      body += absl::StrFormat(
          "<rect class=\"free\" data-first=\"%" PRIu64 "\" data-count=\"%" PRIu64
          "\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"><title>free: 0x%" PRIx64 "-0x%" PRIx64
          " (%s)</title></rect>\n",
          run.first, run.count, Num(x_of(run.first)).c_str(), Num(top).c_str(), Num(run.count * scale).c_str(),
          Num(kBarHeight).c_str(), kFreeColour, p.base + run.first * p.granule,
          p.base + (run.first + run.count) * p.granule - 1, FormatBytes(run.count * p.granule).c_str());
      // Its size, where there is room: the holes are what fragmentation is about.
      const std::string text = "free " + FormatBytes(run.count * p.granule);
      if (run.count * scale >= TextWidth(text, 10) + 8) {
        body += absl::StrFormat("<text x=\"%s\" y=\"%s\" class=\"free-label\">%s</text>\n",
                       Num(x_of(run.first) + run.count * scale / 2).c_str(), Num(top + kBarHeight / 2 + 4).c_str(),
                       text.c_str());
      }
    }
    // Extents, then the set bits nobody accounts for.
    std::vector<HeapExtent> extents = p.extents;
    for (const Run& r : UnaccountedRuns(p)) {
      HeapExtent e;
      e.first = r.first;
      e.count = r.count;
      e.buffer = "?";
      e.detail = "allocated in the bitmap, but no live or deferred buffer of this heap holds it";
      extents.push_back(e);
      any_unknown = true;
    }
    std::stable_sort(extents.begin(), extents.end(),
                     [](const HeapExtent& a, const HeapExtent& b) { return a.first < b.first; });
    for (const HeapExtent& e : extents) {
      const bool unknown = e.buffer == "?";
      const double x = x_of(e.first);
      const double w = static_cast<double>(e.count) * scale;
      const std::string who = [&] {
        std::string s;
        for (const std::string& h : e.holders) s += (s.empty() ? "" : " + ") + h;
        return s.empty() ? std::string("no process") : s;
      }();
      const char* state = unknown ? "unknown" : StateName(e.state);
      std::string title = absl::StrFormat("%s: 0x%" PRIx64 "-0x%" PRIx64 " (%s), ", e.buffer.c_str(),
                                 p.base + e.first * p.granule, p.base + (e.first + e.count) * p.granule - 1,
                                 FormatBytes(e.count * p.granule).c_str());
      switch (e.state) {
        case HeapExtent::State::kLive:
          title += (e.holders.size() > 1 ? "shared by " : "held by ") + who;
          break;
        case HeapExtent::State::kOrphaned:
          title += "orphaned, last known client " + who;
          break;
        case HeapExtent::State::kDeferredFree:
          title += "on the deferred-free list, last known client " + who;
          break;
      }
      if (unknown) title = absl::StrFormat("0x%" PRIx64 "-0x%" PRIx64 " (%s)", p.base + e.first * p.granule,
                                  p.base + (e.first + e.count) * p.granule - 1, FormatBytes(e.count * p.granule).c_str());
      if (!e.detail.empty()) title += "; " + e.detail;
      body += absl::StrFormat("<g class=\"extent\" data-first=\"%" PRIu64 "\" data-count=\"%" PRIu64
                     "\" data-state=\"%s\" data-buffer=\"%s\"><title>%s</title>",
                     e.first, e.count, state, Escape(e.buffer).c_str(), Escape(title).c_str());
      if (unknown) {
        body += absl::StrFormat("<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"/>", Num(x).c_str(),
                       Num(top).c_str(), Num(w).c_str(), Num(kBarHeight).c_str(), kUnknownColour);
      } else if (e.state == HeapExtent::State::kDeferredFree) {
        any_deferred = true;
        body += absl::StrFormat("<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"url(#deferred)\"/>",
                       Num(x).c_str(), Num(top).c_str(), Num(w).c_str(), Num(kBarHeight).c_str());
      } else {
        const size_t bands = std::max<size_t>(1, e.holders.size());
        if (e.holders.size() > 1 && !any_shared) {
          any_shared = true;
          for (const std::string& h : e.holders) shared_colours.push_back(colour[h]);
        }
        if (e.state == HeapExtent::State::kOrphaned && orphan_colour.empty() && !e.holders.empty()) {
          orphan_colour = colour[e.holders[0]];
        }
        for (size_t i = 0; i < bands; ++i) {
          const std::string fill = e.holders.empty() ? kUnknownColour : colour[e.holders[i]];
          const double bh = kBarHeight / static_cast<double>(bands);
          body += absl::StrFormat("<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"%s/>", Num(x).c_str(),
                         Num(top + bh * static_cast<double>(i)).c_str(), Num(w).c_str(), Num(bh).c_str(),
                         fill.c_str(), e.state == HeapExtent::State::kOrphaned ? " fill-opacity=\"0.55\"" : "");
        }
        if (e.state == HeapExtent::State::kOrphaned) {
          any_orphan = true;
          body += absl::StrFormat("<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"url(#orphan)\"/>",
                         Num(x).c_str(), Num(top).c_str(), Num(w).c_str(), Num(kBarHeight).c_str());
        }
      }
      // The outline separates neighbouring buffers.
      body += absl::StrFormat("<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" class=\"%s\"/>", Num(x).c_str(),
                     Num(top).c_str(), Num(w).c_str(), Num(kBarHeight).c_str(),
                     e.state == HeapExtent::State::kOrphaned && !unknown ? "edge orphan-edge" : "edge");
      // The buffer's name when there is room for it, and its extent's size under it when there is room for that.
      const std::string size_text = FormatBytes(e.count * p.granule);
      if (!unknown && w >= std::max(TextWidth(e.buffer, 10), TextWidth(size_text, 9)) + 6) {
        body += absl::StrFormat("<text x=\"%s\" y=\"%s\" class=\"label\">%s</text><text x=\"%s\" y=\"%s\" "
                       "class=\"label size\">%s</text>",
                       Num(x + w / 2).c_str(), Num(top + kBarHeight / 2 - 2).c_str(), Escape(e.buffer).c_str(),
                       Num(x + w / 2).c_str(), Num(top + kBarHeight / 2 + 11).c_str(), size_text.c_str());
      } else if (!unknown && w >= TextWidth(e.buffer, 10) + 6) {
        body += absl::StrFormat("<text x=\"%s\" y=\"%s\" class=\"label\">%s</text>", Num(x + w / 2).c_str(),
                       Num(top + kBarHeight / 2 + 4).c_str(), Escape(e.buffer).c_str());
      }
      body += "</g>\n";
    }
    // Frame and address axis.
    body += absl::StrFormat("<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" class=\"frame\"/>\n", Num(kLeft).c_str(),
                   Num(top).c_str(), Num(kBarWidth).c_str(), Num(kBarHeight).c_str());
    const double axis = top + kBarHeight;
    body += "<g class=\"axis\">";
    const uint64_t step = size ? TickStep(size, p.granule) : 1;
    for (uint64_t off = 0; size && off <= size; off += step) {
      const double x = kLeft + kBarWidth * static_cast<double>(off) / static_cast<double>(size);
      const char* anchor = off == 0 ? "start" : off == size ? "end" : "middle";
      body += absl::StrFormat("<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"/>", Num(x).c_str(), Num(axis).c_str(),
                     Num(x).c_str(), Num(axis + 5).c_str());
      body += absl::StrFormat("<text x=\"%s\" y=\"%s\" text-anchor=\"%s\">0x%" PRIx64 "</text>", Num(x).c_str(),
                     Num(axis + 16).c_str(), anchor, p.base + off);
      body += absl::StrFormat("<text x=\"%s\" y=\"%s\" text-anchor=\"%s\" class=\"offset\">+%s</text>", Num(x).c_str(),
                     Num(axis + 27).c_str(), anchor, off == 0 ? "0" : FormatBytes(off).c_str());
    }
    body += "</g>\n</g>\n";
    y = axis + kAxisHeight + kHeapGap;
  }
  if (heaps.empty()) {
    body += absl::StrFormat("<text x=\"%s\" y=\"%s\" class=\"sub\">no carveout or chunk heap on this board</text>\n",
                   Num(kLeft).c_str(), Num(y).c_str());
    y += kHeapGap;
  }

  // Legend: one swatch per process, then the states.
  std::string legend = "<g class=\"legend\">\n";
  double lx = kLeft;
  double ly = y;
  auto item = [&](const std::string& swatch, const std::string& text) {
    const double width = 30 + 6.6 * static_cast<double>(text.size());
    if (lx + width > kLeft + kBarWidth && lx > kLeft) {
      lx = kLeft;
      ly += 22;
    }
    legend += absl::StrFormat("<g transform=\"translate(%s,%s)\">%s<text x=\"22\" y=\"12\">%s</text></g>\n", Num(lx).c_str(),
                     Num(ly).c_str(), swatch.c_str(), Escape(text).c_str());
    lx += width + 14;
  };
  auto box = [](const std::string& fill, const std::string& extra) {
    return absl::StrFormat("<rect width=\"16\" height=\"16\" fill=\"%s\"%s/><rect width=\"16\" height=\"16\" class=\"edge\"/>",
                  fill.c_str(), extra.c_str());
  };
  for (const std::string& h : processes) item(box(colour[h], ""), h);
  item(box(kFreeColour, ""), "free");
  if (any_shared) {
    item(absl::StrFormat("<rect width=\"16\" height=\"8\" fill=\"%s\"/><rect y=\"8\" width=\"16\" height=\"8\" "
                "fill=\"%s\"/><rect width=\"16\" height=\"16\" class=\"edge\"/>",
                shared_colours[0].c_str(), shared_colours[1].c_str()),
         "shared: one band per process holding a handle");
  }
  if (any_orphan) {
    item(absl::StrFormat("<rect width=\"16\" height=\"16\" fill=\"%s\" fill-opacity=\"0.55\"/><rect width=\"16\" "
                "height=\"16\" fill=\"url(#orphan)\"/><rect width=\"16\" height=\"16\" class=\"edge orphan-edge\"/>",
                orphan_colour.empty() ? kUnknownColour : orphan_colour.c_str()),
         "orphaned: no handle left, kept by a dma-buf (last client's colour)");
  }
  if (any_deferred) {
    item(box("url(#deferred)", ""), "on the deferred-free list (freed, granules not yet returned)");
  }
  if (any_unknown) item(box(kUnknownColour, ""), "allocated bits no buffer accounts for");
  legend += "</g>\n";
  const double height = ly + 34;

  std::string svg;
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%s\" height=\"%s\" viewBox=\"0 0 %s %s\" "
      "font-family=\"DejaVu Sans, Verdana, sans-serif\" font-size=\"11\">\n",
      Num(kWidth).c_str(), Num(height).c_str(), Num(kWidth).c_str(), Num(height).c_str());
  svg += absl::StrFormat("<title>%s</title>\n", Escape(caption).c_str());
  svg += "<defs>\n";
  svg += absl::StrFormat(
      "<pattern id=\"deferred\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
      "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#D9D9D9\"/>"
      "<rect width=\"3\" height=\"6\" fill=\"%s\"/></pattern>\n",
      kDeferredColour);
  svg += "<pattern id=\"orphan\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" "
         "patternTransform=\"rotate(-45)\"><rect width=\"1.5\" height=\"8\" fill=\"#000000\" "
         "fill-opacity=\"0.45\"/></pattern>\n";
  svg += "<style>\n"
         ".heading{font-size:14px;font-weight:bold;fill:#222}\n"
         ".sub{font-size:11px;font-weight:normal;fill:#555}\n"
         ".edge{fill:none;stroke:#333;stroke-width:0.6}\n"
         ".orphan-edge{stroke:#000;stroke-width:1.2;stroke-dasharray:4 2}\n"
         ".frame{fill:none;stroke:#222;stroke-width:1}\n"
         ".label{font-size:10px;fill:#111;text-anchor:middle;paint-order:stroke;stroke:#fff;stroke-opacity:0.75;"
         "stroke-width:2.5px}\n"
         ".size{font-size:9px;fill:#222}\n"
         ".free-label{font-size:10px;fill:#888;text-anchor:middle}\n"
         ".axis line{stroke:#444;stroke-width:1}\n"
         ".axis text{font-size:9.5px;fill:#333}\n"
         ".axis .offset{fill:#777}\n"
         ".legend text{font-size:11px;fill:#222}\n"
         "</style>\n";
  svg += "</defs>\n";
  svg += absl::StrFormat("<rect width=\"%s\" height=\"%s\" fill=\"#FFFFFF\"/>\n", Num(kWidth).c_str(), Num(height).c_str());
  svg += absl::StrFormat("<text x=\"%s\" y=\"26\" class=\"heading\">%s</text>\n", Num(kLeft).c_str(),
                Escape(caption).c_str());
  svg += body;
  svg += legend;
  svg += "</svg>\n";
  return svg;
}

// ---- capture ------------------------------------------------------------------------------------------------

namespace {

std::string ClientLabel(const k::ion_client* client) {
  if (client->task) {
    char comm[k::TASK_COMM_LEN];
    k::get_task_comm(comm, client->task);
    return absl::StrFormat("%s %d", comm, client->pid);
  }
  return client->name ? client->name : "kernel";
}

// The last known client debugfs prints for a buffer without handles: the comm and pid recorded when its last
// handle went ("unknown" for a buffer that never had one, as a 4.12-style ALLOC gives).
std::string LastClient(const k::ion_buffer* buffer) {
  if (!buffer->task_comm[0]) return "unknown";
  return absl::StrFormat("%s %d", buffer->task_comm, buffer->pid);
}

// The tooltip detail of a buffer. Read while the capture holds dev->lock and the tree's lock; handle_count is read
// without buffer->lock, as the debugfs heap file reads it.
std::string BufferDetail(const k::ion_buffer* buffer) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  return absl::StrFormat("buffer size %zu, ref %d, handles %d", buffer->size, k::kref_read(&buffer->ref),
                buffer->handle_count);
}

// The runs of granules a buffer's sg entries cover, merged where they touch.
std::vector<Run> BufferRuns(const k::ion_buffer* buffer, uint64_t base, uint64_t granule) {
  std::vector<Run> runs;
  if (!buffer->sg_table) return runs;
  struct k::scatterlist* sg;
  unsigned int i;
  std::vector<Run> raw;
  for_each_sg(buffer->sg_table->sgl, sg, buffer->sg_table->nents, i) {
    const uint64_t phys = k::page_to_phys(k::sg_page(sg)) + sg->offset;
    if (phys < base) continue;
    raw.push_back({(phys - base) / granule, (sg->length + granule - 1) / granule});
  }
  std::sort(raw.begin(), raw.end(), [](const Run& a, const Run& b) { return a.first < b.first; });
  for (const Run& r : raw) {
    if (!runs.empty() && runs.back().first + runs.back().count == r.first) {
      runs.back().count += r.count;
    } else {
      runs.push_back(r);
    }
  }
  return runs;
}

}  // namespace

ErrnoOr<HeapPicture> CaptureHeapPicture(ModelBackend* backend, unsigned int heap_id) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  k::ion_heap* heap = backend->heap(heap_id);
  if (!heap) return Errno(-ENOENT);
  struct k::gen_pool* pool = nullptr;
  HeapPicture picture;
  picture.name = heap->name;
  if (heap->type == ION_HEAP_TYPE_CARVEOUT) {
    pool = k::ion_carveout_heap_pool(heap);
    picture.type = "carveout";
  } else if (heap->type == ION_HEAP_TYPE_CHUNK) {
    pool = k::ion_chunk_heap_pool(heap);
    picture.type = "chunk";
  }
  if (!pool) return Errno(-EINVAL);
  struct k::gen_pool_chunk* chunk = nullptr;
  int chunks = 0;
  struct k::gen_pool_chunk* c;
  list_for_each_entry(c, &pool->chunks, next_chunk) {
    chunk = c;
    ++chunks;
  }
  if (chunks != 1) return Errno(-EINVAL);
  picture.base = chunk->start_addr;
  picture.granule = 1ULL << pool->min_alloc_order;
  const uint64_t nbits = k::chunk_size(chunk) >> pool->min_alloc_order;
  picture.bits.resize(nbits);
  for (uint64_t b = 0; b < nbits; ++b) {
    picture.bits[b] = (k::bitmap_load_word(chunk->bits, k::BIT_WORD(b)) >> (b % k::BITS_PER_LONG)) & 1;
  }

  k::ion_device* dev = backend->device();
  auto add = [&](const k::ion_buffer* buffer, HeapExtent::State state, std::vector<std::string> holders) {
    for (const Run& r : BufferRuns(buffer, picture.base, picture.granule)) {
      HeapExtent e;
      e.first = r.first;
      e.count = r.count;
      e.buffer = absl::StrFormat("b%lu", buffer->serial);
      e.holders = holders;
      e.state = state;
      e.detail = BufferDetail(buffer);
      picture.extents.push_back(e);
    }
  };

  k::down_read(&dev->lock);
  // Who holds a handle on what, clients in creation order.
  std::vector<k::ion_client*> clients;
  for (struct k::rb_node* n = k::rb_first(&dev->clients); n; n = k::rb_next(n)) {
    clients.push_back(rb_entry(n, struct k::ion_client, node));
  }
  std::sort(clients.begin(), clients.end(),
            [](const k::ion_client* a, const k::ion_client* b) { return a->serial < b->serial; });
  std::map<const k::ion_buffer*, std::vector<std::string>> holders;
  for (k::ion_client* client : clients) {
    k::mutex_lock(&client->lock);
    for (struct k::rb_node* n = k::rb_first(&client->handles); n; n = k::rb_next(n)) {
      const k::ion_handle* handle = rb_entry(n, struct k::ion_handle, node);
      holders[handle->buffer].push_back(ClientLabel(client));
    }
    k::mutex_unlock(&client->lock);
  }
  k::mutex_lock(&dev->buffer_lock);
  for (struct k::rb_node* n = k::rb_first(&dev->buffers); n; n = k::rb_next(n)) {
    const k::ion_buffer* buffer = rb_entry(n, struct k::ion_buffer, node);
    if (buffer->heap != heap) continue;
    auto it = holders.find(buffer);
    if (it != holders.end() && !it->second.empty()) {
      add(buffer, HeapExtent::State::kLive, it->second);
    } else {
      add(buffer, HeapExtent::State::kOrphaned, {LastClient(buffer)});
    }
  }
  k::mutex_unlock(&dev->buffer_lock);
  if (heap->flags & k::ION_HEAP_FLAG_DEFER_FREE) {
    k::spin_lock(&heap->free_lock);
    const k::ion_buffer* buffer;
    list_for_each_entry(buffer, &heap->free_list, list) {
      add(buffer, HeapExtent::State::kDeferredFree, {LastClient(buffer)});
    }
    k::spin_unlock(&heap->free_lock);
  }
  k::up_read(&dev->lock);

  std::stable_sort(picture.extents.begin(), picture.extents.end(),
                   [](const HeapExtent& a, const HeapExtent& b) { return a.first < b.first; });
  return picture;
}

std::vector<HeapPicture> CaptureGenallocHeaps(ModelBackend* backend) {
  std::vector<HeapPicture> pictures;
  for (unsigned int id = 0; id < ION_NUM_HEAP_IDS; ++id) {
    ErrnoOr<HeapPicture> p = CaptureHeapPicture(backend, id);
    if (p.ok()) pictures.push_back(std::move(p.value()));
  }
  return pictures;
}

}  // namespace ionsim
