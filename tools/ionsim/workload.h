// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim run`: a realistic Android graphics workload on the ION model of a board (default: the embedded dummy
// board). Three simulated processes talk to /dev/ion through libion, as their real counterparts do:
//   camera.provider  a camera HAL: a ring of NV12 preview buffers from the carveout (physically contiguous for an
//                    ISP without IOMMU), still captures, one preview reconfiguration;
//   media.codec      a video decoder: a cached bitstream buffer from the system heap, NV12 output frames from the
//                    chunk heap with the carveout as fallback, one resolution change; it probes a secure heap and
//                    in the end dies with its buffers still shared (orphans);
//   surfaceflinger   the display compositor: RGBA framebuffers from the system heap, a small layer-list control
//                    buffer from system_contig every frame; it receives the producers' buffers as dma-buf fds,
//                    imports the camera's (accounting them to itself), maps them all and reads every frame back.
// Every frame's bytes are written through the producer's mapping and checked through the compositor's. The
// deferred-free thread gets the CPU at the start of a frame by a seeded coin toss, as a SCHED_IDLE thread runs when
// it can. After the last frame the tool prints the results, the debugfs views and writes an SVG of the carveout and
// chunk heaps; then every process releases what it holds and exits, the machine shuts down, and the invariant
// checker's verdict (run after every operation) and the leak check come last.
#ifndef TOOLS_IONSIM_WORKLOAD_H_
#define TOOLS_IONSIM_WORKLOAD_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ionsim {

struct WorkloadOptions {
  std::string board = "dummy";  // an embedded board name or board text (docs/boards.md)
  // The ION profile (docs/profiles.md); "" for the board's. On a profile without ION_IOC_HEAP_QUERY the HAL
  // uses its compiled-in heap table (the board's), and without DMA_BUF_IOCTL_SYNC the codec syncs with
  // ION_IOC_SYNC, as that era's userspace did.
  std::string profile;
  uint64_t seed = 1;
  int frames = 12;              // at least kMinFrames
  // Called after each frame with the frames done (progress reports); nullptr for none.
  std::function<void(int done)> after_frame;
  static constexpr int kMinFrames = 12;
};

struct WorkloadResult {
  std::string report;  // what `ionsim run` prints
  std::string svg;     // the heap picture after the last frame
  int operations = 0;  // operations after which the invariant checker ran
  std::vector<std::string> invariant_violations;  // "after <operation>: <checker line>"
  std::string leak_report;  // "" when shutdown got every object, page and buffer back
  int frames_checked = 0;   // frames read back through a consumer's mapping
  int frame_mismatches = 0;
  int allocation_failures = 0;
  int orphans_seen = 0;          // buffers alive without a handle after the codec died
  int setup_errors = 0;          // operations that must not fail and did (each is in the report)
  size_t kernel_reports = 0;     // WARN/BUG/coherency events during the run
  int device_reads = 0;          // DMA reads by the simulated VPU
  size_t coherency_reports = 0;  // the coherency oracle's reports (model/kernel/cpu_cache.h) among them
  // True when every invariant held, nothing leaked, every frame read back intact and nothing unexpected failed.
  bool ok() const {
    return invariant_violations.empty() && leak_report.empty() && frame_mismatches == 0 && setup_errors == 0 &&
           kernel_reports == 0;
  }
};

// Runs the workload; deterministic for given options.
WorkloadResult RunWorkload(const WorkloadOptions& options);

// `ionsim run`: runs the workload, prints its report, writes the SVG to svg_path (relative to
// $BUILD_WORKING_DIRECTORY when set, as under `bazel run`). Returns 0 when the result is ok() and the SVG was
// written, 1 when the result is not ok() (a finding), 2 when the SVG cannot be written.
// With json, stdout gets one JSON document (docs/json.md) instead of the report.
int RunWorkloadCommand(const WorkloadOptions& options, std::string svg_path, bool json = false);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_WORKLOAD_H_
