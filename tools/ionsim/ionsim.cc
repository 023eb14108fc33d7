// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The ionsim command-line tool.
//   ionsim run    the main job: a camera HAL, a video decoder and a display compositor on the ION model of the
//                 dummy board, with results, debugfs views, an SVG of the carveout and chunk heaps and the
//                 invariant checker's verdict (tools/ionsim/workload.h).
//   ionsim demo   runs the kernel primitives ION is built from on small scenarios taken from ION's history and
//                 prints what they compute: a carveout fragmented by deferred frees (genalloc), handle ids
//                 (idr), the heap try order (plist), a reference count that wraps (kref), and a system-heap
//                 style allocation from simulated RAM (buddy allocator); then the fragmentation walk-through again
//                 on the ION model through /dev/ion, with its debugfs file and canonical state. Every figure
//                 printed is computed.
// and the trace and fuzzing commands (replay, gen, crosscheck, decode, fuzz) of the files beside this one.
// Commands() below is the one table of subcommands (tools/ionsim/cli.h); flags.h holds the shared flags.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kmod/uapi/ion.h"
#include "model/backend/libion.h"
#include "model/backend/model_backend.h"
#include "model/ion_priv.h"
#include "model/kernel/bitmap.h"
#include "model/kernel/bug.h"
#include "model/kernel/genalloc.h"
#include "model/kernel/idr.h"
#include "model/kernel/kref.h"
#include "model/kernel/mm.h"
#include "model/kernel/plist.h"
#include "model/kernel/slab.h"
#include "tools/ionsim/cli.h"
#include "tools/ionsim/crosscheck.h"
#include "tools/ionsim/decode.h"
#include "tools/ionsim/flags.h"
#include "tools/ionsim/fuzz.h"
#include "tools/ionsim/gen.h"
#include "tools/ionsim/inputs.h"
#include "tools/ionsim/profiles.h"
#include "tools/ionsim/progress.h"
#include "tools/ionsim/explore.h"
#include "tools/ionsim/replay.h"
#include "tools/ionsim/workload.h"
#include "tools/trace/model_runner.h"

ABSL_FLAG(uint64_t, frames, 12, "<N> frames to run, at least 12");
ABSL_FLAG(std::string, svg, "ionsim-heaps.svg",
          "<PATH> where the heap picture goes (relative paths are taken from $BUILD_WORKING_DIRECTORY under bazel "
          "run)");

