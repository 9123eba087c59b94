// Conflict resolution between trains that want to move in the same step, with the outcome of
// flatland-rl 3.0.15's MotionCheck (a graph whose nodes are cells and whose edges are the moves
// trains want to make):
//   * a train that does not want to move blocks every train whose chain of wanted moves leads
//     into its cell (close-packed trains may follow each other through a free cell);
//   * two trains that want each other's cells (a head-on swap) are deadlocked and block their
//     chains too;
//   * when several trains want the same cell, the one from the cell whose (last added) agent
//     index is lowest wins; the others and the chains behind them are blocked;
//   * a ring of trains each moving into the next one's cell moves as a whole.
// Flatland can, rarely, put two trains on one cell (a train repaired off the map and told to
// stop is placed on its start cell unchecked). The cell then has two outgoing moves, its agent
// is the later one, and both trains get the answer for the first one's move, as in flatland.
//
//   MotionCheck mc;  mc.reset(num_nodes, num_agents);
//   mc.clear();  mc.add(agent, from_node, to_node);   // every agent, in index order
//   mc.resolve();  bool go = mc.can_move(agent);
#pragma once

#include <cstdint>
#include <vector>

namespace stackgrad::flatland {

class MotionCheck {
 public:
  // Nodes are cells (row * width + col) plus one private node per agent for "off the map";
  // buffers are sized here once, so clear/add/resolve never allocate.
  void reset(int num_nodes, int num_agents);
  void clear();  // forget the moves added in the previous step
  void add(int agent, int from_node, int to_node);
  void resolve();
  bool can_move(int agent) const { return moves_[agent]; }

 private:
  void block(int node);

  // Per node (reset after each step for the nodes touched).
  std::vector<int32_t> first_agent_, last_agent_;  // agents standing there, -1 if none
  std::vector<int32_t> best_claim_;  // lowest node agent among the cells moving into it
  std::vector<int32_t> rev_head_;    // first agent whose move ends here
  std::vector<uint8_t> blocked_;
  // Per agent.
  std::vector<int32_t> from_, to_, next_at_node_, rev_next_;
  std::vector<uint8_t> moves_;
  std::vector<int32_t> stack_;
  int count_ = 0;
};

}  // namespace stackgrad::flatland
