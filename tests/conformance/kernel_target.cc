// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The conformance tests on the ION module, run in the QEMU guest:
//   tools/qemu/ionsim-qemu run --bin bazel-bin/tests/conformance/conformance_kernel_test -- conformance_kernel_test
// Each test starts with `ionsim-reload` (tools/qemu/ionsim-qemu: rmmod and insmod with the run's arguments), so
// buffer and client serials count from 1 again, and ends with every worker process exited, ion/drain written
// and ion/counters showing nothing alive. The run must use the dummy board (the default).
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "model/backend/kernel_backend.h"
#include "tests/conformance/conformance.h"

namespace ionsim::conformance {

std::unique_ptr<IonBackend> NewBackend(std::string* error) {
  const int status = std::system("ionsim-reload");
  if (status != 0) {
    *error = "ionsim-reload failed (status " + std::to_string(status) +
             "); run this program in the QEMU guest: tools/qemu/ionsim-qemu run --bin <it> -- <its name>";
    return nullptr;
  }
  ErrnoOr<std::unique_ptr<KernelBackend>> backend = KernelBackend::Create();
  if (!backend.ok()) {
    *error = std::string("KernelBackend::Create: ") + backend.error().name();
    return nullptr;
  }
  ErrnoOr<std::string> board = backend.value()->debugfs_read("ion/board");
  if (!board.ok() || board.value().rfind("board dummy\n", 0) != 0) {
    *error = "the module was not loaded with the dummy board (ion/board: " +
             (board.ok() ? board.value().substr(0, board.value().find('\n')) : std::string(board.error().name())) +
             ")";
    return nullptr;
  }
  return std::move(backend).value();
}

std::string FinishBackend(IonBackend* backend) {
  auto* kernel = static_cast<KernelBackend*>(backend);
  kernel->ExitAll();
  std::string report;
  Errno drained = kernel->run_deferred_free();
  if (!drained.ok()) report += std::string("ion/drain: ") + drained.name() + "\n";
  ErrnoOr<std::string> counters = kernel->debugfs_read("ion/counters");
  if (!counters.ok()) return report + "ion/counters: " + counters.error().name() + "\n";
  // kmod/ion_priv.h: every *_live counter is 0 except pages_live, which equals pool_pages.
  std::istringstream in(counters.value());
  std::string name;
  long long value = 0, pages_live = 0, pool_pages = 0;
  while (in >> name >> value) {
    if (name == "pages_live") pages_live = value;
    if (name == "pool_pages") pool_pages = value;
    const bool live = name.size() > 5 && name.compare(name.size() - 5, 5, "_live") == 0;
    if (live && name != "pages_live" && value != 0) report += name + " " + std::to_string(value) + "\n";
  }
  if (pages_live != pool_pages) {
    report += "pages_live " + std::to_string(pages_live) + " but pool_pages " + std::to_string(pool_pages) + "\n";
  }
  return report;
}

}  // namespace ionsim::conformance
