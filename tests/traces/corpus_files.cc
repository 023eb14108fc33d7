// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tests/traces/corpus_files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ionsim::trace {

std::vector<std::string> CorpusPaths() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  std::vector<std::string> paths;
  if (!srcdir || !workspace) return paths;
  const std::filesystem::path dir = std::filesystem::path(srcdir) / workspace / "tests" / "traces";
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".trace") paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::string ReadCorpusFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace ionsim::trace
