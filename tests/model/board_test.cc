// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Board descriptions (docs/boards.md): the C parser, layout and renderer of kmod/ion_board.c that the model and
// the kernel module share, the embedded boards, and the model's ModelConfig glue.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/ion_board.h"
#include "model/backend/board_config.h"
#include "model/backend/model_backend.h"
#include "tests/testing/errno_matchers.h"

namespace ionsim::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr uint64_t kK = 1ULL << 10;
constexpr uint64_t kM = 1ULL << 20;
constexpr uint64_t kG = 1ULL << 30;

// Lines 1 and 2 of most test boards: 64 MiB of RAM at 0x80000000, so the first heap record is on line 3.
const std::string kHead = "board t\nram size=64M base=0x80000000\n";

struct Board {
  std::unique_ptr<ion_board> b = std::make_unique<ion_board>();
  int ret = 0;
  std::string err;

  const ion_board_heap& heap(const std::string& name) const {
    for (unsigned int i = 0; i < b->nr_heaps; i++) {
      if (name == b->heaps[i].name) return b->heaps[i];
    }
    ADD_FAILURE() << "no heap " << name;
    return b->heaps[0];
  }
};

Board Parse(const std::string& text) {
  Board out;
  char err[ION_BOARD_ERR_LEN] = {};
  out.ret = ion_board_parse(out.b.get(), text.data(), text.size(), err, sizeof(err));
  out.err = err;
  return out;
}

// Parses and lays the board out in its own RAM.
Board LayOut(const std::string& text) {
  Board out = Parse(text);
  if (out.ret != 0) return out;
  char err[ION_BOARD_ERR_LEN] = {};
  out.ret = ion_board_layout(out.b.get(), out.b->ram_base, out.b->ram_size, err, sizeof(err));
  out.err = err;
  return out;
}

std::string Render(const ion_board& b) {
  const int n = ion_board_render(&b, nullptr, 0);
  std::string text(static_cast<size_t>(n) + 1, '\0');
  EXPECT_EQ(ion_board_render(&b, text.data(), text.size()), n);
  text.resize(static_cast<size_t>(n));
  return text;
}

std::string Builtin(const char* name) {
  const char* text = ion_board_builtin(name);
  EXPECT_NE(text, nullptr) << name;
  return text ? text : "";
}

// ---- fields and syntax ----------------------------------------------------------------------------------------

