// Simple reference policies on a RailEnv.
//
//   std::vector<int> actions(env.num_agents());
//   for (int i = 0; i < env.num_agents(); ++i) actions[i] = int(shortest_path_action(env, i));
//   env.step(actions);
#pragma once

#include "rail_env.h"

namespace stackgrad::flatland {

// The legal moving action (tried in the order forward, left, right) whose next cell and
// direction are closest to the agent's target; STOP when none gets closer than unreachable.
// Off the map (before departure or after arrival) the start cell is used. Other trains are
// ignored, so trains following it head-on will deadlock.
Action shortest_path_action(const RailEnv& env, int agent);

}  // namespace stackgrad::flatland
