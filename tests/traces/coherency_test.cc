// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The coherency scenarios of the corpus (tests/traces/coherency_*.trace) in both modes of the model: coherent
// (the corpus test checks their expected results and reports), and non-coherent, where every read the oracle
// reports returns the stale bytes and every other result stays the same. And the rule the oracle exists for: a
// device reading what the CPU wrote to a cached buffer without ION_IOC_SYNC is reported naming the missing step,
// and the same trace with the sync is clean.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/traces/corpus_files.h"
#include "tools/trace/executor.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {
namespace {

using ::testing::HasSubstr;

// The coherency scenarios of the corpus (tests/traces/coherency_*.trace), sorted.
std::vector<std::string> CoherencyTraces() {
  std::vector<std::string> paths;
  for (const std::string& path : CorpusPaths()) {
    if (std::filesystem::path(path).filename().string().rfind("coherency_", 0) == 0) paths.push_back(path);
  }
  return paths;
}

ExecReport Replay(const Trace& t, bool noncoherent) {
  std::string error;
  std::unique_ptr<ModelRunner> runner = ModelRunner::Create("dummy", false, &error);
  EXPECT_NE(runner, nullptr) << error;
  ExecReport report;
  if (runner == nullptr) return report;
  runner->set_noncoherent(noncoherent);
  runner->Run(t, true, true, &report);
  return report;
}

Trace Parse(const std::string& text) {
  Trace t;
  std::string error;
  EXPECT_TRUE(ParseTrace(text, &t, &error)) << error;
  return t;
}

std::string CrcOf(size_t len, uint8_t byte) {
  std::vector<uint8_t> b(len, byte);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "ok crc=0x%08x", Crc32(0, b.data(), b.size()));
  return buf;
}

TEST(CoherencyTest, EveryRuleHasAScenario) {
  const std::vector<std::string> paths = CoherencyTraces();
  ASSERT_EQ(paths.size(), 5u);
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    const Trace t = Parse(ReadCorpusFile(path));
    EXPECT_TRUE(UsesDevices(t));
  }
}

TEST(CoherencyTest, NonCoherentModeShowsTheStaleBytesWhereTheOracleReports) {
  for (const std::string& path : CoherencyTraces()) {
    SCOPED_TRACE(path);
    const Trace t = Parse(ReadCorpusFile(path));
    const ExecReport coherent = Replay(t, false);
    EXPECT_TRUE(coherent.ok());
    for (const std::string& f : coherent.failures) ADD_FAILURE() << f;
    const ExecReport stale = Replay(t, true);
    const std::vector<std::string> a = ResultsOfOutput(coherent.output);
    const std::vector<std::string> b = ResultsOfOutput(stale.output);
    ASSERT_EQ(a.size(), t.ops.size());
    ASSERT_EQ(b.size(), t.ops.size());
    for (size_t i = 0; i < t.ops.size(); ++i) {
      const Op& op = t.ops[i];
      const bool stale_read = op.expect_coherency && (op.kind == OpKind::kDevRead || op.kind == OpKind::kLoad);
      if (stale_read) {
        EXPECT_NE(a[i], b[i]) << "line " << op.line << ": the stale bytes are not visible";
      } else {
        EXPECT_EQ(a[i], b[i]) << "line " << op.line;
      }
    }
  }
}

// The buffer is allocated zeroed: a device reading before the clean sees zeros, a CPU reading before the
// invalidate sees the zeros its cache still holds.
TEST(CoherencyTest, TheStaleBytesAreTheOlderOnes) {
  const std::string dir = std::filesystem::path(CoherencyTraces().at(0)).parent_path().string();
  {
    const Trace t = Parse(ReadCorpusFile(dir + "/coherency_clean_before_device_read.trace"));
    const std::vector<std::string> r = ResultsOfOutput(Replay(t, true).output);
    for (size_t i = 0; i < t.ops.size(); ++i) {
      if (t.ops[i].kind == OpKind::kDevRead && t.ops[i].expect_coherency && t.ops[i].off == 0) {
        EXPECT_EQ(r[i], CrcOf(4096, 0));
      }
    }
  }
  {
    const Trace t = Parse(ReadCorpusFile(dir + "/coherency_invalidate_before_cpu_read.trace"));
    const std::vector<std::string> r = ResultsOfOutput(Replay(t, true).output);
    bool seen = false;
    for (size_t i = 0; i < t.ops.size(); ++i) {
      if (t.ops[i].kind == OpKind::kLoad && t.ops[i].expect_coherency) {
        EXPECT_EQ(r[i], CrcOf(4096, 0));
        seen = true;
      }
    }
    EXPECT_TRUE(seen);
  }
}

constexpr char kCameraFrame[] = R"(P = spawn camera.provider
C = open P
H = alloc C len=4K heap=system flags=3
F = share C H
M = mmap F len=4K
D = device isp
A = attach D F
dev_map A dir=to_device
store M off=0 len=4K byte=0x5a
%SYNC%
dev_read A off=0 len=4K
dev_unmap A
detach A
munmap M
close F
free C H
)";

std::string Frame(const std::string& sync) {
  std::string text = kCameraFrame;
  text.replace(text.find("%SYNC%"), 6, sync);
  return text;
}

