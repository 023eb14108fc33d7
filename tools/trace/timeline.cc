// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/timeline.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "model/ion_priv.h"

namespace ionsim::trace {

namespace k = ::ionsim::kernel;

namespace {

std::string ProcessOfSym(const Trace& trace, const SymRef& r, int depth) {
  if (r.sym < 0 || depth > 64) return "";
  if (r.at >= 0) return trace.symbols[static_cast<size_t>(r.at)].name;
  const Symbol& s = trace.symbols[static_cast<size_t>(r.sym)];
  if (s.kind == SymKind::kProcess) return s.name;
  if (s.kind == SymKind::kDevice || s.kind == SymKind::kAttachment) return "";
  for (const Op& b : trace.ops) {
    if (b.bind != r.sym) continue;
    if (b.kind == OpKind::kPass) return ProcessOfSym(trace, b.b, depth + 1);
    return ProcessOfSym(trace, b.a, depth + 1);
  }
  return "";
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Size(uint64_t v) {
  if (v != 0 && v % (1ULL << 20) == 0) return std::to_string(v >> 20) + "M";
  if (v != 0 && v % (1ULL << 10) == 0) return std::to_string(v >> 10) + "K";
  return std::to_string(v);
}

constexpr const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                    "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"};

}  // namespace

std::string ProcessOfOp(const Trace& trace, const Op& op) {
  switch (op.kind) {
    case OpKind::kSpawn:
    case OpKind::kFork:
      return op.bind >= 0 ? trace.symbols[static_cast<size_t>(op.bind)].name : "";
    case OpKind::kDrain:
    case OpKind::kShrink:
    case OpKind::kDebugfs:
    case OpKind::kState:
    case OpKind::kExplain:
      return "";
    default:
      if (IsDeviceOp(op.kind)) return "";
      return ProcessOfSym(trace, op.a, 0);
  }
}

void Timeline::Sample(ModelBackend* model, const Trace& trace, const Op& op,
                      const std::vector<std::string>& coherency) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  const int step = step_++;
  steps_.push_back("line " + std::to_string(op.line) + " `" + FormatOp(trace, op) + "`");
  std::string proc = ProcessOfOp(trace, op);
  if (proc.empty()) proc = IsDeviceOp(op.kind) ? "device" : "root";
  if (std::find(processes_.begin(), processes_.end(), proc) == processes_.end()) processes_.push_back(proc);
  k::ion_device* dev = model->device();
  if (dev == nullptr) return;
  std::map<unsigned long, std::pair<State, std::string>> now;
  mutex_lock(&dev->buffer_lock);
  for (k::rb_node* n = k::rb_first(&dev->buffers); n; n = k::rb_next(n)) {
    k::ion_buffer* b = rb_entry(n, k::ion_buffer, node);
    mutex_lock(&b->lock);
    State s{k::kref_read(&b->ref), b->handle_count, false};
    mutex_unlock(&b->lock);
    now[b->serial] = {s, "b" + std::to_string(b->serial) + " " + Size(b->size) + " " + b->heap->name};
  }
  mutex_unlock(&dev->buffer_lock);
  down_read(&dev->lock);
  k::ion_heap* heap;
  plist_for_each_entry(heap, &dev->heaps, node) {
    if (!(heap->flags & k::ION_HEAP_FLAG_DEFER_FREE)) continue;
    spin_lock(&heap->free_lock);
    k::ion_buffer* b;
    list_for_each_entry(b, &heap->free_list, list) {
      now[b->serial] = {State{0, 0, true}, "b" + std::to_string(b->serial) + " " + Size(b->size) + " " + heap->name};
    }
    spin_unlock(&heap->free_lock);
  }
  up_read(&dev->lock);
  const std::string text = steps_.back() + " (" + proc + ")";
  for (const auto& [serial, st] : now) {
    auto it = lanes_.find(serial);
    if (it == lanes_.end() || it->second.last >= 0) {
      Lane lane;
      lane.serial = serial;
      lane.label = st.second;
      lane.first = step;
      lane.states.emplace_back(step, st.first);
      lane.marks.push_back({step, proc, text, false});
      lanes_[serial] = std::move(lane);
      continue;
    }
    Lane& lane = it->second;
    if (!(lane.states.back().second == st.first)) {
      lane.states.emplace_back(step, st.first);
      lane.marks.push_back({step, proc, text, false});
    }
  }
  for (auto& [serial, lane] : lanes_) {
    if (lane.last < 0 && now.find(serial) == now.end()) {
      lane.last = step;
      lane.marks.push_back({step, proc, text + ": destroyed", false});
    }
  }
  for (const std::string& m : coherency) {
    const size_t at = m.find("buffer b");
    if (at == std::string::npos) continue;
    const unsigned long serial = std::strtoul(m.c_str() + at + 8, nullptr, 10);
    auto it = lanes_.find(serial);
    if (it != lanes_.end()) it->second.marks.push_back({step, proc, m, true});
  }
}

