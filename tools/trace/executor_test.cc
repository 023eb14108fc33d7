// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/executor.h"

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/backend/board_config.h"
#include "model/backend/model_backend.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {
namespace {

std::unique_ptr<ModelBackend> Boot(ExecOptions* options) {
  std::string error;
  ErrnoOr<ModelConfig> config = ModelConfigFromBoard("dummy", &error);
  EXPECT_TRUE(config.ok()) << error;
  for (const ModelHeapConfig& h : config.value().heaps) options->heaps.emplace_back(h.name, h.id);
  ErrnoOr<std::unique_ptr<ModelBackend>> model = ModelBackend::Create(config.value());
  EXPECT_TRUE(model.ok());
  return std::move(model.value());
}

Trace Parse(const std::string& text) {
  Trace t;
  std::string error;
  EXPECT_TRUE(ParseTrace(text, &t, &error)) << error;
  return t;
}

TEST(ExecutorTest, CanonicalOutputHasOneLinePerOperationWithIdsButNoFds) {
  ExecOptions options;
  std::unique_ptr<ModelBackend> model = Boot(&options);
  Executor exec(model.get(), options);
  const Trace t = Parse(
      "P = spawn app\n"
      "C = open P\n"
      "\n"
      "H = alloc C len=4K heap=carveout\n"
      "F = share C H\n"
      "H2 = import C F   # ok id=1\n"
      "free C H\n"
      "free C H\n"
      "free C H   # EINVAL\n"
      "query C cnt=2\n"
      "X = alloc C len=4K heap=system_contig\n");
  ExecReport report;
  EXPECT_TRUE(exec.Run(t, &report)) << report.error << (report.failures.empty() ? "" : report.failures[0]);
  EXPECT_EQ(report.output,
            "1 P = spawn app => ok\n"
            "2 C = open P => ok\n"
            "4 H = alloc C len=4K heap=carveout => ok id=1\n"
            "5 F = share C H => ok\n"
            "6 H2 = import C F => ok id=1\n"
            "7 free C H => ok\n"
            "8 free C H => ok\n"
            "9 free C H => EINVAL\n"
            "10 query C cnt=2 => ok cnt=2 heaps=chunk:3:3,carveout:2:2\n"
            "11 X = alloc C len=4K heap=system_contig => ok id=1\n");
}

TEST(ExecutorTest, MismatchedExpectationsAndUnknownHeapsAreReported) {
  ExecOptions options;
  std::unique_ptr<ModelBackend> model = Boot(&options);
  Executor exec(model.get(), options);
  ExecReport report;
  EXPECT_FALSE(exec.Run(Parse("P = spawn a\nC = open P\nfree C id=7   # ok\n"), &report));
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_EQ(report.failures[0], "line 3: free C id=7: expected ok, got EINVAL");
  EXPECT_EQ(report.mismatches, 1);
  EXPECT_FALSE(exec.Run(Parse("P = spawn a\nC = open P\nH = alloc C len=4K heap=nope\n"), &report));
  EXPECT_EQ(report.error, "line 3: unknown heap 'nope'");
}

TEST(ExecutorTest, BadAndReadOnlyPointersFaultAsForAProcess) {
  ExecOptions options;
  std::unique_ptr<ModelBackend> model = Boot(&options);
  Executor exec(model.get(), options);
  ExecReport report;
  // ION_IOC_HEAP_QUERY with a read-only argument: copy_from_user works, copy_to_user faults.
  EXPECT_TRUE(exec.Run(Parse("P = spawn a\nC = open P\n"
                             "ioctl C cmd=0xc0204900 arg=bad   # EFAULT\n"
                             "ioctl C cmd=0xc0184908 arg=ro   # EFAULT\n"
                             "query C cnt=1 heaps=bad   # EFAULT\n"
                             "H = alloc C len=4K heap=system   # ok id=1\n"
                             "M = mmap C len=4K   # EACCES -- O_RDONLY file, shared writable mapping\n"
                             "store M off=0 len=1 byte=1   # EFAULT\n"),
                       &report))
      << report.failures[0];
}

TEST(ExecutorTest, ResultsWithoutOutputMatchAndTheCheckRunsAfterEveryOperation) {
  const Trace t = Parse(
      "P = spawn a\nC = open P\nH = alloc C len=8K heap=system\nF = share C H\nM = mmap F len=8K\n"
      "store M off=4K len=4K byte=7\nload M off=0 len=8K\nQ = fork P\nclose F@Q\nexit Q\nexit P\ndrain\n");
  ExecOptions options;
  std::unique_ptr<ModelBackend> model = Boot(&options);
  int checks = 0;
  options.check = [&checks](const Op&) {
    ++checks;
    return std::string(checks == 4 ? "boom" : "");
  };
  Executor with_text(model.get(), options);
  ExecReport text_report;
  EXPECT_FALSE(with_text.Run(t, &text_report));
  EXPECT_EQ(checks, 12);
  EXPECT_EQ(text_report.violations, 1);
  EXPECT_EQ(text_report.failures[0], "line 4: invariant violated after 'F = share C H': boom");

  model.reset();
  ExecOptions quiet;
  std::unique_ptr<ModelBackend> model2 = Boot(&quiet);
  quiet.build_output = false;
  Executor no_text(model2.get(), quiet);
  ExecReport quiet_report;
  EXPECT_TRUE(no_text.Run(t, &quiet_report));
  EXPECT_TRUE(quiet_report.output.empty());
  ASSERT_EQ(quiet_report.results.size(), text_report.results.size());
  for (size_t i = 0; i < t.ops.size(); ++i) {
    EXPECT_EQ(quiet_report.results[i].err, text_report.results[i].err) << i;
    EXPECT_EQ(quiet_report.results[i].value, text_report.results[i].value) << i;
  }
}

// A heap debugfs row as v4.4 prints it: "%16s %16s %16s" plus the orphan columns.
std::string Row(const char* comm, const char* pid, const char* size, const char* rest = "") {
  char buf[128];
  std::snprintf(buf, sizeof(buf), "%16s %16s %16s%s\n", comm, pid, size, rest);
  return buf;
}

TEST(ExecutorTest, HeapFilePidsAreMaskedInPlace) {
  std::string text = Row("client", "pid", "size") + Row("app", "17", "4096") + Row("app", "123", "4096", " 0 1") +
                     Row("", "0", "16384", " 0 1") + "  total orphaned             4096\n";
  MaskHeapFilePids(&text);
  EXPECT_EQ(text, Row("client", "pid", "size") + Row("app", "-", "4096") + Row("app", "-", "4096", " 0 1") +
                      Row("", "-", "16384", " 0 1") + "  total orphaned             4096\n");
}

TEST(ExecutorTest, HeapFileRowsAreNormalisedToSortedOrder) {
  EXPECT_EQ(NormaliseAddressOrder("2 debugfs ion/heaps/system => ok\n  " + Row("p4", "-", "4096") + "  " +
                                  Row("p1", "-", "8192") + "  ----\n  " + Row("p9", "-", "4096", " 0 1")),
            "2 debugfs ion/heaps/system => ok\n  " + Row("p1", "-", "8192") + "  " + Row("p4", "-", "4096") +
                "  ----\n  " + Row("p9", "-", "4096", " 0 1"));
}

TEST(ExecutorTest, FreeListsStayInOrderAndOnlyTheirClientDestroyRunsAreNormalisedToSerialOrder) {
  EXPECT_EQ(NormaliseAddressOrder("1 state => ok\n  heap 2 carveout type=carveout defer=1 free_list_bytes=3 "
                               "free_list=b10,b9,b2\n  heap 0 system type=system free_list=-\n"),
            "1 state => ok\n  heap 2 carveout type=carveout defer=1 free_list_bytes=3 free_list=b10,b9,b2\n"
            "  heap 0 system type=system free_list=-\n");
  EXPECT_EQ(NormaliseAddressOrder("1 state => ok\n  heap 2 carveout type=carveout defer=1 free_list_bytes=5 "
                               "free_list=b7,b10+b3+b9,b2,b6+b5\n"),
            "1 state => ok\n  heap 2 carveout type=carveout defer=1 free_list_bytes=5 "
            "free_list=b7,b3+b9+b10,b2,b5+b6\n");
}

TEST(ExecutorTest, ThreadSectionsRunThroughRunThreadsAndPrintInTraceOrder) {
  ExecOptions options;
  std::unique_ptr<ModelBackend> model = Boot(&options);
  std::vector<std::string> sections;
  std::vector<std::string> boundaries;
  // The threads in reverse: T2's lines run first, yet print in trace order.
  options.run_threads = [&sections](const std::vector<std::string>& names, const std::function<void(size_t)>& body) {
    std::string s;
    for (const std::string& n : names) s += n + " ";
    sections.push_back(s);
    for (size_t k = names.size(); k-- > 0;) body(k);
    return true;
  };
  options.thread_op = [&boundaries](const Op& op, bool before) {
    boundaries.push_back(std::to_string(op.line) + (before ? "<" : ">"));
  };
  Executor exec(model.get(), options);
  const Trace t = Parse(
      "P = spawn app\n"
      "C = open P\n"
      "H = alloc C len=4K heap=system\n"
      "T1 = thread P\n"
      "T2 = thread P\n"
      "T1: free C H\n"
      "T2: H2 = alloc C len=8K heap=system\n"
      "free C H2   # ok\n");
  ExecReport report;
  EXPECT_TRUE(exec.Run(t, &report)) << report.error << (report.failures.empty() ? "" : report.failures[0]);
  EXPECT_EQ(report.output,
            "1 P = spawn app => ok\n"
            "2 C = open P => ok\n"
            "3 H = alloc C len=4K heap=system => ok id=1\n"
            "6 T1: free C H => ok\n"
            "7 T2: H2 = alloc C len=8K heap=system => ok id=2\n"
            "8 free C H2 => ok\n");
  EXPECT_EQ(sections, (std::vector<std::string>{"T1 T2 "}));
  EXPECT_EQ(boundaries, (std::vector<std::string>{"7<", "7>", "6<", "6>"}));
  EXPECT_EQ(model->Shutdown(), "");
}

TEST(ExecutorTest, WithoutRunThreadsTheThreadsRunInOrder) {
  ExecOptions options;
  std::unique_ptr<ModelBackend> model = Boot(&options);
  Executor exec(model.get(), options);
  const Trace t = Parse(
      "P = spawn app\nC = open P\nH = alloc C len=4K heap=system\nT1 = thread P\nT2 = thread P\n"
      "T2: free C H   # ok\nT1: free C H   # EINVAL\n");
  ExecReport report;
  EXPECT_TRUE(exec.Run(t, &report)) << report.error << (report.failures.empty() ? "" : report.failures[0]);
  EXPECT_EQ(model->Shutdown(), "");
}

TEST(ExecutorTest, Crc32IsZlibs) { EXPECT_EQ(Crc32(0, "123456789", 9), 0xcbf43926u); }

}  // namespace
}  // namespace ionsim::trace
