// Conflict resolution between trains that want to move in the same step, with the outcome of
// flatland-rl 3.0.15's MotionCheck (a graph of "cell -> wanted cell" edges):
//   * a train that does not want to move blocks every train whose chain of wanted moves leads
//     into its cell (close-packed trains may follow each other through a free cell);
//   * two trains that want each other's cells (a head-on swap) are deadlocked and block their
//     chains too;
//   * when several trains want the same cell, the lowest agent index wins; the others and the
//     chains behind them are blocked;
//   * a ring of trains each moving into the next one's cell moves as a whole.
//
//   MotionCheck mc;  mc.reset(num_nodes, num_agents);
//   mc.add(agent, from_node, to_node);   // for every agent, in index order
//   mc.resolve();  bool go = mc.can_move(agent);
#pragma once

#include <cstdint>
#include <vector>

namespace stackgrad::flatland {

class MotionCheck {
 public:
  // Nodes are cells (row * width + col) plus one private node per agent for "off the map";
  // buffers are sized here once, so add/resolve never allocate.
  void reset(int num_nodes, int num_agents);
  void clear();  // forget the agents added in the previous step
  void add(int agent, int from_node, int to_node);
  void resolve();
  bool can_move(int agent) const { return moves_[agent]; }

 private:
  enum Mark : uint8_t { kUnknown, kVisiting, kFree, kBlocked };
  std::vector<int32_t> occupant_;  // per node: agent standing there, -1 if none
  std::vector<int32_t> claimant_;  // per node: lowest agent wanting to enter it, -1 if none
  std::vector<int32_t> from_, to_, next_;  // per agent; next_: agent in the wanted node or -1
  std::vector<uint8_t> seed_blocked_, mark_, moves_;
  std::vector<int32_t> path_;
  int count_ = 0;
};

}  // namespace stackgrad::flatland
