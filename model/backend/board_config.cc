// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/backend/board_config.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "kmod/ion_board.h"

namespace ionsim {

static_assert(static_cast<int>(ION_BOARD_HEAP_SYSTEM) == static_cast<int>(ION_HEAP_TYPE_SYSTEM));
static_assert(static_cast<int>(ION_BOARD_HEAP_SYSTEM_CONTIG) == static_cast<int>(ION_HEAP_TYPE_SYSTEM_CONTIG));
static_assert(static_cast<int>(ION_BOARD_HEAP_CARVEOUT) == static_cast<int>(ION_HEAP_TYPE_CARVEOUT));
static_assert(static_cast<int>(ION_BOARD_HEAP_CHUNK) == static_cast<int>(ION_HEAP_TYPE_CHUNK));
static_assert(static_cast<int>(ION_BOARD_HEAP_DMA) == static_cast<int>(ION_HEAP_TYPE_DMA));

ErrnoOr<ModelConfig> ModelConfigFromBoard(const std::string& text_or_builtin_name, std::string* error) {
  auto board = std::make_unique<ion_board>();
  char err[ION_BOARD_ERR_LEN] = {};
  int ret = ion_board_load(board.get(), text_or_builtin_name.data(), text_or_builtin_name.size(), err, sizeof(err));
  if (ret == 0) ret = ion_board_layout(board.get(), board->ram_base, board->ram_size, err, sizeof(err));
  if (ret != 0) {
    if (error) *error = err;
    return Errno(-EINVAL);
  }

  ModelConfig config;
  config.ram_base = board->ram_base;
  config.ram_size = board->ram_size;
  config.lowmem_size = board->lowmem_size;
  config.profile = board->profile;
  for (unsigned int i = 0; i < board->nr_heaps; i++) {
    const ion_board_heap& h = board->heaps[i];
    ModelHeapConfig heap;
    heap.type = static_cast<ion_heap_type>(h.type);
    heap.id = h.id;
    heap.name = h.name;
    heap.base = h.place == ION_BOARD_PLACE_NONE ? 0 : h.phys;
    heap.size = h.size;
    heap.align = h.align;
    heap.chunk_size = h.chunk;
    config.heaps.push_back(heap);
  }
  if (error) error->clear();
  return config;
}

ErrnoOr<std::string> LoadBoardFile(const std::string& path, std::string* error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    const int e = errno;
    if (error) *error = path + ": " + std::strerror(e);
    return Errno(-e);
  }
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  const int e = std::ferror(f) ? (errno ? errno : EIO) : 0;
  std::fclose(f);
  if (e) {
    if (error) *error = path + ": " + std::strerror(e);
    return Errno(-e);
  }
  if (error) error->clear();
  return text;
}

}  // namespace ionsim
