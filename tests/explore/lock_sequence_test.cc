// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The lock sequences of docs/locking.md, from the model's own lock events: each operation of a small program runs
// with lock.h's hook recording every ION lock it takes and releases (the notation of docs/locking.md), and the
// sequence is compared with the one the document gives for the profile.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/backend/board_config.h"
#include "model/backend/model_backend.h"
#include "model/kernel/lock.h"
#include "tools/trace/executor.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {
namespace {

namespace k = ::ionsim::kernel;

std::string* g_seq = nullptr;

// docs/locking.md's short names; locks outside ION's own (the mm's, the page allocator's) are left out.
const char* Short(const char* name, k::LockKind kind) {
  static const std::map<std::string, std::string> names = {
      {"ion_client.lock", "C"},       {"ion_device.buffer_lock", "BL"}, {"ion_buffer.lock", "B"},
      {"ion_heap.free_lock", "FL"},   {"db_list.lock", "DB"},           {"files->file_lock", "F"},
      {"simple_attr.mutex", "A"},     {"seq_file->lock", "S"},          {"dmabuf->lock", "DM"}};
  if (std::string(name) == "ion_device.lock") return kind == k::LockKind::kRwsemRead ? "D.r" : "D.w";
  auto it = names.find(name);
  return it == names.end() ? nullptr : it->second.c_str();
}

void Record(k::LockEvent event, k::LockKind kind, const void*, const char* name) {
  if (g_seq == nullptr || event == k::LockEvent::kAcquired) return;
  const char* s = Short(name, kind);
  if (s == nullptr) return;
  if (!g_seq->empty()) *g_seq += ' ';
  *g_seq += s;
  *g_seq += event == k::LockEvent::kAcquire ? "+" : "-";
}

// Runs the program on a fresh model with `profile`; the lines on thread R are recorded, each into its own entry.
std::vector<std::string> Sequences(const std::string& profile, const std::string& text) {
  std::string error;
  ErrnoOr<ModelConfig> config = ModelConfigFromBoard("dummy", &error);
  EXPECT_TRUE(config.ok()) << error;
  config.value().profile = profile;
  ExecOptions options;
  for (const ModelHeapConfig& h : config.value().heaps) options.heaps.emplace_back(h.name, h.id);
  std::vector<std::string> seqs;
  std::string current;
  options.thread_op = [&](const Op&, bool before) {
    if (before) {
      current.clear();
      g_seq = &current;
    } else {
      g_seq = nullptr;
      seqs.push_back(current);
    }
  };
  ErrnoOr<std::unique_ptr<ModelBackend>> model = ModelBackend::Create(config.value());
  EXPECT_TRUE(model.ok());
  Trace t;
  EXPECT_TRUE(ParseTrace(text, &t, &error)) << error;
  Executor exec(model.value().get(), options);
  k::set_lock_hook(Record);
  ExecReport report;
  exec.Run(t, &report);
  k::set_lock_hook(nullptr);
  EXPECT_TRUE(report.ok()) << report.error << (report.failures.empty() ? "" : report.failures[0]);
  EXPECT_EQ(model.value()->Shutdown(), "");
  return seqs;
}

// One FREE, ALLOC, SHARE, IMPORT (of a buffer the client holds, and into a second client) and a client destroy.
constexpr char kProgram[] =
    "P = spawn app\nC = open P\nC2 = open P\nH0 = alloc C len=4K heap=carveout\nR = thread P\n"
    "R: H = alloc C len=4K heap=carveout\n"
    "R: free C H\n"
    "R: F = share C H0\n"
    "R: I = import C F\n"
    "R: I2 = import C2 F\n"
    "R: close C2\n";

// docs/locking.md, "4.4-compat" (and 4.4).
TEST(LockSequenceTest, Profile44CompatMatchesDocsLocking) {
  const std::vector<std::string> s = Sequences("4.4-compat", kProgram);
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0], "F+ F- D.r+ BL+ BL- D.r- B+ B- C+ C-") << "ALLOC";
  EXPECT_EQ(s[1], "F+ F- C+ B+ B- B+ B- BL+ BL- FL+ FL- C-") << "FREE";
  EXPECT_EQ(s[2], "F+ F- C+ C- C+ C- DM+ DM- DB+ DB- DB+ DB- F+ F- F+ F- C+ C-") << "SHARE";
  EXPECT_EQ(s[3], "F+ F- F+ F- C+ C-") << "IMPORT of a held buffer";
  EXPECT_EQ(s[4], "F+ F- F+ F- C+ B+ B- C-") << "IMPORT into another client";
  EXPECT_EQ(s[5], "F+ F- B+ B- B+ B- D.w+ D.w-") << "client destroy";
}

// docs/locking.md, "4.4.0": the FREE takes client->lock four times.
TEST(LockSequenceTest, Profile440MatchesDocsLocking) {
  const std::vector<std::string> s = Sequences("4.4.0", kProgram);
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[1], "F+ F- C+ C- C+ C- C+ C- C+ B+ B- B+ B- BL+ BL- FL+ FL- C-") << "FREE";
  // Everything else as 4.4-compat.
  const std::vector<std::string> compat = Sequences("4.4-compat", kProgram);
  for (size_t i : {0u, 2u, 3u, 4u, 5u}) EXPECT_EQ(s[i], compat[i]) << i;
}

}  // namespace
}  // namespace ionsim::trace
