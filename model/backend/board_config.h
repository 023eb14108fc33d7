// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The model's machine from a board description (docs/boards.md). The text is read by the same C parser and
// layout the kernel module uses (kmod/ion_board.h), so the model and the module build the same heaps at the same
// relative addresses.
#ifndef MODEL_BACKEND_BOARD_CONFIG_H_
#define MODEL_BACKEND_BOARD_CONFIG_H_

#include <string>

#include "model/backend/model_backend.h"

namespace ionsim {

// The machine and heaps of a board: an embedded board's name ("dummy", "msm8x25", "phone") or board text.
// The board is laid out in its own RAM and every carveout, chunk and dma heap gets the base the layout gives it.
// A parse or layout error is -EINVAL with the parser's message ("board:4: heap 'camera': ...") in *error
// (when error is not null).
ErrnoOr<ModelConfig> ModelConfigFromBoard(const std::string& text_or_builtin_name, std::string* error);

// The contents of a board file. A failing open or read returns its -errno with "<path>: <reason>" in *error.
ErrnoOr<std::string> LoadBoardFile(const std::string& path, std::string* error);

}  // namespace ionsim

#endif  // MODEL_BACKEND_BOARD_CONFIG_H_