TEST(CoherencyTest, DeviceReadWithoutTheSyncIsReportedNamingTheMissingStep) {
  const ExecReport report = Replay(Parse(Frame("")), false);
  ASSERT_EQ(report.failures.size(), 1u);
  const std::string& f = report.failures[0];
  EXPECT_THAT(f, HasSubstr("line 11: invariant violated after 'dev_read A off=0 len=4K'"));
  EXPECT_THAT(f, HasSubstr("stale read by the device: buffer b1 bytes 0x0-0xfff (lines 0-63)"));
  EXPECT_THAT(f, HasSubstr("read by device isp read at line 11 `dev_read A off=0 len=4K`"));
  EXPECT_THAT(f, HasSubstr("at line 9 `store M off=0 len=4K byte=90`"));
  EXPECT_THAT(f, HasSubstr("missing: a clean for the device"));
  EXPECT_THAT(f, HasSubstr("ION_IOC_SYNC"));
}

TEST(CoherencyTest, DeviceReadAfterIonIocSyncIsClean) {
  const ExecReport report = Replay(Parse(Frame("sync C F")), false);
  EXPECT_TRUE(report.ok());
  for (const std::string& f : report.failures) ADD_FAILURE() << f;
}

TEST(CoherencyTest, ReportsExpectedByTheTraceAreNotFailures) {
  const ExecReport report = Replay(Parse(Frame("# no sync")), false);
  EXPECT_FALSE(report.ok());
  std::string text = Frame("");
  text.replace(text.find("dev_read A off=0 len=4K"), 23, "dev_read A off=0 len=4K  # ok coherency");
  const ExecReport expected = Replay(Parse(text), false);
  EXPECT_TRUE(expected.ok());
  for (const std::string& f : expected.failures) ADD_FAILURE() << f;
  // And an expected report that does not come is a failure.
  std::string clean = Frame("sync C F");
  clean.replace(clean.find("dev_read A off=0 len=4K"), 23, "dev_read A off=0 len=4K  # ok coherency");
  const ExecReport missing = Replay(Parse(clean), false);
  ASSERT_EQ(missing.failures.size(), 1u);
  EXPECT_THAT(missing.failures[0], HasSubstr("expected a coherency report, none came"));
}

TEST(CoherencyTest, DeviceOperationsNeedSimulatedDevices) {
  std::string error;
  std::unique_ptr<ModelBackend> model;
  ErrnoOr<std::unique_ptr<ModelBackend>> booted = ModelBackend::Create(CoreModelConfig());
  ASSERT_TRUE(booted.ok());
  model = std::move(booted.value());
  Executor exec(model.get(), ExecOptions());
  ExecReport report;
  EXPECT_FALSE(exec.Run(Parse(Frame("")), &report));
  EXPECT_EQ(report.error, "line 6: 'device': device operations run on the model only (this backend has no "
                          "simulated devices)");
  EXPECT_EQ(model->Shutdown(), "");
}

TEST(CoherencyTest, AnAttachmentLeftAtTheEndIsAFailureAndIsReleased) {
  const Trace t = Parse(R"(P = spawn app
C = open P
H = alloc C len=4K heap=system
F = share C H
D = device isp
A = attach D F
dev_map A
close F
free C H
)");
  const ExecReport report = Replay(t, false);
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_EQ(report.failures[0], "model devices: device isp: attachment to buffer b1 still mapped and still attached "
                                "at the end (the driver's remove unmapped, detached and put it)");
}

TEST(CoherencyTest, DeviceOperationErrors) {
  const Trace t = Parse(R"(P = spawn app
C = open P
H = alloc C len=4K heap=system
F = share C H
D = device isp
A0 = attach D C           # EINVAL -- not a dma-buf
A = attach D F
dev_read A off=0 len=4K   # EINVAL -- not mapped
dev_unmap A               # EINVAL
dev_sync A cpu            # EINVAL
dev_map A dir=from_device
dev_map A                 # EBUSY
dev_write A off=4K len=1 byte=1  # EINVAL -- past the end
detach A                  # EBUSY -- still mapped
dev_unmap A
detach A
detach A                  # EINVAL
close F
free C H
)");
  const ExecReport report = Replay(t, false);
  EXPECT_TRUE(report.ok());
  for (const std::string& f : report.failures) ADD_FAILURE() << f;
}

TEST(CoherencyTest, DeviceOperationsPrintAndParseBack) {
  const Trace t = Parse(R"(P = spawn app
C = open P
F = new_alloc C len=4K heap=system
D = device camera
A = attach D F@P
dev_map A dir=to_device
dev_map A dir=bidirectional
dev_write A off=0 len=4K byte=0x11
dev_read A off=64 len=1K  # ok crc=0x1 coherency
dev_sync A device
dev_unmap A
detach A
)");
  const std::string printed = PrintTrace(t);
  EXPECT_THAT(printed, HasSubstr("A = attach D F@P\ndev_map A dir=to_device\ndev_map A\n"));
  EXPECT_THAT(printed, HasSubstr("dev_read A off=64 len=1K  # ok crc=0x1 coherency\ndev_sync A device\n"));
  Trace again;
  std::string error;
  ASSERT_TRUE(ParseTrace(printed, &again, &error)) << error;
  EXPECT_TRUE(t.SameAs(again));
  Trace bad;
  EXPECT_FALSE(ParseTrace("D = device x\nA = attach D D\n", &bad, &error));
  EXPECT_EQ(error, "line 2: 'D' is a device, expected a fd");
  EXPECT_FALSE(ParseTrace("P = spawn a\nC = open P\nF = new_alloc C len=4K heap=system\nD = device x\n"
                          "A = attach D F\ndev_map A dir=sideways\n",
                          &bad, &error));
  EXPECT_EQ(error, "line 6: bad dir 'sideways' (bidirectional, to_device or from_device)");
}

}  // namespace
}  // namespace ionsim::trace
