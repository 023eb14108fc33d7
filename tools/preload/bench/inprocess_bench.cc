// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// ion_bench.c's two loops on the model backend in this process (no preload): ALLOC+FREE pairs of 4 KiB on the
// dummy board's system heap through libion (arguments written to and read back from the simulated process's
// memory), and mmap + one store + munmap of a 4 KiB dma-buf. Prints what ion_bench prints.
// Usage: inprocess_bench [PAIRS]   (default 20000)
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "model/backend/board_config.h"
#include "model/backend/libion.h"
#include "model/backend/model_backend.h"

namespace ionsim {
namespace {

// The process's CPU time, as ion_bench measures it.
double Now() {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

int Main(long pairs) {
  std::string error;
  ErrnoOr<ModelConfig> config = ModelConfigFromBoard("dummy", &error);
  if (!config.ok()) return 1;
  ErrnoOr<std::unique_ptr<ModelBackend>> created = ModelBackend::Create(config.value());
  if (!created.ok()) return 1;
  ModelBackend& backend = *created.value();
  const ProcId proc = backend.spawn("inprocess_bench").value();
  LibIon ion(&backend, proc);
  const int fd = ion.Open().value();
  double t0 = Now();
  for (long i = 0; i < pairs; ++i) {
    ErrnoOr<int> handle = ion.Alloc(fd, 4096, 0, 1, 0);
    if (!handle.ok() || !ion.Free(fd, handle.value()).ok()) return 1;
  }
  double t = Now() - t0;
  std::printf("ALLOC+FREE: %ld pairs in %.3f CPU s: %.0f pairs/s\n", pairs, t, static_cast<double>(pairs) / t);
  const int handle = ion.Alloc(fd, 4096, 0, 1, 0).value();
  const int share = ion.Share(fd, handle).value();
  t0 = Now();
  for (long i = 0; i < pairs; ++i) {
    ErrnoOr<uint64_t> addr = backend.mmap(proc, 0, 4096, 3, 1, share, 0);  // PROT_READ|PROT_WRITE, MAP_SHARED
    const unsigned char byte = static_cast<unsigned char>(i);
    if (!addr.ok() || !backend.poke(proc, addr.value(), &byte, 1).ok() || !backend.munmap(proc, addr.value(), 4096).ok()) {
      return 1;
    }
  }
  t = Now() - t0;
  std::printf("mmap+munmap: %ld pairs in %.3f CPU s: %.0f pairs/s\n", pairs, t, static_cast<double>(pairs) / t);
  backend.exit(proc).IgnoreError();
  return backend.Shutdown().empty() ? 0 : 1;
}

}  // namespace
}  // namespace ionsim

int main(int argc, char** argv) { return ionsim::Main(argc > 1 ? std::atol(argv[1]) : 20000); }