std::string Timeline::Svg(const std::string& caption) const {
  const int steps = std::max(1, step_);
  const int dx = std::max(6, std::min(40, 1200 / steps));
  const int left = 170, top = 50, lane_h = 24;
  const int width = left + steps * dx + 40;
  const int height = top + static_cast<int>(lanes_.size()) * lane_h + 40 + 18 * static_cast<int>(processes_.size());
  auto x = [&](int step) { return left + step * dx + dx / 2; };
  auto colour = [&](const std::string& p) {
    const size_t i = static_cast<size_t>(std::find(processes_.begin(), processes_.end(), p) - processes_.begin());
    return kColours[i % (sizeof(kColours) / sizeof(kColours[0]))];
  };
  char buf[512];
  std::string out;
  std::snprintf(buf, sizeof(buf),
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                "font-family=\"sans-serif\" font-size=\"11\">\n",
                width, height, width, height);
  out += buf;
  out += "<defs><pattern id=\"orphan\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
         "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#f4e4c8\"/>"
         "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#b07020\" stroke-width=\"2\"/></pattern></defs>\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  std::snprintf(buf, sizeof(buf), "<text x=\"10\" y=\"20\" font-size=\"14\">%s</text>\n", Escape(caption).c_str());
  out += buf;
  // The step axis: a tick per operation, the line number every few.
  const int every = std::max(1, 40 / dx);
  for (int s = 0; s < steps; ++s) {
    if (s % every != 0) continue;
    const std::string line = s < static_cast<int>(steps_.size()) ? steps_[static_cast<size_t>(s)] : "";
    const std::string num = line.substr(5, line.find(' ', 5) - 5);
    std::snprintf(buf, sizeof(buf), "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#666\">%s</text>\n", x(s),
                  top - 8, num.c_str());
    out += buf;
  }
  int row = 0;
  for (const auto& [serial, lane] : lanes_) {
    const int y = top + row * lane_h;
    std::snprintf(buf, sizeof(buf), "<text x=\"10\" y=\"%d\">%s</text>\n", y + 15, Escape(lane.label).c_str());
    out += buf;
    const int end = lane.last >= 0 ? lane.last : steps - 1;
    for (size_t i = 0; i < lane.states.size(); ++i) {
      const int from = lane.states[i].first;
      const int to = i + 1 < lane.states.size() ? lane.states[i + 1].first : end;
      const State& s = lane.states[i].second;
      const char* fill = s.freeing ? "#c8c8c8" : s.handles == 0 ? "url(#orphan)" : "#dce9f5";
      std::snprintf(buf, sizeof(buf),
                    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#8aa\">"
                    "<title>%s: ref %d, handles %d%s</title></rect>\n",
                    x(from), y + 4, std::max(2, x(to) - x(from)), lane_h - 8, fill, Escape(lane.label).c_str(),
                    s.ref, s.handles, s.freeing ? ", on the deferred-free list" : s.handles == 0 ? ", orphaned" : "");
      out += buf;
    }
    for (const Mark& m : lane.marks) {
      if (m.coherency) {
        std::snprintf(buf, sizeof(buf),
                      "<path d=\"M%d %d l6 10 h-12 z\" fill=\"#e00\" stroke=\"black\" stroke-width=\"0.5\"><title>",
                      x(m.step), y + 2);
      } else {
        std::snprintf(buf, sizeof(buf), "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\" stroke=\"black\" "
                      "stroke-width=\"0.5\"><title>", x(m.step), y + lane_h / 2, colour(m.process));
      }
      out += buf;
      out += Escape(m.text);
      out += m.coherency ? "</title></path>\n" : "</title></circle>\n";
    }
    ++row;
  }
  // The legend: processes, then the lane fills.
  int y = top + row * lane_h + 20;
  for (const std::string& p : processes_) {
    std::snprintf(buf, sizeof(buf),
                  "<circle cx=\"16\" cy=\"%d\" r=\"4\" fill=\"%s\"/><text x=\"26\" y=\"%d\">%s</text>\n", y - 4,
                  colour(p), y, Escape(p).c_str());
    out += buf;
    y += 18;
  }
  std::snprintf(buf, sizeof(buf),
                "<text x=\"%d\" y=\"%d\" fill=\"#444\">lanes: blue held, hatched orphaned (no handle), grey on a "
                "deferred-free list; red triangle: a coherency report</text>\n",
                left, top + row * lane_h + 20);
  out += buf;
  out += "</svg>\n";
  return out;
}

}  // namespace ionsim::trace