namespace ionsim {
namespace {

namespace k = ::ionsim::kernel;

constexpr unsigned long kMiB = 1UL << 20;

// "10 MiB", "880 KiB", "100 bytes": the largest unit that divides the size.
std::string HumanSize(unsigned long bytes) {
  if (bytes != 0 && bytes % kMiB == 0) return absl::StrCat(bytes / kMiB, " MiB");
  if (bytes != 0 && bytes % 1024 == 0) return absl::StrCat(bytes / 1024, " KiB");
  return absl::StrCat(bytes, " bytes");
}

// One character per `per_char` bytes of the pool: X all allocated, . all free, : partly allocated.
std::string Picture(struct k::gen_pool* pool, unsigned long per_char_bytes = 256 * 1024) {
  struct k::gen_pool_chunk* chunk;
  std::string out;
  list_for_each_entry(chunk, &pool->chunks, next_chunk) {
    const unsigned long granules = k::chunk_size(chunk) >> pool->min_alloc_order;
    const unsigned long per_char = std::max(1UL, per_char_bytes >> pool->min_alloc_order);
    for (unsigned long g = 0; g < granules; g += per_char) {
      unsigned long used = 0;
      const unsigned long span = std::min(per_char, granules - g);
      for (unsigned long b = g; b < g + span; ++b) used += k::test_bit(b, chunk->bits);
      out += used == 0 ? '.' : used == span ? 'X' : ':';
    }
  }
  return out;
}

// Reference section 3.3: "android: ion: do not defer free for carveout heap" walks a 10 MiB carveout through
// deferred frees into fragmentation. Here the frees are queued by hand and returned when the "deferred-free
// thread" runs.
void DemoCarveoutFragmentation() {
  std::printf("== genalloc: a 10 MiB carveout fragmented by deferred frees (4 KiB granules, 1 char = 256 KiB)\n");
  constexpr unsigned long kBase = 0x30000000UL;
  struct k::gen_pool* pool = k::gen_pool_create(12, -1);
  if (!k::gen_pool_add(pool, kBase, 10 * kMiB, -1).ok()) return;
  std::vector<std::pair<unsigned long, size_t>> deferred;
  std::vector<std::pair<unsigned long, size_t>> live;
  auto alloc = [&](size_t size, const char* what) {
    const unsigned long addr = k::gen_pool_alloc(pool, size);
    if (addr != 0) {
      live.emplace_back(addr, size);
      std::printf("  %-44s -> @%lu MiB     |%s| avail %zu KiB\n", what, (addr - kBase) / kMiB, Picture(pool).c_str(),
                  k::gen_pool_avail(pool) / 1024);
    } else {
      std::printf("  %-44s -> FAILED (0)  |%s| avail %zu KiB\n", what, Picture(pool).c_str(),
                  k::gen_pool_avail(pool) / 1024);
    }
    return addr;
  };
  const unsigned long a = alloc(4 * kMiB, "alloc 4 MiB");
  const unsigned long b = alloc(2 * kMiB, "alloc 2 MiB");
  deferred.emplace_back(a, 4 * kMiB);
  deferred.emplace_back(b, 2 * kMiB);
  std::printf("  free both (deferred: still allocated in genalloc)\n");
  alloc(3 * kMiB, "alloc 3 MiB before the deferred frees ran");
  for (const auto& [addr, size] : deferred) {
    k::gen_pool_free(pool, addr, size);
    std::erase(live, std::make_pair(addr, size));
  }
  std::printf("  %-44s                |%s| avail %zu KiB\n", "deferred-free thread runs", Picture(pool).c_str(),
              k::gen_pool_avail(pool) / 1024);
  alloc(4 * kMiB, "alloc 4 MiB");
  alloc(3 * kMiB, "alloc 3 MiB (enough bytes free, no run)");
  for (const auto& [addr, size] : live) k::gen_pool_free(pool, addr, size);
  k::gen_pool_destroy(pool);
}

void DemoIdr() {
  std::printf("\n== idr: ION handle ids (idr_alloc(start=1), lowest free id first)\n");
  struct k::idr idr;
  k::idr_init(&idr);
  int tag = 0;
  std::printf("  ");
  for (int i = 0; i < 3; ++i) {
    const k::ErrnoOr<int> id = k::idr_alloc(&idr, &tag, 1, 0, k::GFP_KERNEL);
    std::printf("alloc -> %d   ", id.ok() ? *id : -id.error().code());
  }
  k::idr_remove(&idr, 2);
  const k::ErrnoOr<int> reused = k::idr_alloc(&idr, &tag, 1, 0, k::GFP_KERNEL);
  std::printf("remove 2   alloc -> %d (reused at once)\n", reused.ok() ? *reused : -reused.error().code());
  k::idr_destroy(&idr);
}

void DemoHeapOrder() {
  std::printf("\n== plist: heap try order on the dummy board (priority = -id, as mainline ion_device_add_heap)\n");
  struct heap {
    const char* name;
    int id;
    struct k::plist_node node;
  };
  std::vector<heap> heaps = {{"system", 0, {}}, {"system_contig", 1, {}}, {"carveout", 2, {}}, {"chunk", 3, {}}};
  struct k::plist_head head;
  k::plist_head_init(&head);
  for (heap& h : heaps) {
    k::plist_node_init(&h.node, -h.id);
    k::plist_add(&h.node, &head);
  }
  std::printf("  ");
  heap* h;
  plist_for_each_entry(h, &head, node) std::printf("%s(id %d)  ", h->name, h->id);
  std::printf("\n");
}

int g_released = 0;
void CountRelease(struct k::kref*) { ++g_released; }

void DemoKrefWrap() {
  std::printf("\n== kref: 256 IMPORTs of one buffer with an 8-bit counter (reference section 5 item 4)\n");
  k::set_bug_printing(false);
  k::kref_set_counter_bits(8);
  k::kref_reset_wrap_count();
  struct k::kref ref;
  k::kref_init(&ref);
  for (int i = 0; i < 256; ++i) k::kref_get(&ref);
  const int count = k::kref_read(&ref);
  const int released = k::kref_put(&ref, CountRelease);
  std::printf("  count after 256 gets: %d, wraps seen: %llu, WARNs: %zu, one put releases: %s\n", count,
              static_cast<unsigned long long>(k::kref_wrap_count()), k::bug_event_count(k::BugKind::kWarn),
              released ? "yes (257 holders, 0 left)" : "no");
  k::kref_set_counter_bits(32);
  k::clear_bug_events();
  k::set_bug_printing(true);
}

void DemoSystemHeapPages() {
  std::printf("\n== buddy allocator: a 1 MiB + 64 KiB + 4 KiB system-heap buffer from 64 MiB of RAM\n");
  k::phys_mem_config config;
  config.ram_base = 0x80000000UL;
  config.ram_size = 64 * kMiB;
  config.lowmem_size = 48 * kMiB;
  struct k::phys_mem* mem = k::phys_mem_create(config);
  if (mem == nullptr) return;
  const unsigned long before = k::nr_free_pages(mem);
  std::printf("  free pages before: %lu\n", before);
  // v4.4 ion_system_heap: order 8 without reclaim, then orders 4 and 0 with GFP_HIGHUSER | __GFP_ZERO.
  const k::gfp_t high = (k::GFP_HIGHUSER | k::__GFP_ZERO | k::__GFP_NOWARN | k::__GFP_NORETRY) &
                        ~k::__GFP_DIRECT_RECLAIM;
  const k::gfp_t low = k::GFP_HIGHUSER | k::__GFP_ZERO | k::__GFP_NOWARN;
  struct {
    unsigned int order;
    k::gfp_t gfp;
  } steps[] = {{8, high}, {4, low}, {0, low}};
  std::vector<std::pair<struct k::page*, unsigned int>> pages;
  for (const auto& step : steps) {
    struct k::page* page = k::alloc_pages(mem, step.gfp, step.order);
    if (page == nullptr) continue;
    pages.emplace_back(page, step.order);
    std::printf("  order %u -> pfn %#lx (%s)\n", step.order, k::page_to_pfn(page),
                k::PageHighMem(page) ? "highmem" : "lowmem");
  }
  std::printf("  free pages after: %lu (%lu taken)\n", k::nr_free_pages(mem), before - k::nr_free_pages(mem));
  for (const auto& [page, order] : pages) k::__free_pages(page, order);
  std::printf("  free pages after freeing: %lu\n", k::nr_free_pages(mem));
  k::phys_mem_destroy(mem);
}

// The machine of the ION walk-through and its carveout: without --board, the core machine with a 10 MiB carveout
// (heap id 2), the size of the genalloc walk-through above; with --board, the board's first carveout heap.
struct DemoMachine {
  ModelConfig config;
  ModelHeapConfig carveout;
};

absl::StatusOr<DemoMachine> DemoMachineFromFlags() {
  DemoMachine m;
  const absl::StatusOr<std::string> board_flag = BoardFlag();
  if (!board_flag.ok()) return board_flag.status();
  const std::string& board = *board_flag;
  if (board.empty()) {
    m.config = CoreModelConfig();
    m.config.heaps[1].size = 10 * kMiB;
    m.config.heaps[1].base = m.config.ram_base + m.config.ram_size - m.config.heaps[1].size;
  } else {
    absl::StatusOr<std::unique_ptr<trace::ModelRunner>> runner = BoardRunner(board);
    if (!runner.ok()) return runner.status();
    m.config = (*runner)->config();
  }
  const auto carveout = std::find_if(m.config.heaps.begin(), m.config.heaps.end(), [](const ModelHeapConfig& h) {
    return h.type == ION_HEAP_TYPE_CARVEOUT;
  });
  if (carveout == m.config.heaps.end()) {
    return absl::InvalidArgumentError(absl::StrCat("bad value '", board,
                                                   "' for --board: the walk-through needs a carveout heap"));
  }
  m.carveout = *carveout;
  const absl::StatusOr<std::string> profile = ProfileFlag();
  if (!profile.ok()) return profile.status();
  m.config.profile = *profile;
  return m;
}

// The same walk-through on the ION model itself, driven from a simulated process through /dev/ion: legacy ALLOC
// and FREE ioctls, the carveout's real deferred-free list, and what debugfs and the canonical dump show. The
// sizes are the genalloc walk-through's in tenths of the carveout (4, 2, 3, 4 and 3 MiB of 10 MiB).
int DemoIonModel(const DemoMachine& m) {
  // A tenth of the carveout, rounded down to an eighth of its highest power of two (and to whole pages), so
  // the sizes read round: 1 MiB of 10 MiB, 9 MiB of 96 MiB, 1792 KiB of 18 MiB.
  unsigned long tenth = m.carveout.size / 10;
  const unsigned long grain =
      std::max(1UL << k::PAGE_SHIFT, (1UL << (63 - __builtin_clzl(std::max(tenth, 1UL)))) / 8);
  tenth -= tenth % grain;
  // At most 40 characters per picture: 256 KiB per character, doubled as the carveout grows.
  unsigned long per_char = 256 * 1024;
  while (m.carveout.size / per_char > 40) per_char *= 2;
  std::printf("\n== the ION model: the same walk-through through /dev/ion on a %s carveout (heap id %u)\n",
              HumanSize(m.carveout.size).c_str(), m.carveout.id);
  if (per_char != 256 * 1024) std::printf("  (1 char = %s)\n", HumanSize(per_char).c_str());
  ErrnoOr<std::unique_ptr<ModelBackend>> booted = ModelBackend::Create(m.config);
  if (!booted.ok()) {
    std::printf("  boot failed: %s\n", booted.error().name());
    return 1;
  }
  ModelBackend* backend = booted.value().get();
  ErrnoOr<ProcId> proc = backend->spawn("demo");
  if (!proc.ok()) return 1;
  LibIon ion(backend, proc.value());
  ErrnoOr<int> fd = ion.Open();
  if (!fd.ok()) return 1;
  struct k::gen_pool* pool = k::ion_carveout_heap_pool(backend->heap(m.carveout.id));
  auto alloc = [&](int tenths) {
    const std::string what = absl::StrCat("ION_IOC_ALLOC ", HumanSize(tenths * tenth));
    ErrnoOr<int> handle = ion.Alloc(fd.value(), tenths * tenth, 0, 1U << m.carveout.id, 0);
    std::printf("  %-36s -> %-9s |%s|\n", what.c_str(),
                handle.ok() ? ("id " + std::to_string(handle.value())).c_str() : handle.error().name(),
                Picture(pool, per_char).c_str());
    return handle.ok() ? handle.value() : -1;
  };
  const int a = alloc(4);
  const int b = alloc(2);
  ion.Free(fd.value(), a).IgnoreError();
  ion.Free(fd.value(), b).IgnoreError();
  std::printf("  %-36s    %-9s |%s|\n", "ION_IOC_FREE both (deferred)", "", Picture(pool, per_char).c_str());
  alloc(3);
  backend->run_deferred_free().IgnoreError();
  std::printf("  %-36s    %-9s |%s|\n", "the deferred-free thread runs", "", Picture(pool, per_char).c_str());
  alloc(4);
  alloc(3);
  const std::string heap_path = "ion/heaps/" + m.carveout.name;
  ErrnoOr<std::string> heap_file = backend->debugfs_read(heap_path);
  std::printf("\n  /sys/kernel/debug/%s:\n%s", heap_path.c_str(), heap_file.ok() ? heap_file.value().c_str() : "");
  ErrnoOr<std::string> dump = backend->canonical_dump();
  std::printf("\n  canonical state:\n%s", dump.ok() ? dump.value().c_str() : "");
  const std::string violations = backend->check_invariants();
  std::printf("  invariants: %s\n", violations.empty() ? "all hold" : violations.c_str());
  booted.value().reset();  // exit the process, drain, unload: everything must come back
  return violations.empty() ? 0 : 1;
}

int Demo(const DemoMachine& machine) {
  DemoCarveoutFragmentation();
  const int ion_ok = DemoIonModel(machine);
  DemoIdr();
  DemoHeapOrder();
  DemoKrefWrap();
  DemoSystemHeapPages();
  const size_t leaked = k::live_object_count();
  const long long pages = static_cast<long long>(k::allocated_page_count());
  std::printf("\n== leak check: %zu live objects, %lld allocated pages, %zu kernel reports\n", leaked, pages,
              k::bug_event_count());
  return ion_ok == 0 && leaked == 0 && pages == 0 && k::bug_event_count() == 0 ? 0 : 1;
}

// `ionsim run`: the workload with the flags' options.
int RunMain(const std::vector<std::string>&) {
  WorkloadOptions options;
  options.seed = absl::GetFlag(FLAGS_seed);
  const absl::StatusOr<std::string> board = BoardFlag();
  if (!board.ok()) return cli::UsageError("run", board.status().message());
  if (!board->empty()) options.board = *board;
  const absl::StatusOr<std::string> profile = ProfileFlag();
  if (!profile.ok()) return cli::UsageError("run", profile.status().message());
  options.profile = *profile;
  const uint64_t frames = absl::GetFlag(FLAGS_frames);
  if (frames < WorkloadOptions::kMinFrames || frames > 10000) {
    return cli::UsageError("run", absl::StrFormat("bad value '%d' for --frames (N: %d to 10000)", frames,
                                                  WorkloadOptions::kMinFrames));
  }
  options.frames = static_cast<int>(frames);
  const std::string svg = absl::GetFlag(FLAGS_svg);
  if (svg.empty()) return cli::UsageError("run", "bad value '' for --svg (PATH: a file name)");
  Progress progress("run", "frames", frames);
  options.after_frame = [&progress, frames](int done) {
    progress.Update(static_cast<uint64_t>(done));
    if (static_cast<uint64_t>(done) == frames) progress.Finish();  // before the report goes out
  };
  return RunWorkloadCommand(options, svg, absl::GetFlag(FLAGS_json));
}

int DemoMain(const std::vector<std::string>&) {
  const absl::StatusOr<DemoMachine> machine = DemoMachineFromFlags();
  if (!machine.ok()) return cli::UsageError("demo", machine.status().message());
  return Demo(*machine);
}

// Every subcommand: `ionsim help`, each command's --help and README's command table come from these entries.
const std::vector<cli::Command>& Commands() {
  static const std::vector<cli::Command>* const commands = new std::vector<cli::Command>{
      {.name = "run",
       .summary = "the main job: a camera, video and display workload on a board, with results, debugfs views, an "
                  "SVG of the carveout and chunk heaps and the invariant checker's verdict",
       .flags = {"board", "profile", "seed", "frames", "svg", "json"},
       .main = RunMain},
      {.name = "demo",
       .summary = "runs the kernel primitives ION is built from on scenarios from ION's history and prints what "
                  "they compute",
       .details = "The last scenario runs on the ION model: a 10 MiB carveout, or --board's first carveout heap "
                  "with the sizes in\nproportion, under --profile.\n",
       .flags = {"board", "profile"},
       .main = DemoMain},
      {.name = "replay",
       .args = "TRACE",
       .summary = "runs a trace (a file, or - for stdin) on the model and prints its canonical output",
       .flags = {"board", "profile", "json", "schedule"},
       .min_args = 1,
       .max_args = 1,
       .main = ReplayMain},
      {.name = "explore",
       .args = "TRACE",
       .summary = "runs the interleavings of a threaded trace's threads on the model and reports the first that "
                  "ends in a use-after-free, double free, kref misuse, lock held at return, deadlock or WARN",
       .details = "Scheduling points: every system call entry, lock acquire and release, kref get and put, and "
                  "lock-free genalloc update.\ndfs runs every schedule with at most --preemptions preemptions, "
                  "fewest first; pct runs random ones; --seconds\nbounds either. The failing schedule is printed as "
                  "an interleaving and replays with `ionsim replay --schedule`.\n",
       .flags = {"board", "profile", "preemptions", "strategy", "budget", "seconds", "seed", "result",
                 "no_reduction"},
       .min_args = 1,
       .max_args = 1,
       .main = ExploreMain},
      {.name = "gen",
       .summary = "prints a random trace for a board",
       .flags = {"board", "profile", "seed", "ops"},
       .main = GenMain},
      {.name = "crosscheck",
       .args = "[TRACE...]",
       .summary = "replays traces on the model and on the kernel module in QEMU, compares the outputs and "
                  "minimises every divergence",
       .details = "The model boots one machine (all of RAM lowmem, as the 64-bit guest) and reloads the ION module "
                  "between traces,\nunless --fresh-machines; the guest runs every trace in one boot. Divergences, "
                  "their outputs and minimised\ntraces go to --out-dir (default crosscheck-out).\n",
       .flags = {"board", "profile", "seed", "ops", "out_dir", "random", "corpus", "guest_bin", "qemu", "max_rounds",
                 "no_minimise", "fresh_machines", "json", "junit"},
       .max_args = -1,
       .main = CrosscheckMain},
      {.name = "decode",
       .args = "INPUT...",
       .summary = "prints ion_ops_fuzzer inputs as traces",
       .flags = {"board", "profile", "run"},
       .min_args = 1,
       .max_args = -1,
       .main = DecodeMain},
      {.name = "fuzz",
       .summary = "a libFuzzer fork-mode campaign on a --config=fuzz harness, with progress, a summary and every "
                  "finding decoded",
       .details = "Builds the harness with bazel unless --binary is given, runs it from WORKDIR/corpus (seeded from "
                  "fuzz/corpus/HARNESS)\nand merges the new inputs back into WORKDIR/corpus.\n",
       .flags = {"board", "profile", "seconds", "jobs", "harness", "workdir", "binary", "json"},
       .main = FuzzMain},
      {.name = "profiles",
       .summary = "lists the ION profiles (eras) and the behaviour each switch changes, with its upstream source",
       .main = ProfilesMain},
  };
  return *commands;
}

}  // namespace
}  // namespace ionsim

int main(int argc, char** argv) { return ionsim::cli::Dispatch(ionsim::Commands(), argc, argv); }
