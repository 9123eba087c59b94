// Per-agent observations and action masks of Neural MMO 2.0 (spec A11), written into flat
// preallocated buffers, and the decoding of the flattened MultiDiscrete action (A5.1) back into
// AgentActions.
//
//   ObservationWriter obs(config, /*task_dim=*/32);
//   ObsStorage storage(obs.layout(), config.player_n);     // or views into a larger buffer
//   obs.bind(storage.view());
//   obs.write(world, task_embeddings);                      // after reset and after each step
//   obs.decode(flat_actions, agent_actions);                // 12 ints per agent -> ids
//
// Buffers hold one key for all agents contiguously (agent i of a key at i * per-agent size), so
// a batch of environments can write into slices of one big buffer. The 12 masks of an agent are
// concatenated in the order of the flattened action (ActionArg), so mask and logits line up.
//
// Rows that refer to objects (entities, inventory items, market listings) are remembered at
// each write: decode() turns an index into the id of the object in that row of the observation
// the action was chosen from, as nmmo resolves actions against the previous observation.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "envs/nmmo/config.h"
#include "envs/nmmo/world.h"

namespace stackgrad::nmmo {

// The arguments of the flattened action, in the order of the MultiDiscrete of the baseline
// (A5.1: actions and arguments sorted by class name, communication off).
enum class ActionArg : uint8_t {
  kAttackStyle = 0,
  kAttackTarget = 1,
  kBuyMarketItem = 2,
  kDestroyItem = 3,
  kGiveItem = 4,
  kGiveTarget = 5,
  kGiveGoldPrice = 6,
  kGiveGoldTarget = 7,
  kMoveDirection = 8,
  kSellItem = 9,
  kSellPrice = 10,
  kUseItem = 11,
};
inline constexpr int kNumActionArgs = 12;
std::string_view action_arg_name(ActionArg arg);  // "Attack.Style", ...

// Columns of the observation tables (A11, A8).
inline constexpr int kTileCols = 3;     // row, col, material
inline constexpr int kEntityCols = 31;  // EntityCol
inline constexpr int kItemCols = 16;    // ItemCol

enum EntityCol : int {
  kEntId = 0,
  kEntNpcType,
  kEntRow,
  kEntCol,
  kEntDamage,
  kEntTimeAlive,
  kEntFreeze,
  kEntItemLevel,
  kEntAttackerId,
  kEntLatestCombatTick,
  kEntMessage,
  kEntGold,
  kEntHealth,
  kEntFood,
  kEntWater,
  kEntFirstSkill,  // then (level, exp) for each Skill in order: column 15 + 2 * skill (+ 1)
};

enum ItemCol : int {
  kItemId = 0,
  kItemTypeId,
  kItemOwnerId,
  kItemLevel,
  kItemCapacity,
  kItemQuantity,
  kItemMeleeAttack,
  kItemRangeAttack,
  kItemMageAttack,
  kItemMeleeDefense,
  kItemRangeDefense,
  kItemMageDefense,
  kItemHealthRestore,
  kItemResourceRestore,
  kItemEquipped,
  kItemListedPrice,
};

// The sizes of one agent's observation, from the configuration and the task encoding length.
struct ObsLayout {
  ObsLayout(const Config& config, int task_dim);

  int tile_rows;       // vision_diameter^2 (225)
  int entity_rows;     // player_n_obs (100)
  int inventory_rows;  // item_inventory_capacity (12)
  int market_rows;     // market_n_obs (1024)
  int task_dim;
  // Sizes of the 12 action arguments (the MultiDiscrete's nvec) and where each mask starts in
  // an agent's concatenated mask; mask_offset[12] is the length of that mask (1586 for Medium).
  std::array<int, kNumActionArgs> arg_size;
  std::array<int, kNumActionArgs + 1> mask_offset;

