// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim profiles`: every ION profile (kmod/ion_profile.h, docs/profiles.md) with the upstream tree it follows
// and, one line per switch, what it does in that profile and where upstream the behaviour comes from.
#ifndef TOOLS_IONSIM_PROFILES_H_
#define TOOLS_IONSIM_PROFILES_H_

#include <string>
#include <vector>

namespace ionsim {

// The listing `ionsim profiles` prints.
std::string ProfilesText();

// args: none (the dispatcher refuses arguments). Prints ProfilesText(); 0.
int ProfilesMain(const std::vector<std::string>& args);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_PROFILES_H_
