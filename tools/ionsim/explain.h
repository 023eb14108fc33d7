// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim explain [--at LINE] [--all] TRACE`: runs a trace (docs/trace.md) on the model up to a line and prints
// who holds each ION buffer then (docs/trace.md, "Explain"): handles with their clients and the processes that
// opened them, each dma-buf with every process fd and mapping referring to it and the references the kernel
// holds, attachments, kmap counts, the deferred-free lists, each holder with the trace operation that created it.
#ifndef TOOLS_IONSIM_EXPLAIN_H_
#define TOOLS_IONSIM_EXPLAIN_H_

#include <string>
#include <vector>

namespace ionsim {

// args: the trace path ("-" for stdin). Exit status 0 when the explanation is printed; 2 for usage and input
// errors (a trace that does not parse, a line past its end, a board that does not validate).
int ExplainMain(const std::vector<std::string>& args);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_EXPLAIN_H_
