// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Who holds each ION buffer on the model (docs/trace.md, "Explain"): every handle (its client, the process that
// opened the client and the fd it is open at, id, reference and kmap counts), every dma-buf the buffer was
// exported as (ION v4.4 exports a new one per share or map) with each process fd and each mapping that refers to
// it and the references nobody in userspace holds (a driver's dma_buf_get), the attachments (the devices), the
// kernel mapping count, and deferred-free list membership; each holder with the trace operation that created it
// where the trace bound one. `explain table` prints a per-process table in the spirit of AOSP's dmabuf_dump.
// Pids are left out (they are not part of the canonical output): processes are named by their trace symbol and
// comm.
#ifndef TOOLS_TRACE_MODEL_EXPLAIN_H_
#define TOOLS_TRACE_MODEL_EXPLAIN_H_

#include <string>
#include <vector>

#include "model/backend/model_backend.h"
#include "tools/trace/executor.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {

// The text of `explain` (op.id: one buffer's serial, 0 every buffer; op.flags 1: the table), one line per holder.
std::string ExplainModel(ModelBackend* model, const Op& op, const std::vector<Binding>& bindings);

}  // namespace ionsim::trace

#endif  // TOOLS_TRACE_MODEL_EXPLAIN_H_