  int tile_size() const { return tile_rows * kTileCols; }
  int entity_size() const { return entity_rows * kEntityCols; }
  int inventory_size() const { return inventory_rows * kItemCols; }
  int market_size() const { return market_rows * kItemCols; }
  int mask_size() const { return mask_offset[kNumActionArgs]; }
  int size(ActionArg a) const { return arg_size[static_cast<int>(a)]; }
  int offset(ActionArg a) const { return mask_offset[static_cast<int>(a)]; }
};

// A view of the observation buffers of `num_agents` consecutive agents.
struct ObsBuffers {
  int num_agents = 0;
  std::span<int32_t> current_tick;  // [n]
  std::span<int32_t> agent_id;      // [n]
  std::span<int16_t> tile;          // [n, tile_rows, 3]
  std::span<int16_t> entity;        // [n, entity_rows, 31]
  std::span<int16_t> inventory;     // [n, inventory_rows, 16]
  std::span<int16_t> market;        // [n, market_rows, 16]
  std::span<float> task;            // [n, task_dim]
  std::span<int8_t> action_mask;    // [n, mask_size]: the 12 masks in ActionArg order

  // Agents [first, first + count) of this view.
  ObsBuffers slice(const ObsLayout& layout, int first, int count) const;
};

// Owning storage for the observations of `num_agents` agents (zero-initialised).
struct ObsStorage {
  ObsStorage() = default;
  ObsStorage(const ObsLayout& layout, int num_agents);
  ObsBuffers view();

  int num_agents = 0;
  std::vector<int32_t> current_tick, agent_id;
  std::vector<int16_t> tile, entity, inventory, market;
  std::vector<float> task;
  std::vector<int8_t> action_mask;
};

class ObservationWriter {
 public:
  ObservationWriter(const Config& config, int task_dim);

  const ObsLayout& layout() const { return layout_; }
  int num_agents() const { return num_agents_; }

  // Where the observations of the config.player_n players go. Checks every size and zeroes the
  // buffers (later writes only clear rows that were filled before).
  void bind(const ObsBuffers& buffers);

  // Writes every player's observation (player id - 1 = agent index). `task` holds
  // player_n * task_dim floats, agent-major. Dead players get zeros with only the no-ops of
  // the masks set (their tick and id stay), as nmmo's dummy observation.
  void write(const World& world, std::span<const float> task);

  // Turns flat actions (player_n * 12 ints, ActionArg order) into one AgentAction per player,
  // resolving rows of the last written observation to entity and item ids. A row index past
  // the filled rows (the no-op index included) drops that action; an int outside [0, size)
  // throws stackgrad::Error naming the agent, the argument and the value.
  void decode(std::span<const int32_t> flat, std::span<AgentAction> out) const;
  AgentAction decode_agent(int agent, std::span<const int32_t> args) const;

  // Ids in the filled rows of agent `agent`'s last observation.
  std::span<const int32_t> entity_ids(int agent) const;
  std::span<const int32_t> inventory_ids(int agent) const;
  std::span<const int32_t> market_ids() const { return market_ids_; }

 private:
  struct Candidate {
    int16_t row, col;
    int32_t id;
    bool player;
    std::array<int16_t, kEntityCols> values;
  };
  void gather(const World& world);  // candidates, market rows (shared by all agents)
  void write_alive(const World& world, const Entity& self, int agent);
  void write_dead(int agent);
  void write_masks(const World& world, const Entity& self, int agent);

  Config config_;
  ObsLayout layout_;
  int num_agents_;
  ObsBuffers buf_;
  bool bound_ = false;

  // Per write: visible-entity candidates (players by id, then NPCs in spawn order, as nmmo's
  // datastore rows), the market table and its item ids.
  std::vector<Candidate> candidates_;
  std::vector<int16_t> market_rows_;
  std::vector<int32_t> market_ids_;
  std::vector<int32_t> market_owner_;

  // Per agent: ids of the filled rows and how many rows of each table hold data (to clear
  // only those next time).
  std::vector<int32_t> entity_ids_, inventory_ids_;
  std::vector<int32_t> entity_count_, inventory_count_, market_count_;
  std::vector<uint8_t> tile_filled_;
  std::vector<int32_t> visible_;  // scratch: candidate indices visible to one agent
  // Candidates bucketed by grid cells of vision_diameter tiles (a window touches at most 2x2
  // cells): cell_start_[cell] .. cell_start_[cell + 1] index cell_items_, in candidate order.
  int cells_per_side_ = 0;
  std::vector<int32_t> cell_start_, cell_items_, cell_of_;
};

}  // namespace stackgrad::nmmo
