#pragma once
// Shared by the Behaviour model tests: drain the actions a Behaviour queued
// and name them (without notes), the observable sequence.
#include <string>
#include <vector>

#include "fake-services/behaviour.hpp"

namespace cutover::service::testing {

inline std::vector<Action> drain(Behaviour& b) {
  std::vector<Action> out;
  for (int i = 0; i < 100; ++i) {  // bounded: a model queues a handful at most
    auto a = b.pollAction();
    if (!a) break;
    out.push_back(std::move(*a));
  }
  return out;
}

inline std::vector<std::string> names(const std::vector<Action>& actions) {
  std::vector<std::string> out;
  for (const auto& a : actions) {
    if (!std::holds_alternative<Note>(a)) out.emplace_back(actionName(a));
  }
  return out;
}

}  // namespace cutover::service::testing
