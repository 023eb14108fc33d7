// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/bundle.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ionsim::trace {
namespace {

TEST(BundleTest, TracesRoundTripWithTheBoardOnOneLine) {
  const std::vector<BundleEntry> in = {{"a", "P = spawn x\nC = open P\n"}, {"b", "\n# only a comment\n"}};
  const std::string data = WriteBundle("board t\nram size=64M\n", in);
  std::string board;
  std::vector<BundleEntry> out;
  std::string error;
  ASSERT_TRUE(ReadBundle(data, &board, &out, &error)) << error;
  EXPECT_EQ(board, "board t;ram size=64M;");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, "a");
  EXPECT_EQ(out[0].text, in[0].text);
  EXPECT_EQ(out[1].text, in[1].text);
}

TEST(BundleTest, TruncatedBundleIsAnError) {
  std::string board;
  std::vector<BundleEntry> out;
  std::string error;
  EXPECT_FALSE(ReadBundle("ionsim-bundle 1\nboard dummy\ntrace a 3\nx\n", &board, &out, &error));
  EXPECT_EQ(error, "bundle ends inside trace a");
  EXPECT_FALSE(ReadBundle("hello\n", &board, &out, &error));
}

TEST(BundleTest, GuestResultsAreReadPerTraceAmongOtherLines) {
  const std::string data =
      "noise\n"
      "IONSIM_TRACE a ok us=12 reload_us=5\n1 P = spawn x => ok\n  indented\nIONSIM_TRACE_END a\n"
      "[ 1.0] kernel line between blocks\n"
      "IONSIM_TRACE b error: line 3: unknown heap 'q' us=7\nIONSIM_TRACE_END b\n"
      "IONSIM_REPLAY traces=2 us=99\n";
  std::vector<GuestResult> r;
  uint64_t total = 0;
  std::string error;
  ASSERT_TRUE(ReadGuestResults(data, &r, &total, &error)) << error;
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].output, "1 P = spawn x => ok\n  indented\n");
  EXPECT_EQ(r[0].us, 12u);
  EXPECT_EQ(r[0].reload_us, 5u);
  EXPECT_EQ(r[1].status, "error: line 3: unknown heap 'q'");
  EXPECT_EQ(total, 99u);
  EXPECT_FALSE(ReadGuestResults("IONSIM_TRACE a ok us=1\nno end\n", &r, &total, &error));
}

}  // namespace
}  // namespace ionsim::trace
