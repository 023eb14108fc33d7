// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The fuzz machine (fuzz/fuzz_machine.h): inputs share one machine, reloaded between them, and an input runs
// the same whatever ran before it; the oracles stop a leak at teardown and a corrupted page after an operation.
#include "fuzz/fuzz_machine.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fuzz/ion_program.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/kernel/mm.h"
#include "tools/trace/executor.h"
#include "tools/trace/trace.h"

namespace ionsim::fuzz {
namespace {

namespace k = ::ionsim::kernel;

// Runs one input on the fuzz machine with every oracle; returns its canonical output and the state dump
// after its last operation.
std::string RunInput(const std::vector<uint8_t>& input) {
  const trace::Trace program = DecodeProgram(input.data(), input.size());
  FuzzMachine machine;
  trace::ExecOptions options;
  options.build_output = true;
  options.heaps = FuzzHeaps();
  options.check = [&](const trace::Op& op) {
    machine.Check(trace::FormatOp(program, op));
    return std::string();
  };
  trace::Executor executor(machine.backend(), options);
  trace::ExecReport report;
  executor.Run(program, &report);
  EXPECT_EQ(report.error, "");
  ErrnoOr<std::string> dump = machine.backend()->canonical_dump();
  machine.Teardown();
  return report.output + (dump.ok() ? dump.value() : std::string("no dump\n"));
}

std::vector<std::vector<uint8_t>> RandomInputs(size_t n) {
  std::mt19937 rng(7);
  std::vector<std::vector<uint8_t>> inputs(n, std::vector<uint8_t>(kMaxOps * kRecordBytes));
  for (auto& input : inputs) {
    for (uint8_t& b : input) b = static_cast<uint8_t>(rng());
  }
  return inputs;
}

TEST(FuzzMachineTest, AnInputRunsTheSameWhateverRanBeforeIt) {
  const std::vector<std::vector<uint8_t>> inputs = RandomInputs(60);
  std::vector<std::string> forward;
  for (const auto& input : inputs) forward.push_back(RunInput(input));
  // Backwards, every input now runs after a different history (the first one last of all).
  for (size_t i = inputs.size(); i-- > 0;) {
    EXPECT_EQ(RunInput(inputs[i]), forward[i]) << "input " << i;
  }
}

TEST(FuzzMachineTest, InputsShareOneMachine) {
  k::phys_mem* first = nullptr;
  {
    FuzzMachine machine;
    first = machine.backend()->mem();
  }
  FuzzMachine machine;
  EXPECT_EQ(machine.backend()->mem(), first);
}

TEST(FuzzMachineDeathTest, APageLeftAllocatedStopsTheTeardown) {
  EXPECT_DEATH(
      {
        FuzzMachine machine;
        ASSERT_NE(k::alloc_page(machine.backend()->mem(), k::GFP_KERNEL), nullptr);
        machine.Teardown();
      },
      "page allocator: 1 pages still allocated");
}

TEST(FuzzMachineDeathTest, ACorruptedFreePageStopsTheNextCheck) {
  EXPECT_DEATH(
      {
        FuzzMachine machine;
        k::phys_mem* mem = machine.backend()->mem();
        const std::vector<unsigned long> blocks = k::free_list_pfns(mem, k::ZONE_NORMAL, k::MAX_ORDER - 1);
        ASSERT_FALSE(blocks.empty());
        k::SetPageReserved(k::pfn_to_page(mem, blocks[0] + 1));
        machine.Check("the corruption");
      },
      "after: the corruption(.|\n)*buddy allocator: free order-10 block at pfn 0x[0-9a-f]+ covers reserved pfn");
}

}  // namespace
}  // namespace ionsim::fuzz
