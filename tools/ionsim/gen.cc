// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/gen.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "tools/trace/generator.h"
#include "tools/trace/trace.h"

namespace ionsim {

int GenMain(int argc, char** argv) {
  uint64_t seed = 1;
  uint64_t ops = 32;
  for (int i = 0; i < argc; i += 2) {
    uint64_t* dest = nullptr;
    if (std::strcmp(argv[i], "--seed") == 0) dest = &seed;
    if (std::strcmp(argv[i], "--ops") == 0) dest = &ops;
    if (!dest || i + 1 >= argc || !trace::ParseNumber(argv[i + 1], dest) || ops > 1000000) {
      std::fprintf(stderr, "usage: ionsim gen [--seed N] [--ops K]\n");
      return 2;
    }
  }
  const std::string text = trace::PrintTrace(trace::GenerateTrace(seed, static_cast<int>(ops)));
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace ionsim
