// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/profiles.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kmod/ion_profile.h"

namespace ionsim {

std::string ProfilesText() {
  std::string out;
  // The switch names' column is as wide as the longest name.
  int width = 0;
  for (int sw = 0; sw < ION_SW_COUNT; sw++) {
    const char* name = ion_profile_switch_info(static_cast<ion_profile_switch>(sw))->name;
    width = std::max(width, static_cast<int>(std::strlen(name)));
  }
  for (unsigned int i = 0; ion_profile_at(i) != nullptr; i++) {
    const ion_profile* p = ion_profile_at(i);
    out += p->name;
    if (p == ion_profile_default()) out += " (default)";
    out += std::string(": ") + p->about + "\n";
    out += std::string("  follows ") + p->upstream + "\n";
    for (int sw = 0; sw < ION_SW_COUNT; sw++) {
      const auto which = static_cast<ion_profile_switch>(sw);
      const struct ion_profile_switch_info* info = ion_profile_switch_info(which);
      const bool on = ion_profile_has(p, which);
      char line[96];
      std::snprintf(line, sizeof(line), "  %-*s %-4s", width, info->name, on ? "on" : "off");
      out += line;
      out += on ? info->what : info->without;
      out += std::string(" [") + info->provenance + "]\n";
    }
  }
  return out;
}

int ProfilesMain(const std::vector<std::string>& /*args*/) {
  const std::string text = ProfilesText();
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace ionsim
