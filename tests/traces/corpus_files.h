// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The scenario corpus as the tests of this package see it in their runfiles (the :corpus data).
#ifndef TESTS_TRACES_CORPUS_FILES_H_
#define TESTS_TRACES_CORPUS_FILES_H_

#include <string>
#include <vector>

namespace ionsim::trace {

// The corpus files, sorted: tests/traces/*.trace and the profiles' own tests/traces/<profile>/*.trace (each
// pins its profile with a `profile` line); empty outside a bazel test.
std::vector<std::string> CorpusPaths();

// A file's bytes ("" when it cannot be read).
std::string ReadCorpusFile(const std::string& path);

}  // namespace ionsim::trace

#endif  // TESTS_TRACES_CORPUS_FILES_H_
