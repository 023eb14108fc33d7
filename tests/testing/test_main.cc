// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The main() of every ionsim test. After each test it checks the rules every test must keep:
//   - nothing is leaked: no live model object, no allocated simulated page;
//   - no WARN or other kernel report is left unasserted: a test that provokes one on purpose reads it with
//     bug_events() and clears it with clear_bug_events().
// A violation fails the test that caused it and is then cleared, so the next test starts clean.
#include <cstdint>
#include <string>

#include "gtest/gtest.h"
#include "model/kernel/bug.h"
#include "model/kernel/slab.h"

namespace {

class KernelStateChecker : public ::testing::EmptyTestEventListener {
 public:
  void OnTestStart(const ::testing::TestInfo&) override {
    // Leftovers of an earlier failed test are its own failure; count from here.
    objects_at_start_ = ionsim::kernel::live_object_count();
    pages_at_start_ = ionsim::kernel::allocated_page_count();
    ionsim::kernel::clear_bug_events();
  }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    const std::string name = std::string(info.test_suite_name()) + "." + info.name();
    if (!info.result()->Failed()) {
      const size_t objects = ionsim::kernel::live_object_count();
      EXPECT_EQ(objects, objects_at_start_) << name << " leaked " << (objects - objects_at_start_)
                                            << " object(s):\n" << ionsim::kernel::format_live_objects();
      const int64_t pages = ionsim::kernel::allocated_page_count();
      EXPECT_EQ(pages, pages_at_start_) << name << " leaked " << (pages - pages_at_start_) << " page(s)";
      EXPECT_EQ(ionsim::kernel::bug_event_count(), 0u)
          << name << " left kernel reports it did not assert:\n" << ionsim::kernel::format_bug_events();
    }
    ionsim::kernel::clear_bug_events();
  }

 private:
  size_t objects_at_start_ = 0;
  int64_t pages_at_start_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::UnitTest::GetInstance()->listeners().Append(new KernelStateChecker());
  return RUN_ALL_TESTS();
}
