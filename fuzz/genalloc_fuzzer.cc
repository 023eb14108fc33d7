// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// genalloc against the bit-by-bit reference. The input decodes into a pool (granule order, one to three chunks)
// and a program of allocations with every algorithm and frees, some of them invalid. Valid operations run on
// both and must agree on every returned address and on avail; an invalid free (double free, foreign address,
// range crossing a chunk end) is checked against the reference's verdict that upstream would BUG, and is not
// run on the model, whose BUG would end the process. Any mismatch, any unexpected WARN or BUG, and any object
// left alive at the end is a crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "fuzz/byte_reader.h"
#include "model/kernel/bug.h"
#include "model/kernel/genalloc.h"
#include "model/kernel/slab.h"
#include "tests/testing/genalloc_reference.h"

namespace {

using ionsim::testing::GenAlgo;
using ionsim::testing::GenallocReference;
namespace k = ionsim::kernel;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "genalloc_fuzzer: %s\n", what.c_str());
  std::abort();
}

k::genpool_algo_t AlgoFn(GenAlgo algo) {
  switch (algo) {
    case GenAlgo::kFirstFit: return k::gen_pool_first_fit;
    case GenAlgo::kFirstFitAlign: return k::gen_pool_first_fit_align;
    case GenAlgo::kFixed: return k::gen_pool_fixed_alloc;
    case GenAlgo::kFirstFitOrderAlign: return k::gen_pool_first_fit_order_align;
    case GenAlgo::kBestFit: return k::gen_pool_best_fit;
  }
  return k::gen_pool_first_fit;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  k::set_bug_printing(false);
  k::clear_bug_events();
  ionsim::fuzz::ByteReader in(data, size);
  const int order = in.ConsumeIntegralInRange<int>(3, 12);
  const unsigned long g = 1UL << order;
  struct k::gen_pool* pool = k::gen_pool_create(order, -1);
  GenallocReference ref(order);

  const int chunks = in.ConsumeIntegralInRange<int>(1, 3);
  for (int c = 0; c < chunks; ++c) {
    // Chunks in separate 16 MiB windows so they never overlap; never at address 0 (that is the failure value).
    const unsigned long start =
        (static_cast<unsigned long>(c) + 1) << 24 | in.ConsumeIntegralInRange<unsigned long>(0, 15) * g;
    const size_t bytes =
        in.ConsumeIntegralInRange<size_t>(0, 512) * g + in.ConsumeIntegralInRange<size_t>(0, g - 1);
    if (!k::gen_pool_add(pool, start, bytes, -1).ok()) Fail("gen_pool_add failed");
    ref.AddChunk(start, bytes);
  }

  std::map<unsigned long, size_t> live;
  while (in.remaining_bytes() > 0) {
    const uint8_t op = in.ConsumeIntegral<uint8_t>() % 8;
    if (op < 5) {
      const GenAlgo algo = static_cast<GenAlgo>(op);
      const size_t want_size = in.ConsumeIntegralInRange<size_t>(0, 64 * g);
      unsigned long param = 0;
      k::genpool_data_align align{};
      k::genpool_data_fixed fixed{};
      void* algo_data = nullptr;
      if (algo == GenAlgo::kFirstFitAlign) {
        param = 1UL << in.ConsumeIntegralInRange<int>(0, order + 8);
        align.align = static_cast<int>(param);
        algo_data = &align;
      } else if (algo == GenAlgo::kFixed) {
        param = in.ConsumeIntegralInRange<unsigned long>(0, 600) * g;
        if (in.ConsumeBool()) param += in.ConsumeIntegralInRange<unsigned long>(0, g - 1);
        fixed.offset = param;
        algo_data = &fixed;
      }
      int warns = 0;
      const unsigned long want = ref.Alloc(want_size, algo, param, &warns);
      const unsigned long got = k::gen_pool_alloc_algo(pool, want_size, AlgoFn(algo), algo_data);
      if (got != want) {
        Fail(std::string(ionsim::testing::GenAlgoName(algo)) + ": model " + std::to_string(got) +
             ", reference " + std::to_string(want));
      }
      if (k::bug_event_count(k::BugKind::kWarn) != static_cast<size_t>(warns)) Fail("WARN count mismatch");
      k::clear_bug_events();
      if (got != 0) live[got] = want_size;
    } else if (op < 7 && !live.empty()) {
      auto it = live.begin();
      std::advance(it, static_cast<long>(in.ConsumeIntegralInRange<size_t>(0, live.size() - 1)));
      if (!ref.Free(it->first, it->second).empty()) Fail("reference refused a valid free");
      k::gen_pool_free(pool, it->first, it->second);
      live.erase(it);
    } else {
      // An invalid free: the reference must call it a BUG; the model is not asked (it would abort).
      const unsigned long addr = in.ConsumeIntegralInRange<unsigned long>(0, 4UL << 24);
      const size_t bytes = in.ConsumeIntegralInRange<size_t>(1, 8 * g);
      // Compare whole granules: an allocation owns its rounded-up tail, and a free clears the granules from the
      // one holding addr onwards (chunk starts are granule-aligned here).
      auto granules = [g](size_t n) { return (n + g - 1) & ~(g - 1); };
      const unsigned long free_start = addr & ~(g - 1);
      const unsigned long free_end = free_start + granules(bytes);
      bool overlaps_live = false;
      for (const auto& [a, s] : live) {
        if (free_start < a + granules(s) && a < free_end) overlaps_live = true;
      }
      if (overlaps_live) continue;  // might be (partly) valid; the valid path covers frees
      if (ref.Free(addr, bytes).empty()) Fail("reference accepted a free of memory that is not allocated");
    }
    if (k::gen_pool_avail(pool) != ref.Avail()) Fail("avail mismatch");
  }
  for (const auto& [addr, bytes] : live) k::gen_pool_free(pool, addr, bytes);
  if (ref.AnyBitSet() && live.empty()) Fail("reference still has bits set");
  k::gen_pool_destroy(pool);
  if (k::bug_event_count() != 0) Fail("unexpected kernel report:\n" + k::format_bug_events());
  if (k::live_object_count() != 0) Fail("leaked objects:\n" + k::format_live_objects());
  return 0;
}