TEST(BoardParseTest, EveryFieldOfEveryRecordIsRead) {
  Board p = Parse(
      "board full\n"
      "ram size=1G lowmem=768M base=0x40000000\n"
      "heap system id=0 name=system align=4K\n"
      "heap carveout id=2 name=fixed base=0x60000000 size=8M align=1M\n"
      "heap chunk id=3 name=chunky base=auto size=4M align=16K chunk=64K\n"
      "heap carveout id=4 name=first size=2M adjacent=5\n"
      "heap dma id=5 name='cma area' size=16M\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  const ion_board& b = *p.b;
  EXPECT_STREQ(b.name, "full");
  EXPECT_EQ(b.ram_size, kG);
  EXPECT_EQ(b.lowmem_size, 768 * kM);
  EXPECT_EQ(b.ram_base, 0x40000000u);
  EXPECT_EQ(b.board_line, 1u);
  EXPECT_EQ(b.ram_line, 2u);
  EXPECT_FALSE(b.laid_out);
  ASSERT_EQ(b.nr_heaps, 5u);

  const ion_board_heap& system = b.heaps[0];
  EXPECT_EQ(system.type, ION_BOARD_HEAP_SYSTEM);
  EXPECT_EQ(system.id, 0u);
  EXPECT_EQ(system.place, ION_BOARD_PLACE_NONE);
  EXPECT_EQ(system.align, 4 * kK);
  EXPECT_EQ(system.size, 0u);
  EXPECT_EQ(system.line, 3u);

  const ion_board_heap& fixed = b.heaps[1];
  EXPECT_EQ(fixed.type, ION_BOARD_HEAP_CARVEOUT);
  EXPECT_EQ(fixed.id, 2u);
  EXPECT_STREQ(fixed.name, "fixed");
  EXPECT_EQ(fixed.place, ION_BOARD_PLACE_FIXED);
  EXPECT_EQ(fixed.base, 0x60000000u);
  EXPECT_EQ(fixed.size, 8 * kM);
  EXPECT_EQ(fixed.align, kM);

  const ion_board_heap& chunky = b.heaps[2];
  EXPECT_EQ(chunky.type, ION_BOARD_HEAP_CHUNK);
  EXPECT_EQ(chunky.place, ION_BOARD_PLACE_AUTO);
  EXPECT_EQ(chunky.size, 4 * kM);
  EXPECT_EQ(chunky.align, 16 * kK);
  EXPECT_EQ(chunky.chunk, 64 * kK);

  const ion_board_heap& first = b.heaps[3];
  EXPECT_EQ(first.place, ION_BOARD_PLACE_ADJACENT);
  EXPECT_EQ(first.adjacent, 5u);

  const ion_board_heap& cma = b.heaps[4];
  EXPECT_EQ(cma.type, ION_BOARD_HEAP_DMA);
  EXPECT_STREQ(cma.name, "cma area");
  EXPECT_EQ(cma.place, ION_BOARD_PLACE_AUTO);
  EXPECT_EQ(cma.line, 7u);
}

TEST(BoardParseTest, RamBaseDefaultsTo0x80000000AndLowmemToTheWholeRam) {
  Board p = Parse("board t\nram size=256M\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_EQ(p.b->ram_base, ION_BOARD_DEFAULT_RAM_BASE);
  EXPECT_EQ(p.b->ram_base, 0x80000000u);
  EXPECT_EQ(p.b->lowmem_size, 256 * kM);
}

TEST(BoardParseTest, SizesAreDecimalOrHexWithAnOptionalKmgSuffixInEitherCase) {
  const std::vector<std::pair<std::string, uint64_t>> cases = {
      {"4096", 4096},          {"0x1000", 4096},       {"0X2000", 8192},      {"4k", 4 * kK},
      {"4K", 4 * kK},          {"2m", 2 * kM},         {"2M", 2 * kM},        {"1g", kG},
      {"1G", kG},              {"0x10M", 16 * kM},     {"0xcK", 12 * kK},     {"3145728", 3 * kM},
      {"0x7ff000", 0x7ff000},  {"12884901888", 12 * kG},
  };
  for (const auto& [text, want] : cases) {
    Board p = Parse(kHead + "heap carveout id=2 name=c size=" + text + "\n");
    ASSERT_EQ(p.ret, 0) << text << ": " << p.err;
    EXPECT_EQ(p.b->heaps[0].size, want) << text;
  }
}

TEST(BoardParseTest, AddressesTakeSuffixesTooSo2GIs0x80000000) {
  Board p = Parse(kHead + "heap carveout id=2 name=c base=2G size=4K\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_EQ(p.b->heaps[0].base, 0x80000000u);
}

TEST(BoardParseTest, IdsAreNumbersWithoutSuffix) {
  Board hex = Parse(kHead + "heap carveout id=0x1f name=c size=4K\n");
  ASSERT_EQ(hex.ret, 0) << hex.err;
  EXPECT_EQ(hex.b->heaps[0].id, 31u);
  EXPECT_EQ(Parse(kHead + "heap carveout id=4K name=c size=4K\n").err,
            "board:3: heap 'c': id '4K' is not a number");
}

TEST(BoardParseTest, CommentsRunToTheEndOfTheRecord) {
  Board p = Parse(
      "# a whole-line comment\n"
      "board t # after the name\n"
      "ram size=64M   # after a value\n"
      "#heap system id=0 name=hidden\n"
      "heap system id=0 name=shown#no blank needed\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  ASSERT_EQ(p.b->nr_heaps, 1u);
  EXPECT_STREQ(p.b->heaps[0].name, "shown");
  EXPECT_EQ(p.b->heaps[0].line, 5u);
}

TEST(BoardParseTest, ASemicolonEndsACommentBecauseItEndsTheRecord) {
  Board p = Parse("board t; ram size=64M # note; heap system id=0 name=s\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_EQ(p.b->nr_heaps, 1u);
}

TEST(BoardParseTest, SemicolonsSeparateRecordsSoAModuleParameterIsOneLine) {
  Board one_line = Parse(
      "board dummy; ram size=512M lowmem=448M base=0x80000000; heap system id=0 name=system; "
      "heap system_contig id=1 name='system contig'; heap carveout id=2 name=carveout size=4M; "
      "heap chunk id=3 name=chunk size=4M align=16K chunk=16K");
  ASSERT_EQ(one_line.ret, 0) << one_line.err;
  Board dummy = Parse(Builtin("dummy"));
  ASSERT_EQ(dummy.ret, 0) << dummy.err;
  EXPECT_EQ(Render(*one_line.b), Render(*dummy.b));
}

TEST(BoardParseTest, LineNumbersCountNewlinesNotSemicolons) {
  EXPECT_EQ(Parse(kHead + "heap system id=0 name=s; heap bogus id=1 name=x\n").err,
            "board:3: heap 'x': unknown type 'bogus'");
}

TEST(BoardParseTest, BlanksAreSpacesTabsAndCarriageReturns) {
  Board p = Parse("board t\r\nram\tsize=64M \r\n\theap  system\tid=0   name=s\r\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_STREQ(p.b->heaps[0].name, "s");
}

TEST(BoardParseTest, SingleQuotesLetANameHoldBlanks) {
  Board p = Parse(kHead + "heap system_contig id=1 name='system contig'\nheap system id=0 name='plain'\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_STREQ(p.b->heaps[0].name, "system contig");
  EXPECT_STREQ(p.b->heaps[1].name, "plain");
}

TEST(BoardParseTest, NamesHoldAtMost31Characters) {
  const std::string name31(31, 'n');
  Board ok = Parse(kHead + "heap system id=0 name=" + name31 + "\n");
  ASSERT_EQ(ok.ret, 0) << ok.err;
  EXPECT_EQ(std::string(ok.b->heaps[0].name), name31);
  EXPECT_EQ(Parse(kHead + "heap system id=0 name=" + name31 + "x\n").err,
            "board:3: heap: name '" + name31 + "x' is longer than 31 characters");
}

TEST(BoardParseTest, DuplicateIdsAndNamesAreAcceptedAsIonDeviceAddHeapAcceptsThem) {
  Board p = LayOut(kHead +
                   "heap carveout id=2 name=twin size=4K\n"
                   "heap carveout id=2 name=twin size=4K\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_EQ(p.b->nr_heaps, 2u);
}

TEST(BoardParseTest, ThirtyTwoHeapsFitAndTheThirtyThirdIsAnError) {
  std::string text = kHead;
  for (int i = 0; i < 32; i++) text += "heap system id=" + std::to_string(i) + " name=h" + std::to_string(i) + "\n";
  Board ok = Parse(text);
  ASSERT_EQ(ok.ret, 0) << ok.err;
  EXPECT_EQ(ok.b->nr_heaps, 32u);
  EXPECT_EQ(Parse(text + "heap system id=0 name=h32\n").err, "board:35: heap 'h32': more than 32 heaps");
}

// Every rule, with its exact message. The heap record is on line 3 unless the text says otherwise.
TEST(BoardParseTest, EachRuleViolationIsAnErrorWithTheLineAndAnExactMessage) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // Records and keys.
      {kHead + "hep system id=0 name=s", "board:3: unknown record 'hep'"},
      {kHead + "heap", "board:3: heap: missing type"},
      {kHead + "heap foo id=0 name=x", "board:3: heap 'x': unknown type 'foo'"},
      {kHead + "heap carveout id=2 name=c size=4M colour=red", "board:3: heap 'c': unknown key 'colour'"},
      {kHead + "heap carveout id=2 name=c size=4M size=8M", "board:3: heap 'c': duplicate key 'size'"},
      {kHead + "heap carveout id=2 name=c size=4M auto", "board:3: heap 'c': expected key=value, got 'auto'"},
      {kHead + "heap carveout id=2 name=c size=4M =4M", "board:3: heap 'c': expected key=value, got '=4M'"},
      {kHead + "heap carveout name=c size=4M", "board:3: heap 'c': missing id="},
      {kHead + "heap carveout id=2 size=4M", "board:3: heap: missing name="},
      {kHead + "heap carveout id=32 name=c size=4M", "board:3: heap 'c': id 32 is out of range (0-31)"},
      // Names and quotes.
      {kHead + "heap system id=0 name=a/b",
       "board:3: heap: name 'a/b' may hold only A-Z a-z 0-9 _ . - (and blanks inside '...')"},
      {kHead + "heap system id=0 name=a b", "board:3: heap 'a': expected key=value, got 'b'"},
      {kHead + "heap system id=0 name=''", "board:3: heap: name '''' is empty"},
      {kHead + "heap system id=0 name='system contig", "board:3: heap: unclosed ' quote"},
      // System heaps have no range.
      {kHead + "heap system id=0 name=s base=0x90000000", "board:3: heap 's': base= is not valid for system heaps"},
      {kHead + "heap system_contig id=1 name=s size=4M",
       "board:3: heap 's': size= is not valid for system_contig heaps"},
      {kHead + "heap system id=0 name=s chunk=16K", "board:3: heap 's': chunk= is not valid for system heaps"},
      {kHead + "heap system id=0 name=s adjacent=2", "board:3: heap 's': adjacent= is not valid for system heaps"},
      // Carveout-like heaps need a page-multiple size and a page-aligned base.
      {kHead + "heap carveout id=2 name=c", "board:3: heap 'c': missing size="},
      {kHead + "heap dma id=4 name=d base=0x80000000", "board:3: heap 'd': missing size="},
      {kHead + "heap carveout id=2 name=c size=0", "board:3: heap 'c': size must not be 0"},
      {kHead + "heap carveout id=2 name=c size=6K", "board:3: heap 'c': size 0x1800 is not a multiple of 4096"},
      {kHead + "heap carveout id=2 name=c size=4M base=0x80000800",
       "board:3: heap 'c': base 0x80000800 is not page aligned"},
      {kHead + "heap carveout id=2 name=c size=8K base=0xfffffffffffff000",
       "board:3: heap 'c': base 0xfffffffffffff000 + size 0x2000 wraps around"},
      {kHead + "heap carveout id=2 name=c size=4M align=12K", "board:3: heap 'c': align 0x3000 is not a power of two"},
      // Chunk heaps.
      {kHead + "heap carveout id=2 name=c size=4M chunk=16K", "board:3: heap 'c': chunk= is only valid for chunk heaps"},
      {kHead + "heap chunk id=3 name=k size=4M", "board:3: heap 'k': chunk heaps need chunk="},
      {kHead + "heap chunk id=3 name=k size=4M chunk=12K",
       "board:3: heap 'k': chunk 0x3000 is not a power of two >= 4096"},
      {kHead + "heap chunk id=3 name=k size=4M chunk=2K",
       "board:3: heap 'k': chunk 0x800 is not a power of two >= 4096"},
      {kHead + "heap chunk id=3 name=k size=20K chunk=16K",
       "board:3: heap 'k': size 0x5000 is not a multiple of chunk 0x4000"},
      // Numbers.
      {kHead + "heap carveout id=2 name=c size=12Q", "board:3: heap 'c': size '12Q' is not a number"},
      {kHead + "heap carveout id=2 name=c size=4MB", "board:3: heap 'c': size '4MB' is not a number"},
      {kHead + "heap carveout id=2 name=c size=", "board:3: heap 'c': size '' is not a number"},
      {kHead + "heap carveout id=2 name=c size=0x", "board:3: heap 'c': size '0x' is not a number"},
      {kHead + "heap carveout id=2 name=c size=010",
       "board:3: heap 'c': size '010' has a leading zero (memparse() would read octal)"},
      {kHead + "heap carveout id=2 name=c size=99999999999G", "board:3: heap 'c': size '99999999999G' is out of range"},
      {kHead + "heap carveout id=2 name=c size=18446744073709551616",
       "board:3: heap 'c': size '18446744073709551616' is out of range"},
      {kHead + "heap carveout id=2 name=c size=4M base=far", "board:3: heap 'c': base 'far' is not a number"},
      // adjacent=.
      {kHead + "heap carveout id=2 name=c size=4M base=0x80000000 adjacent=3",
       "board:3: heap 'c': base= and adjacent= are mutually exclusive"},
      {kHead + "heap carveout id=2 name=c size=4M adjacent=2", "board:3: heap 'c': adjacent=2 names the heap itself"},
      {kHead + "heap carveout id=2 name=c size=4M adjacent=5", "board:3: heap 'c': adjacent=5 names no heap of this board"},
      {kHead + "heap carveout id=2 name=c size=4M adjacent=40",
       "board:3: heap 'c': adjacent=40 names no heap of this board"},
      {kHead + "heap carveout id=2 name=c size=4M adjacent=1\nheap system_contig id=1 name=sc",
       "board:3: heap 'c': adjacent=1 names heap 'sc', which is not a carveout, chunk or dma heap"},
      {kHead + "heap carveout id=2 name=c size=4M adjacent=3\nheap carveout id=3 name=d size=4M base=0x80000000",
       "board:3: heap 'c': adjacent=3 names heap 'd', which has its own base="},
      {kHead + "heap carveout id=2 name=c size=4M adjacent=3\nheap carveout id=3 name=d size=4M adjacent=4\n"
               "heap carveout id=4 name=e size=4M",
       "board:3: heap 'c': adjacent=3 names heap 'd', which has adjacent= itself"},
      {kHead + "heap carveout id=2 name=c size=4M adjacent=5\nheap carveout id=3 name=d size=4M adjacent=5\n"
               "heap carveout id=5 name=e size=4M",
       "board:4: heap 'd': adjacent=5 names heap 'e', which already follows heap 'c' (line 3)"},
      // board and ram records.
      {"board", "board:1: board: missing name"},
      {"board a b", "board:1: board: unexpected 'b' after the name"},
      {"board a/b", "board:1: board: name 'a/b' may hold only A-Z a-z 0-9 _ . - (and blanks inside '...')"},
      {"board t\nboard u", "board:2: duplicate board record (first at line 1)"},
      {"ram size=64M", "board: missing board record"},
      {"board t", "board: missing ram record"},
      {"", "board: missing board record"},
      {"board t\nram lowmem=4M", "board:2: ram: missing size="},
      {"board t\nram size=64M colour=red", "board:2: ram: unknown key 'colour'"},
      {"board t\nram size=64M size=64M", "board:2: ram: duplicate key 'size'"},
      {"board t\nram size=64M lowmem", "board:2: ram: expected key=value, got 'lowmem'"},
      {"board t\nram size=0", "board:2: ram: size must not be 0"},
      {"board t\nram size=6K", "board:2: ram: size 0x1800 is not a multiple of 4096"},
      {"board t\nram size=64M lowmem=0", "board:2: ram: lowmem must not be 0"},
      {"board t\nram size=64M lowmem=6K", "board:2: ram: lowmem 0x1800 is not a multiple of 4096"},
      {"board t\nram size=64M lowmem=128M", "board:2: ram: lowmem 0x8000000 exceeds size 0x4000000"},
      {"board t\nram size=64M base=0x80000800", "board:2: ram: base 0x80000800 is not page aligned"},
      {"board t\nram size=8K base=0xfffffffffffff000",
       "board:2: ram: base 0xfffffffffffff000 + size 0x2000 wraps around"},
      {"board t\nram size=lots", "board:2: ram: size 'lots' is not a number"},
      {"board t\nram size=64M\nram size=64M", "board:3: duplicate ram record (first at line 2)"},
      // User text is echoed printable and cut at 32 characters.
      {kHead + "h\x01p", "board:3: unknown record 'h?p'"},
      {kHead + std::string(40, 'r'), "board:3: unknown record '" + std::string(32, 'r') + "...'"},
  };
  for (const auto& [text, message] : cases) {
    Board p = Parse(text);
    EXPECT_EQ(p.ret, -EINVAL) << text;
    EXPECT_EQ(p.err, message) << text;
  }
}

TEST(BoardParseTest, ChunkOnACarveoutIsReportedWithTheHeapNameAndLine) {
  EXPECT_EQ(Parse("board t\nram size=64M\n# the camera\nheap carveout id=20 name=camera size=4M chunk=16K\n").err,
            "board:4: heap 'camera': chunk= is only valid for chunk heaps");
}

// alloc= chooses how a dma heap allocates: v4.4's dma_alloc_coherent() for every buffer (coherent, the default)
// or the Android CMA heap drivers' dma_alloc_writecombine() for uncached buffers (wc). Expect the default to be
// coherent and not rendered, wc to be read and rendered back, and alloc= anywhere but on a dma heap, or with
// another value, to be an error naming the heap and the line.
TEST(BoardParseTest, AllocChoosesHowADmaHeapAllocatesAndDefaultsToV44sCoherent) {
  const Board plain = Parse("board t\nram size=64M\nheap dma id=4 name=cma size=8M\n");
  ASSERT_EQ(plain.ret, 0) << plain.err;
  EXPECT_EQ(plain.heap("cma").dma_alloc, ION_BOARD_DMA_ALLOC_COHERENT);
  EXPECT_THAT(Render(*plain.b), Not(HasSubstr("alloc=")));
  const Board coherent = Parse("board t\nram size=64M\nheap dma id=4 name=cma size=8M alloc=coherent\n");
  ASSERT_EQ(coherent.ret, 0) << coherent.err;
  EXPECT_EQ(coherent.heap("cma").dma_alloc, ION_BOARD_DMA_ALLOC_COHERENT);
  const Board wc = Parse("board t\nram size=64M\nheap dma id=4 name=cma size=8M alloc=wc\n");
  ASSERT_EQ(wc.ret, 0) << wc.err;
  EXPECT_EQ(wc.heap("cma").dma_alloc, ION_BOARD_DMA_ALLOC_WC);
  EXPECT_THAT(Render(*wc.b), HasSubstr("heap dma id=4 name=cma base=auto size=8M alloc=wc\n"));
  const Board again = Parse(Render(*wc.b));
  ASSERT_EQ(again.ret, 0) << again.err;
  EXPECT_EQ(again.heap("cma").dma_alloc, ION_BOARD_DMA_ALLOC_WC);
  EXPECT_EQ(Parse("board t\nram size=64M\nheap carveout id=2 name=c size=4M alloc=wc\n").err,
            "board:3: heap 'c': alloc= is only valid for dma heaps");
  EXPECT_EQ(Parse("board t\nram size=64M\nheap system id=0 name=s alloc=coherent\n").err,
            "board:3: heap 's': alloc= is only valid for dma heaps");
  EXPECT_EQ(Parse("board t\nram size=64M\nheap dma id=4 name=cma size=8M alloc=cached\n").err,
            "board:3: heap 'cma': alloc= must be coherent or wc, not 'cached'");
}

TEST(BoardParseTest, AnyErrorBufferIsFilledWithinItsLengthAndTerminated) {
  const std::string text = kHead + "heap carveout id=2 name=c size=6K\n";
  for (size_t len : {0u, 1u, 2u, 8u, 20u}) {
    std::vector<char> err(len + 8, '#');
    auto b = std::make_unique<ion_board>();
    EXPECT_EQ(ion_board_parse(b.get(), text.data(), text.size(), err.data(), len), -EINVAL);
    if (len > 0) {
      EXPECT_EQ(std::strlen(err.data()), len - 1);
      EXPECT_EQ(std::string(err.data()), std::string("board:3: heap 'c': size 0x1800").substr(0, len - 1));
    }
    EXPECT_EQ(err[len], '#') << "wrote past the buffer of " << len;
  }
  auto b = std::make_unique<ion_board>();
  EXPECT_EQ(ion_board_parse(b.get(), text.data(), text.size(), nullptr, 100), -EINVAL);
}

TEST(BoardParseTest, TextIsReadOnlyUpToItsLengthSoItNeedsNoTerminator) {
  const std::string text = kHead + "heap system id=0 name=s\nheap bogus";
  auto b = std::make_unique<ion_board>();
  char err[ION_BOARD_ERR_LEN];
  EXPECT_EQ(ion_board_parse(b.get(), text.data(), text.size() - std::strlen("heap bogus"), err, sizeof(err)), 0)
      << err;
  EXPECT_EQ(b->nr_heaps, 1u);
}

// ---- layout ---------------------------------------------------------------------------------------------------

TEST(BoardLayoutTest, ExplicitBasesAreKept) {
  Board p = LayOut(kHead + "heap carveout id=2 name=low base=0x80100000 size=1M\nheap dma id=4 name=d base=0x82000000 "
                           "size=16M\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_TRUE(p.b->laid_out);
  EXPECT_EQ(p.heap("low").phys, 0x80100000u);
  EXPECT_EQ(p.heap("d").phys, 0x82000000u);
}

TEST(BoardLayoutTest, AutoHeapsArePackedDownwardFromTheTopOfRamInBoardOrder) {
  // RAM 0x80000000-0x83ffffff:
  //   0x83c00000-0x83ffffff  a (4M, first record)
  //   0x83b00000-0x83bfffff  b (1M)
  //   0x83afc000-0x83afffff  c (16K)
  // Expect each auto heap directly below the previous one.
  Board p = LayOut(kHead +
                   "heap carveout id=2 name=a size=4M\n"
                   "heap system id=0 name=s\n"
                   "heap carveout id=3 name=b base=auto size=1M\n"
                   "heap chunk id=4 name=c size=16K chunk=4K\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_EQ(p.heap("a").phys, 0x83c00000u);
  EXPECT_EQ(p.heap("b").phys, 0x83b00000u);
  EXPECT_EQ(p.heap("c").phys, 0x83afc000u);
  EXPECT_EQ(p.heap("s").phys, 0u);
}

TEST(BoardLayoutTest, AutoPlacementRoundsDownToTheHeapsAlign) {
  // a takes the top page; b (4K, align 1M) cannot start at 0x83ffe000 and drops to the 1M boundary below.
  //   0x83fff000-0x83ffffff  a
  //   0x83f00000-0x83f00fff  b
  // Expect b at 0x83f00000 and the 1020K between them unused.
  Board p = LayOut(kHead + "heap carveout id=2 name=a size=4K\nheap carveout id=3 name=b size=4K align=1M\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_EQ(p.heap("a").phys, 0x83fff000u);
  EXPECT_EQ(p.heap("b").phys, 0x83f00000u);
}

TEST(BoardLayoutTest, TheHeapWithAdjacentComesFirstAndTheHeapItNamesDirectlyAfterIt) {
  // msm_ion_heap_fixup(): "The heap specifying the adjacent_mem_id get the base of the memory while heap
  // specified in adjacent_mem_id get base+size as its base address".
  //   0x83ffd000-0x83ffefff  fw    (8K, adjacent=4)
  //   0x83fff000-0x83ffffff  video (4K, id 4)
  // Expect video to start where fw ends.
  Board p = LayOut(kHead + "heap carveout id=3 name=fw size=8K adjacent=4\nheap carveout id=4 name=video size=4K\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_EQ(p.heap("fw").phys, 0x83ffd000u);
  EXPECT_EQ(p.heap("video").phys, 0x83fff000u);
  EXPECT_EQ(p.heap("video").phys, p.heap("fw").phys + p.heap("fw").size);
}

TEST(BoardLayoutTest, AdjacentPairsArePlacedBeforeEveryOtherAutoHeap) {
  // The fixup runs over all heaps before msm_ion_allocate() places the rest, so the pair takes the top even
  // though solo comes first in the board:
  //   0x83ffc000-0x83ffcfff  solo
  //   0x83ffd000-0x83ffefff  first  (adjacent=4)
  //   0x83fff000-0x83ffffff  second
  // Expect solo below the pair.
  Board p = LayOut(kHead +
                   "heap carveout id=2 name=solo size=4K\n"
                   "heap carveout id=3 name=first size=8K adjacent=4\n"
                   "heap carveout id=4 name=second size=4K\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_EQ(p.heap("first").phys, 0x83ffd000u);
  EXPECT_EQ(p.heap("second").phys, 0x83fff000u);
  EXPECT_EQ(p.heap("solo").phys, 0x83ffc000u);
}

TEST(BoardLayoutTest, APairIsAlignedAsItsFirstHeapAndTheSecondJustFollows) {
  // The block of 4K + 8K is aligned to first's 64K; second's own align is not applied (msm uses the first
  // heap's align for the block).
  //   0x83ff0000-0x83ff0fff  first
  //   0x83ff1000-0x83ff2fff  second (align=1M, not 1M aligned)
  // Expect second at first + 4K.
  Board p = LayOut(kHead + "heap carveout id=3 name=first size=4K align=64K adjacent=4\n"
                           "heap carveout id=4 name=second size=8K align=1M\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_EQ(p.heap("first").phys, 0x83ff0000u);
  EXPECT_EQ(p.heap("second").phys, 0x83ff1000u);
}

TEST(BoardLayoutTest, AdjacentNamesTheFirstHeapWithThatIdAsFindHeapDoes) {
  Board p = LayOut(kHead +
                   "heap carveout id=2 name=a size=8K adjacent=3\n"
                   "heap carveout id=3 name=b size=4K\n"
                   "heap carveout id=3 name=c size=4K\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_EQ(p.heap("b").phys, p.heap("a").phys + 8 * kK);
  EXPECT_EQ(p.heap("c").phys, p.heap("a").phys - 4 * kK);
}

TEST(BoardLayoutTest, OverlapIsFatalWithTheMsmMessageAndBothLines) {
  EXPECT_EQ(LayOut(kHead + "heap carveout id=2 name=a base=0x80000000 size=8K\n"
                           "heap carveout id=3 name=b base=0x80001000 size=8K\n")
                .err,
            "board:3: Memory in heap a overlaps with heap b (line 4)");
}

TEST(BoardLayoutTest, OverlapComparesInclusiveEndsSoTouchingRangesDoNotOverlap) {
  // a: 0x80000000-0x80001fff, b: 0x80002000-... -- a's last byte is below b's first.
  EXPECT_EQ(LayOut(kHead + "heap carveout id=2 name=a base=0x80000000 size=8K\n"
                           "heap carveout id=3 name=b base=0x80002000 size=8K\n")
                .ret,
            0);
  // b starts on a's last page.
  EXPECT_EQ(LayOut(kHead + "heap carveout id=2 name=a base=0x80002000 size=8K\n"
                           "heap carveout id=3 name=b base=0x80000000 size=12K\n")
                .err,
            "board:3: Memory in heap a overlaps with heap b (line 4)");
}

TEST(BoardLayoutTest, EqualBasesOverlap) {
  EXPECT_EQ(LayOut(kHead + "heap dma id=4 name=a base=0x81000000 size=4K\n"
                           "heap chunk id=3 name=b base=0x81000000 size=64K chunk=16K\n")
                .err,
            "board:3: Memory in heap a overlaps with heap b (line 4)");
}

TEST(BoardLayoutTest, AnAutoHeapOverAnExplicitOneIsAnOverlap) {
  // Auto placement packs from the top and does not step around explicit ranges.
  EXPECT_EQ(LayOut(kHead + "heap carveout id=2 name=fixed base=0x83f00000 size=1M\nheap carveout id=3 name=auto "
                           "size=4K\n")
                .err,
            "board:3: Memory in heap fixed overlaps with heap auto (line 4)");
}

TEST(BoardLayoutTest, AHeapOutsideRamIsAnError) {
  EXPECT_EQ(LayOut(kHead + "heap carveout id=2 name=a base=0x90000000 size=4K\n").err,
            "board:3: heap 'a': 0x90000000-0x90000fff lies outside 0x80000000-0x83ffffff");
  EXPECT_EQ(LayOut(kHead + "heap carveout id=2 name=a base=0x83fff000 size=8K\n").err,
            "board:3: heap 'a': 0x83fff000-0x84000fff lies outside 0x80000000-0x83ffffff");
  EXPECT_EQ(LayOut(kHead + "heap carveout id=2 name=a base=0x7ffff000 size=8K\n").err,
            "board:3: heap 'a': 0x7ffff000-0x80000fff lies outside 0x80000000-0x83ffffff");
}

TEST(BoardLayoutTest, AutoHeapsThatDoNotFitAreAnError) {
  EXPECT_EQ(LayOut(kHead + "heap carveout id=2 name=big size=60M\nheap carveout id=3 name=more size=8M\n").err,
            "board:4: heap 'more': no room for 0x800000 bytes below 0x80400000 in 0x80000000-0x83ffffff");
  EXPECT_EQ(LayOut(kHead + "heap carveout id=2 name=a size=60M adjacent=3\nheap carveout id=3 name=b size=8M\n").err,
            "board:3: heap 'a': no room for 0x4400000 bytes with heap 'b' below 0x84000000 in 0x80000000-0x83ffffff");
}

TEST(BoardLayoutTest, TheRegionCanBeAnyRangeNotJustRam) {
  // The kernel module lays heaps out inside its reserved range: auto heaps pack from the top of that range.
  Board p = Parse(Builtin("dummy"));
  ASSERT_EQ(p.ret, 0) << p.err;
  char err[ION_BOARD_ERR_LEN];
  ASSERT_EQ(ion_board_layout(p.b.get(), 0x100000000ULL, 16 * kM, err, sizeof(err)), 0) << err;
  EXPECT_EQ(p.heap("carveout").phys, 0x100c00000u);
  EXPECT_EQ(p.heap("chunk").phys, 0x100800000u);
  EXPECT_EQ(ion_board_layout(p.b.get(), 0x100000000ULL, 0, err, sizeof(err)), -EINVAL);
  EXPECT_STREQ(err, "board: region 0x100000000 + 0x0 is empty or wraps around");
  EXPECT_FALSE(p.b->laid_out);
}

TEST(BoardLayoutTest, LayoutRechecksEveryRuleOnABoardFilledInByHand) {
  Board p = Parse(kHead + "heap carveout id=2 name=c size=4M\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  char err[ION_BOARD_ERR_LEN];
  p.b->heaps[0].size = 5000;
  EXPECT_EQ(ion_board_layout(p.b.get(), p.b->ram_base, p.b->ram_size, err, sizeof(err)), -EINVAL);
  EXPECT_STREQ(err, "board:3: heap 'c': size 0x1388 is not a multiple of 4096");
  p.b->heaps[0].size = 4 * kM;
  std::strcpy(p.b->heaps[0].name, "bad'name");
  EXPECT_EQ(ion_board_layout(p.b.get(), p.b->ram_base, p.b->ram_size, err, sizeof(err)), -EINVAL);
  EXPECT_STREQ(err, "board:3: heap: name may hold only A-Z a-z 0-9 _ . - (and blanks inside '...')");
  std::strcpy(p.b->heaps[0].name, "c");
  p.b->nr_heaps = 33;
  EXPECT_EQ(ion_board_layout(p.b.get(), p.b->ram_base, p.b->ram_size, err, sizeof(err)), -EINVAL);
  EXPECT_STREQ(err, "board: more than 32 heaps");
}

// ---- relocation and fitting into a reserved range ----------------------------------------------------------------

TEST(BoardRelocateTest, RelocateMovesExplicitBasesAndLaidOutRanges) {
  Board p = LayOut(kHead + "heap carveout id=2 name=fixed base=0x80000000 size=4K\nheap carveout id=3 name=a "
                           "size=4K\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  ion_board_relocate(p.b.get(), 0x10000000);
  EXPECT_EQ(p.heap("fixed").base, 0x90000000u);
  EXPECT_EQ(p.heap("fixed").phys, 0x90000000u);
  EXPECT_EQ(p.heap("a").phys, 0x93fff000u);
  ion_board_relocate(p.b.get(), -0x20000000);
  EXPECT_EQ(p.heap("fixed").phys, 0x70000000u);
  EXPECT_EQ(p.b->ram_base, 0x80000000u);
}

TEST(BoardRelocateTest, SpanIsTheLowestBaseAndTheEndOfTheHighestRange) {
  Board p = LayOut(Builtin("phone"));
  ASSERT_EQ(p.ret, 0) << p.err;
  uint64_t start = 0, end = 0;
  ASSERT_EQ(ion_board_span(p.b.get(), &start, &end), 0);
  EXPECT_EQ(start, 0x125800000u);
  EXPECT_EQ(end, 0x140000000u);
  EXPECT_EQ(end - start, 424 * kM);

  Board none = LayOut(kHead + "heap system id=0 name=s\n");
  ASSERT_EQ(none.ret, 0) << none.err;
  EXPECT_EQ(ion_board_span(none.b.get(), &start, &end), -ENOENT);
  Board unlaid = Parse(Builtin("phone"));
  EXPECT_EQ(ion_board_span(unlaid.b.get(), &start, &end), -EINVAL);
}

TEST(BoardFitTest, FitMovesTheModelsLayoutIntoTheReservedRangeKeepingEveryOffset) {
  // dummy in its RAM: chunk 0x9f800000, carveout 0x9fc00000 (8M in all). In a reserved range at 4 GiB:
  //   0x100000000-0x1003fffff  chunk
  //   0x100400000-0x1007fffff  carveout
  // Expect the same 4M offset between them.
  Board p = Parse(Builtin("dummy"));
  ASSERT_EQ(p.ret, 0) << p.err;
  char err[ION_BOARD_ERR_LEN];
  ASSERT_EQ(ion_board_fit(p.b.get(), 0x100000000ULL, 8 * kM, err, sizeof(err)), 0) << err;
  EXPECT_TRUE(p.b->laid_out);
  EXPECT_EQ(p.heap("chunk").phys, 0x100000000u);
  EXPECT_EQ(p.heap("carveout").phys, 0x100400000u);
}

TEST(BoardFitTest, FitKeepsEveryAlignmentByMovingInStepsOfTheLargestAlign) {
  // The chunk heap is 16K aligned, so a range starting 4K past a 16K boundary is used from the next one.
  Board p = Parse(Builtin("dummy"));
  ASSERT_EQ(p.ret, 0) << p.err;
  char err[ION_BOARD_ERR_LEN];
  ASSERT_EQ(ion_board_fit(p.b.get(), 0x100001000ULL, 9 * kM, err, sizeof(err)), 0) << err;
  EXPECT_EQ(p.heap("chunk").phys, 0x100004000u);
  EXPECT_EQ(p.heap("carveout").phys, 0x100404000u);

  Board tight = Parse(Builtin("dummy"));
  EXPECT_EQ(ion_board_fit(tight.b.get(), 0x100001000ULL, 8 * kM, err, sizeof(err)), -EINVAL);
  EXPECT_STREQ(err,
               "board: the heaps span 0x800000 bytes (0x9f800000-0x9fffffff in RAM) and do not fit in "
               "0x100001000-0x100800fff");
  EXPECT_FALSE(tight.b->laid_out);
}

TEST(BoardFitTest, FitOfTheExplicitPhoneLayoutKeepsItsShape) {
  Board model = LayOut(Builtin("phone"));
  ASSERT_EQ(model.ret, 0) << model.err;
  Board kmod = Parse(Builtin("phone"));
  char err[ION_BOARD_ERR_LEN];
  ASSERT_EQ(ion_board_fit(kmod.b.get(), 0x40000000ULL, 424 * kM, err, sizeof(err)), 0) << err;
  for (unsigned int i = 0; i < model.b->nr_heaps; i++) {
    if (model.b->heaps[i].place == ION_BOARD_PLACE_NONE) continue;
    EXPECT_EQ(kmod.b->heaps[i].phys - 0x40000000ULL, model.b->heaps[i].phys - 0x125800000ULL)
        << model.b->heaps[i].name;
  }
}

TEST(BoardFitTest, ABoardWithoutRangesFitsAnywhere) {
  Board p = Parse(kHead + "heap system id=0 name=s\n");
  char err[ION_BOARD_ERR_LEN];
  EXPECT_EQ(ion_board_fit(p.b.get(), 0, 0, err, sizeof(err)), 0) << err;
}

// ---- rendering ------------------------------------------------------------------------------------------------

TEST(BoardRenderTest, RenderIsCanonicalKeyOrderHexBasesAndSizesInTheirLargestUnit) {
  Board p = Parse(
      "board   r  # x\n"
      "ram base=0x80000000 size=0x20000000 lowmem=0x1c000000\n"
      "heap carveout size=12288 align=0x100000 name=c id=2 base=2148532224\n"
      "heap chunk chunk=16384 name=k id=3 size=4194304\n"
      "heap carveout name=first id=4 adjacent=5 size=8K\n"
      "heap dma id=5 name='cma area' size=1G\n"
      "heap system_contig name=sc id=1\n");
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_EQ(Render(*p.b),
            "board r\n"
            "ram size=512M lowmem=448M base=0x80000000\n"
            "heap carveout id=2 name=c base=0x80100000 size=12K align=1M\n"
            "heap chunk id=3 name=k base=auto size=4M chunk=16K\n"
            "heap carveout id=4 name=first size=8K adjacent=5\n"
            "heap dma id=5 name='cma area' size=1G\n"
            "heap system_contig id=1 name=sc\n");
}

TEST(BoardRenderTest, ALaidOutBoardShowsEachRangeInAComment) {
  Board p = LayOut(Builtin("dummy"));
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_EQ(Render(*p.b),
            "board dummy\n"
            "ram size=512M lowmem=448M base=0x80000000\n"
            "heap system id=0 name=system\n"
            "heap system_contig id=1 name='system contig'\n"
            "heap carveout id=2 name=carveout base=auto size=4M # 0x9fc00000-0x9fffffff\n"
            "heap chunk id=3 name=chunk base=auto size=4M align=16K chunk=16K # 0x9f800000-0x9fbfffff\n");
}

TEST(BoardRenderTest, RenderOfParseIsAFixedPoint) {
  std::vector<std::string> texts;
  for (unsigned int i = 0; ion_board_builtin_name(i); i++) texts.push_back(Builtin(ion_board_builtin_name(i)));
  texts.push_back("board x;ram size=4100K;heap carveout id=2 name='a b' size=0x3000 align=1;heap system id=31 name=s");
  for (const std::string& text : texts) {
    Board first = Parse(text);
    ASSERT_EQ(first.ret, 0) << first.err;
    const std::string once = Render(*first.b);
    Board second = Parse(once);
    ASSERT_EQ(second.ret, 0) << second.err << "\n" << once;
    EXPECT_EQ(Render(*second.b), once);
    // The rendering of a laid-out board parses back to the same layout.
    Board laid = LayOut(text);
    ASSERT_EQ(laid.ret, 0) << laid.err;
    Board relaid = LayOut(Render(*laid.b));
    ASSERT_EQ(relaid.ret, 0) << relaid.err;
    EXPECT_EQ(Render(*relaid.b), Render(*laid.b));
  }
}

TEST(BoardRenderTest, RenderReturnsTheWholeLengthAndTruncatesLikeSnprintf) {
  Board p = Parse(Builtin("dummy"));
  ASSERT_EQ(p.ret, 0) << p.err;
  const std::string full = Render(*p.b);
  char small[16];
  std::memset(small, '#', sizeof(small));
  EXPECT_EQ(ion_board_render(p.b.get(), small, 10), static_cast<int>(full.size()));
  EXPECT_EQ(std::string(small), full.substr(0, 9));
  EXPECT_EQ(small[10], '#');
}

// ---- embedded boards --------------------------------------------------------------------------------------------

TEST(BoardBuiltinTest, TheEmbeddedBoardsAreDummyMsm8x25AndPhoneWithDummyTheDefault) {
  EXPECT_STREQ(ion_board_builtin_name(0), "dummy");
  EXPECT_STREQ(ion_board_builtin_name(1), "msm8x25");
  EXPECT_STREQ(ion_board_builtin_name(2), "phone");
  EXPECT_EQ(ion_board_builtin_name(3), nullptr);
  EXPECT_STREQ(ION_BOARD_DEFAULT, "dummy");
  EXPECT_EQ(ion_board_builtin("nosuch"), nullptr);
  EXPECT_EQ(ion_board_builtin(nullptr), nullptr);
}

struct Expected {
  const char* name;
  ion_board_heap_type type;
  unsigned int id;
  uint64_t phys;
  uint64_t size;
};

void ExpectLayout(const char* board, uint64_t ram_base, uint64_t ram_size, uint64_t lowmem,
                  const std::vector<Expected>& heaps) {
  Board p = LayOut(Builtin(board));
  ASSERT_EQ(p.ret, 0) << p.err;
  EXPECT_STREQ(p.b->name, board);
  EXPECT_EQ(p.b->ram_base, ram_base);
  EXPECT_EQ(p.b->ram_size, ram_size);
  EXPECT_EQ(p.b->lowmem_size, lowmem);
  ASSERT_EQ(p.b->nr_heaps, heaps.size());
  for (unsigned int i = 0; i < heaps.size(); i++) {
    const ion_board_heap& h = p.b->heaps[i];
    EXPECT_STREQ(h.name, heaps[i].name);
    EXPECT_EQ(h.type, heaps[i].type) << h.name;
    EXPECT_EQ(h.id, heaps[i].id) << h.name;
    EXPECT_EQ(h.phys, heaps[i].phys) << h.name;
    EXPECT_EQ(h.size, heaps[i].size) << h.name;
  }
}

TEST(BoardBuiltinTest, DummyLaysOutAsDocumented) {
  // 512M at 0x80000000, lowmem 448M: carveout then chunk packed from the top.
  //   0x9f800000-0x9fbfffff  chunk    (4M, 16K chunks)
  //   0x9fc00000-0x9fffffff  carveout (4M)
  // Expect the ion_dummy_driver.c heaps with these ranges.
  ExpectLayout("dummy", 0x80000000, 512 * kM, 448 * kM,
               {{"system", ION_BOARD_HEAP_SYSTEM, 0, 0, 0},
                {"system contig", ION_BOARD_HEAP_SYSTEM_CONTIG, 1, 0, 0},
                {"carveout", ION_BOARD_HEAP_CARVEOUT, 2, 0x9fc00000, 4 * kM},
                {"chunk", ION_BOARD_HEAP_CHUNK, 3, 0x9f800000, 4 * kM}});
  Board p = Parse(Builtin("dummy"));
  EXPECT_EQ(p.heap("chunk").chunk, 16 * kK);
  EXPECT_EQ(p.heap("chunk").align, 16 * kK);
}

TEST(BoardBuiltinTest, Msm8x25LaysOutAsDocumented) {
  // 510M at 0x00200000; camera, audio, sf packed from the top in board-file order:
  //   0x1d0d2000-0x1ebd1fff  sf             (MSM_PMEM_MDP_SIZE 0x1b00000)
  //   0x1ebd2000-0x1edfffff  audio          (MSM_PMEM_AUDIO_SIZE + PMEM_KERNEL_EBI1_SIZE = 0x22e000)
  //   0x1ee00000-0x1fffffff  camera_preview (MSM_PMEM_ADSP_SIZE 0x1200000)
  // Expect the msm_ion.h ids 30, 20, 28, 24.
  ExpectLayout("msm8x25", 0x200000, 510 * kM, 510 * kM,
               {{"vmalloc", ION_BOARD_HEAP_SYSTEM, 30, 0, 0},
                {"camera_preview", ION_BOARD_HEAP_CARVEOUT, 20, 0x1ee00000, 0x1200000},
                {"audio", ION_BOARD_HEAP_CARVEOUT, 28, 0x1ebd2000, 0x1f4000 + 0x3a000},
                {"sf", ION_BOARD_HEAP_CARVEOUT, 24, 0x1d0d2000, 0x1b00000}});
}

TEST(BoardBuiltinTest, PhoneLaysOutAsDocumented) {
  // 3G at 0x80000000, all lowmem:
  //   0x125800000-0x1297fffff  cma            (dma, 64M)
  //   0x129800000-0x12f7fffff  camera         (96M)
  //   0x12f800000-0x1353fffff  secure_display (92M)
  //   0x135400000-0x135ffffff  audio          (12M)
  //   0x136000000-0x137ffffff  chunk          (32M, 64K chunks)
  //   0x138000000-0x1382fffff  (unused)
  //   0x138300000-0x1387fffff  video_fw       (5M, adjacent=8)
  //   0x138800000-0x13fffffff  video          (120M)
  // Expect the video_fw/video pair at the top of RAM and everything else at its fixed base.
  ExpectLayout("phone", 0x80000000, 3 * kG, 3 * kG,
               {{"system", ION_BOARD_HEAP_SYSTEM, 0, 0, 0},
                {"system_contig", ION_BOARD_HEAP_SYSTEM_CONTIG, 1, 0, 0},
                {"camera", ION_BOARD_HEAP_CARVEOUT, 2, 0x129800000, 96 * kM},
                {"video_fw", ION_BOARD_HEAP_CARVEOUT, 3, 0x138300000, 5 * kM},
                {"secure_display", ION_BOARD_HEAP_CARVEOUT, 4, 0x12f800000, 92 * kM},
                {"audio", ION_BOARD_HEAP_CARVEOUT, 5, 0x135400000, 12 * kM},
                {"cma", ION_BOARD_HEAP_DMA, 6, 0x125800000, 64 * kM},
                {"chunk", ION_BOARD_HEAP_CHUNK, 7, 0x136000000, 32 * kM},
                {"video", ION_BOARD_HEAP_CARVEOUT, 8, 0x138800000, 120 * kM}});
}

TEST(BoardBuiltinTest, LoadTakesAnEmbeddedBoardsNameOrText) {
  auto b = std::make_unique<ion_board>();
  char err[ION_BOARD_ERR_LEN];
  const std::string name = "  phone\n";
  ASSERT_EQ(ion_board_load(b.get(), name.data(), name.size(), err, sizeof(err)), 0) << err;
  EXPECT_STREQ(b->name, "phone");
  const std::string text = "board mine; ram size=64M";
  ASSERT_EQ(ion_board_load(b.get(), text.data(), text.size(), err, sizeof(err)), 0) << err;
  EXPECT_STREQ(b->name, "mine");
  EXPECT_EQ(ion_board_load(b.get(), "nosuch", 6, err, sizeof(err)), -EINVAL);
  EXPECT_STREQ(err, "board: no embedded board 'nosuch' (embedded: dummy, msm8x25, phone)");
  EXPECT_EQ(ion_board_load(b.get(), "", 0, err, sizeof(err)), -EINVAL);
  EXPECT_STREQ(err, "board: missing board record");
}

TEST(BoardBuiltinTest, HeapTypeNamesAreTheRecordKeywords) {
  EXPECT_STREQ(ion_board_heap_type_name(ION_BOARD_HEAP_SYSTEM), "system");
  EXPECT_STREQ(ion_board_heap_type_name(ION_BOARD_HEAP_SYSTEM_CONTIG), "system_contig");
  EXPECT_STREQ(ion_board_heap_type_name(ION_BOARD_HEAP_CARVEOUT), "carveout");
  EXPECT_STREQ(ion_board_heap_type_name(ION_BOARD_HEAP_CHUNK), "chunk");
  EXPECT_STREQ(ion_board_heap_type_name(ION_BOARD_HEAP_DMA), "dma");
  EXPECT_EQ(ion_board_heap_type_name(static_cast<ion_board_heap_type>(5)), nullptr);
}

// ---- the model's ModelConfig ----------------------------------------------------------------------------------

TEST(BoardConfigTest, ModelConfigHasTheBoardsRamAndAnExplicitBaseForEveryRange) {
  std::string error = "stale";
  ErrnoOr<ModelConfig> config = ModelConfigFromBoard("dummy", &error);
  ASSERT_THAT(config, IsOk()) << error;
  EXPECT_EQ(error, "");
  EXPECT_EQ(config->ram_base, 0x80000000u);
  EXPECT_EQ(config->ram_size, 512 * kM);
  EXPECT_EQ(config->lowmem_size, 448 * kM);
  ASSERT_EQ(config->heaps.size(), 4u);
  const ModelHeapConfig& contig = config->heaps[1];
  EXPECT_EQ(contig.type, ION_HEAP_TYPE_SYSTEM_CONTIG);
  EXPECT_EQ(contig.name, "system contig");
  EXPECT_EQ(contig.base, 0u);
  EXPECT_EQ(contig.size, 0u);
  const ModelHeapConfig& carveout = config->heaps[2];
  EXPECT_EQ(carveout.type, ION_HEAP_TYPE_CARVEOUT);
  EXPECT_EQ(carveout.id, 2u);
  EXPECT_EQ(carveout.base, 0x9fc00000u);
  EXPECT_EQ(carveout.size, 4 * kM);
  const ModelHeapConfig& chunk = config->heaps[3];
  EXPECT_EQ(chunk.type, ION_HEAP_TYPE_CHUNK);
  EXPECT_EQ(chunk.base, 0x9f800000u);
  EXPECT_EQ(chunk.align, 16 * kK);
  EXPECT_EQ(chunk.chunk_size, 16 * kK);

  ErrnoOr<ModelConfig> phone = ModelConfigFromBoard("phone", nullptr);
  ASSERT_THAT(phone, IsOk());
  EXPECT_EQ(phone->heaps[6].type, ION_HEAP_TYPE_DMA);
  EXPECT_EQ(phone->heaps[6].base, 0x125800000u);
  EXPECT_EQ(phone->heaps[8].base, 0x138800000u);
}

TEST(BoardConfigTest, ABadBoardIsEinvalWithTheParsersMessage) {
  std::string error;
  EXPECT_THAT(ModelConfigFromBoard(kHead + "heap carveout id=2 name=c size=6K", &error), IsErrno(EINVAL));
  EXPECT_EQ(error, "board:3: heap 'c': size 0x1800 is not a multiple of 4096");
  EXPECT_THAT(ModelConfigFromBoard(kHead + "heap carveout id=2 name=c base=0x90000000 size=4K", &error),
              IsErrno(EINVAL));
  EXPECT_EQ(error, "board:3: heap 'c': 0x90000000-0x90000fff lies outside 0x80000000-0x83ffffff");
  EXPECT_THAT(ModelConfigFromBoard("nosuch", nullptr), IsErrno(EINVAL));
}

TEST(BoardConfigTest, ABoardBootsTheModelWithItsCarveoutAtTheLaidOutBase) {
  std::string error;
  ErrnoOr<ModelConfig> config = ModelConfigFromBoard(
      "board core; ram size=64M; heap system_contig id=1 name=system_contig; heap carveout id=2 name=carveout "
      "size=4M",
      &error);
  ASSERT_THAT(config, IsOk()) << error;
  ErrnoOr<std::unique_ptr<ModelBackend>> backend = ModelBackend::Create(config.value());
  ASSERT_TRUE(backend.ok()) << backend.error();
  kernel::ion_heap* carveout = backend.value()->heap(2);
  ASSERT_NE(carveout, nullptr);
  EXPECT_EQ(kernel::ion_carveout_heap_base(carveout), 0x83c00000u);
  EXPECT_EQ(backend.value()->check_invariants(), "");
}

TEST(BoardConfigTest, LoadBoardFileReadsTheFileOrReturnsTheErrno) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/board_test_board.txt";
  const std::string text = Builtin("msm8x25");
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(text.data(), 1, text.size(), f), text.size());
  std::fclose(f);
  std::string error = "stale";
  ErrnoOr<std::string> read = LoadBoardFile(path, &error);
  ASSERT_THAT(read, IsOk()) << error;
  EXPECT_EQ(read.value(), text);
  EXPECT_EQ(error, "");
  EXPECT_THAT(ModelConfigFromBoard(read.value(), &error), IsOk()) << error;
  std::remove(path.c_str());

  EXPECT_THAT(LoadBoardFile(path, &error), IsErrno(ENOENT));
  EXPECT_EQ(error, path + ": No such file or directory");
}

// ---- random mutations -------------------------------------------------------------------------------------------

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

std::string Mutate(std::string text, std::mt19937* rng) {
  static const std::vector<std::string> kPieces = {
      " ",      "\n",     ";",         "#",        "'",       "=",        "0",       "1",       "7",
      "0x",     "4K",     "16M",       "1G",       "auto",    "heap ",    "ram ",    "board ",  "carveout ",
      "chunk ", "dma ",   "system ",   "id=",      "name=",   "base=",    "size=",   "align=",  "chunk=",
      "adjacent=", "lowmem=", "\t",    "\r",       "\xff",    std::string(1, '\0'),  "99999999999999999999",
      "0x80000000", "31", "32", "0xfffffffffffff000",
  };
  auto pick = [rng](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>((*rng)() % n); };
  switch ((*rng)() % 7) {
    case 0: {  // delete a few bytes
      if (text.empty()) break;
      const size_t at = pick(text.size());
      text.erase(at, 1 + pick(8));
      break;
    }
    case 1:  // insert a piece
      text.insert(pick(text.size() + 1), kPieces[pick(kPieces.size())]);
      break;
    case 2:  // overwrite a byte
      if (!text.empty()) text[pick(text.size())] = static_cast<char>((*rng)() & 0xff);
      break;
    case 3: {  // duplicate a line
      std::vector<std::string> lines = Lines(text);
      if (lines.empty()) break;
      const std::string line = lines[pick(lines.size())];
      lines.insert(lines.begin() + static_cast<long>(pick(lines.size() + 1)), line);
      text = Join(lines);
      break;
    }
    case 4: {  // delete a line
      std::vector<std::string> lines = Lines(text);
      if (lines.empty()) break;
      lines.erase(lines.begin() + static_cast<long>(pick(lines.size())));
      text = Join(lines);
      break;
    }
    case 5: {  // swap two lines
      std::vector<std::string> lines = Lines(text);
      if (lines.size() < 2) break;
      std::swap(lines[pick(lines.size())], lines[pick(lines.size())]);
      text = Join(lines);
      break;
    }
    default: {  // change a number's last digit
      const size_t at = text.find_first_of("0123456789", pick(text.size()));
      if (at != std::string::npos) text[at] = static_cast<char>('0' + pick(10));
      break;
    }
  }
  return text;
}

// The reference checks of a laid-out board, in 128-bit arithmetic so that they cannot wrap.
void CheckLaidOut(const ion_board& b, const std::string& text) {
  using u128 = unsigned __int128;
  const u128 ram_end = static_cast<u128>(b.ram_base) + b.ram_size;
  for (unsigned int i = 0; i < b.nr_heaps; i++) {
    const ion_board_heap& h = b.heaps[i];
    if (h.place == ION_BOARD_PLACE_NONE) {
      EXPECT_EQ(h.size, 0u) << text;
      continue;
    }
    EXPECT_GE(h.phys, b.ram_base) << h.name << "\n" << text;
    EXPECT_LE(static_cast<u128>(h.phys) + h.size, ram_end) << h.name << "\n" << text;
    EXPECT_EQ(h.phys % 4096, 0u) << h.name << "\n" << text;
    EXPECT_EQ(h.size % 4096, 0u) << h.name << "\n" << text;
    if (h.place == ION_BOARD_PLACE_FIXED) {
      EXPECT_EQ(h.phys, h.base) << h.name << "\n" << text;
    }
    if (h.place == ION_BOARD_PLACE_ADJACENT) {
      unsigned int t = 0;
      while (t < b.nr_heaps && b.heaps[t].id != h.adjacent) t++;
      ASSERT_LT(t, b.nr_heaps) << text;
      EXPECT_EQ(b.heaps[t].phys, h.phys + h.size) << h.name << "\n" << text;
    }
    if (h.place != ION_BOARD_PLACE_FIXED && h.align > 4096) {
      // Auto heaps and first heaps of pairs start on their alignment.
      bool is_second = false;
      for (unsigned int j = 0; j < b.nr_heaps; j++) {
        if (b.heaps[j].place != ION_BOARD_PLACE_ADJACENT) continue;
        unsigned int t = 0;
        while (t < b.nr_heaps && b.heaps[t].id != b.heaps[j].adjacent) t++;
        is_second |= t == i;
      }
      if (!is_second) {
        EXPECT_EQ(h.phys % h.align, 0u) << h.name << "\n" << text;
      }
    }
    for (unsigned int j = i + 1; j < b.nr_heaps; j++) {
      const ion_board_heap& o = b.heaps[j];
      if (o.place == ION_BOARD_PLACE_NONE) continue;
      const bool disjoint = static_cast<u128>(h.phys) + h.size <= o.phys || static_cast<u128>(o.phys) + o.size <= h.phys;
      EXPECT_TRUE(disjoint) << h.name << " and " << o.name << "\n" << text;
    }
  }
}

void CheckError(int ret, const char* err, const std::string& text) {
  EXPECT_EQ(ret, -EINVAL) << text;
  EXPECT_THAT(std::string(err), StartsWith("board")) << text;
  EXPECT_GT(std::strlen(err), 7u) << text;
  EXPECT_LT(std::strlen(err), static_cast<size_t>(ION_BOARD_ERR_LEN) - 1) << "truncated: " << text;
}

TEST(BoardFuzzTest, RandomMutationsOfTheEmbeddedBoardsGiveAValidBoardOrAnError) {
  int valid = 0;
  int invalid = 0;
  for (uint32_t seed = 1; seed <= 200; seed++) {
    std::mt19937 rng(seed);
    for (int round = 0; round < 25; round++) {
      std::string text = Builtin(ion_board_builtin_name(rng() % 3));
      const int mutations = 1 + static_cast<int>(rng() % 4);
      for (int m = 0; m < mutations; m++) text = Mutate(text, &rng);

      auto b = std::make_unique<ion_board>();
      char err[ION_BOARD_ERR_LEN];
      std::memset(err, 0x55, sizeof(err));
      int ret = ion_board_load(b.get(), text.data(), text.size(), err, sizeof(err));
      if (ret == 0) ret = ion_board_layout(b.get(), b->ram_base, b->ram_size, err, sizeof(err));
      // Tiny and absent error buffers give the same verdict.
      char tiny[3];
      auto b2 = std::make_unique<ion_board>();
      int ret2 = ion_board_load(b2.get(), text.data(), text.size(), tiny, sizeof(tiny));
      if (ret2 == 0) ret2 = ion_board_layout(b2.get(), b2->ram_base, b2->ram_size, nullptr, 0);
      EXPECT_EQ(ret2, ret) << text;

      std::string model_error;
      ErrnoOr<ModelConfig> config = ModelConfigFromBoard(text, &model_error);
      if (ret != 0) {
        invalid++;
        CheckError(ret, err, text);
        EXPECT_THAT(config, IsErrno(EINVAL)) << text;
        EXPECT_EQ(model_error, err) << text;
        continue;
      }
      valid++;
      ASSERT_TRUE(b->laid_out);
      CheckLaidOut(*b, text);
      const std::string rendered = Render(*b);
      Board again = LayOut(rendered);
      ASSERT_EQ(again.ret, 0) << again.err << "\n" << rendered;
      EXPECT_EQ(Render(*again.b), rendered);
      ASSERT_THAT(config, IsOk()) << model_error;
      ASSERT_EQ(config->heaps.size(), b->nr_heaps);
      for (unsigned int i = 0; i < b->nr_heaps; i++) {
        EXPECT_EQ(config->heaps[i].base, b->heaps[i].place == ION_BOARD_PLACE_NONE ? 0 : b->heaps[i].phys);
      }
    }
  }
  // Both outcomes are exercised, so neither branch above is vacuous.
  EXPECT_GT(valid, 500);
  EXPECT_GT(invalid, 500);
}

TEST(BoardTest, ProfileRecordNamesAKnownProfileOnceAndIsRenderedBack) {
  Board ok = Parse("board b\nram size=64M\nprofile 4.4\n");
  ASSERT_EQ(ok.ret, 0) << ok.err;
  EXPECT_STREQ(ok.b->profile, "4.4");
  EXPECT_EQ(ok.b->profile_line, 3u);
  std::vector<char> text(static_cast<size_t>(ion_board_render(ok.b.get(), nullptr, 0)) + 1);
  ion_board_render(ok.b.get(), text.data(), text.size());
  EXPECT_THAT(text.data(), HasSubstr("\nprofile 4.4\n"));

  Board none = Parse("board b\nram size=64M\n");
  ASSERT_EQ(none.ret, 0);
  EXPECT_STREQ(none.b->profile, "");

  Board unknown = Parse("board b\nram size=64M\nprofile 3.18\n");
  EXPECT_EQ(unknown.ret, -EINVAL);
  EXPECT_EQ(unknown.err, "board:3: unknown profile '3.18' (known: 4.4-compat, 4.4, 4.4.0, android-3.18)");
  Board twice = Parse("board b\nprofile 4.4\nram size=64M\nprofile 4.4.0\n");
  EXPECT_EQ(twice.ret, -EINVAL);
  EXPECT_EQ(twice.err, "board:4: duplicate profile record (first at line 2)");
  Board extra = Parse("board b\nram size=64M\nprofile 4.4 4.4.0\n");
  EXPECT_EQ(extra.ret, -EINVAL);
  EXPECT_EQ(extra.err, "board:3: profile: unexpected '4.4.0' after the name");
  Board empty = Parse("board b\nram size=64M\nprofile\n");
  EXPECT_EQ(empty.err, "board:3: profile: missing name");
}


}  // namespace
}  // namespace ionsim::testing
