#include "policies.h"

namespace stackgrad::flatland {

Action shortest_path_action(const RailEnv& env, int agent) {
  const Agent& a = env.agents()[agent];
  const AgentSpec& s = env.spec(agent);
  const GridPos pos = a.position.on_map() ? a.position : s.initial_position;
  const int dir = a.position.on_map() ? a.direction : s.initial_direction;
  Action best_action = Action::kStop;
  int32_t best = DistanceMap::kUnreachable;
  for (Action action : {Action::kForward, Action::kLeft, Action::kRight}) {
    if (!env.check_valid_action(action, pos, dir)) continue;
    const Waypoint next = env.apply_action(action, pos, dir);
    const int32_t d = env.distance_map().distance(agent, next.position, next.direction);
    if (d < best) {
      best = d;
      best_action = action;
    }
  }
  return best_action;
}

}  // namespace stackgrad::flatland
