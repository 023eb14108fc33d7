// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The conformance tests on the model: a ModelBackend with the dummy board (the same board text the module
// parses), wrapped so that the invariant checker runs after every operation.
#include <memory>
#include <string>
#include <utility>

#include "model/backend/board_config.h"
#include "model/backend/model_backend.h"
#include "tests/conformance/conformance.h"
#include "tests/testing/ion_fixture.h"

namespace ionsim::conformance {

std::unique_ptr<IonBackend> NewBackend(std::string* error) {
  ErrnoOr<ModelConfig> config = ModelConfigFromBoard("dummy", error);
  if (!config.ok()) return nullptr;
  ErrnoOr<std::unique_ptr<ModelBackend>> model = ModelBackend::Create(config.value());
  if (!model.ok()) {
    *error = std::string("ModelBackend::Create: ") + model.error().name();
    return nullptr;
  }
  return std::make_unique<testing::CheckingBackend>(std::move(model).value());
}

std::string FinishBackend(IonBackend* backend) {
  // Shutdown() exits every process and tears the device down; its report names what was still alive.
  return static_cast<testing::CheckingBackend*>(backend)->model()->Shutdown();
}

}  // namespace ionsim::conformance
