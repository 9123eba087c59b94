#include "observation.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "engine/core/error.h"

namespace stackgrad::nmmo {

namespace {

// nmmo's datastore is int16: values are clamped on the way in (A1).
int16_t clamp16(int64_t v) {
  return static_cast<int16_t>(std::clamp<int64_t>(v, std::numeric_limits<int16_t>::min(),
                                                  std::numeric_limits<int16_t>::max()));
}

template <typename T>
void check_span(std::span<T> s, size_t expected, const char* key) {
  SG_CHECK(s.size() == expected, "ObservationWriter::bind: buffer ", key, " has ", s.size(),
           " values, expected ", expected);
}

template <typename T>
std::span<T> sub(std::span<T> s, int per_agent, int first, int count) {
  if (s.empty() && per_agent * count == 0) return s;
  return s.subspan(static_cast<size_t>(first) * per_agent, static_cast<size_t>(count) * per_agent);
}

bool is_ammunition_type(int type) {
  return type == static_cast<int>(ItemType::kWhetstone) ||
         type == static_cast<int>(ItemType::kArrow) || type == static_cast<int>(ItemType::kRunes);
}

// The level an item's use is checked against (nmmo's Observation._item_skill): the overall
// level (at least 1) for armour and consumables, the matching skill for weapons, tools and
// ammunition.
int use_level(const Entity& e, ItemType type) {
  auto skill = [&](Skill s) { return static_cast<int>(e.level[static_cast<int>(s)]); };
  switch (type) {
    case ItemType::kSpear:
    case ItemType::kWhetstone:
      return skill(Skill::kMelee);
    case ItemType::kBow:
    case ItemType::kArrow:
      return skill(Skill::kRange);
    case ItemType::kWand:
    case ItemType::kRunes:
      return skill(Skill::kMage);
    case ItemType::kRod:
      return skill(Skill::kFishing);
    case ItemType::kGloves:
      return skill(Skill::kHerbalism);
    case ItemType::kPickaxe:
      return skill(Skill::kProspecting);
    case ItemType::kAxe:
      return skill(Skill::kCarving);
    case ItemType::kChisel:
      return skill(Skill::kAlchemy);
    case ItemType::kNone:
      return 0;
    default:  // Hat, Top, Bottom, Ration, Potion
      return std::max(1, e.overall_level());
  }
}

void write_item_row(const Item& item, int16_t* out) {
  out[kItemId] = clamp16(item.id);
  out[kItemTypeId] = static_cast<int16_t>(item.type);
  out[kItemOwnerId] = clamp16(item.owner_id);
  out[kItemLevel] = item.level;
  out[kItemCapacity] = item.capacity;
  out[kItemQuantity] = item.quantity;
  for (int s = 0; s < kNumStyles; ++s) {
    out[kItemMeleeAttack + s] = item.attack[s];
    out[kItemMeleeDefense + s] = item.defense[s];
  }
  out[kItemHealthRestore] = item.health_restore;
  out[kItemResourceRestore] = item.resource_restore;
  out[kItemEquipped] = item.equipped ? 1 : 0;
  out[kItemListedPrice] = item.listed_price;
}

void write_entity_row(const Entity& e, int16_t* out) {
  out[kEntId] = clamp16(e.id);
  out[kEntNpcType] = static_cast<int16_t>(e.npc_type);
  out[kEntRow] = e.row;
  out[kEntCol] = e.col;
  out[kEntDamage] = e.damage;
  out[kEntTimeAlive] = clamp16(e.time_alive);
  out[kEntFreeze] = 0;  // no freezing attacks in 2.0 (A5.2)
  out[kEntItemLevel] = e.item_level;
  out[kEntAttackerId] = clamp16(e.attacker_id);
  out[kEntLatestCombatTick] = clamp16(e.latest_combat_tick);
  out[kEntMessage] = e.message;
  out[kEntGold] = clamp16(e.gold);
  out[kEntHealth] = e.health;
  out[kEntFood] = e.food;
  out[kEntWater] = e.water;
  for (int s = 0; s < kNumSkills; ++s) {
    out[kEntFirstSkill + 2 * s] = e.level[s];
    out[kEntFirstSkill + 2 * s + 1] = clamp16(e.exp[s]);
  }
}

}  // namespace

std::string_view action_arg_name(ActionArg arg) {
  static constexpr std::array<std::string_view, kNumActionArgs> names = {
      "Attack.Style",       "Attack.Target",      "Buy.MarketItem", "Destroy.InventoryItem",
      "Give.InventoryItem", "Give.Target",        "GiveGold.Price", "GiveGold.Target",
      "Move.Direction",     "Sell.InventoryItem", "Sell.Price",     "Use.InventoryItem"};
  return names[static_cast<int>(arg)];
}

ObsLayout::ObsLayout(const Config& config, int task_dim_)
    : tile_rows(config.vision_diameter() * config.vision_diameter()),
      entity_rows(config.player_n_obs),
      inventory_rows(config.item_inventory_capacity),
      market_rows(config.market_n_obs),
      task_dim(task_dim_) {
  SG_CHECK(task_dim >= 0, "ObsLayout: task_dim must be >= 0, got ", task_dim);
  // Object selections carry a trailing no-op index (PROVIDE_NOOP_ACTION_TARGET, A5.1).
  arg_size = {kNumStyles,         entity_rows + 1,    market_rows + 1,
              inventory_rows + 1, inventory_rows + 1, entity_rows + 1,
              config.price_n_obs, entity_rows + 1,    5,
              inventory_rows + 1, config.price_n_obs, inventory_rows + 1};
  mask_offset[0] = 0;
  for (int a = 0; a < kNumActionArgs; ++a) mask_offset[a + 1] = mask_offset[a] + arg_size[a];
}

ObsBuffers ObsBuffers::slice(const ObsLayout& l, int first, int count) const {
  SG_CHECK(first >= 0 && count >= 0 && first + count <= num_agents, "ObsBuffers::slice: agents [",
           first, ", ", first + count, ") outside a view of ", num_agents);
  ObsBuffers s;
  s.num_agents = count;
  s.current_tick = sub(current_tick, 1, first, count);
  s.agent_id = sub(agent_id, 1, first, count);
  s.tile = sub(tile, l.tile_size(), first, count);
  s.entity = sub(entity, l.entity_size(), first, count);
  s.inventory = sub(inventory, l.inventory_size(), first, count);
  s.market = sub(market, l.market_size(), first, count);
  s.task = sub(task, l.task_dim, first, count);
  s.action_mask = sub(action_mask, l.mask_size(), first, count);
  return s;
}

ObsStorage::ObsStorage(const ObsLayout& l, int n) : num_agents(n) {
  const size_t agents = static_cast<size_t>(n);
  current_tick.assign(agents, 0);
  agent_id.assign(agents, 0);
  tile.assign(agents * l.tile_size(), 0);
  entity.assign(agents * l.entity_size(), 0);
  inventory.assign(agents * l.inventory_size(), 0);
  market.assign(agents * l.market_size(), 0);
  task.assign(agents * l.task_dim, 0.0f);
  action_mask.assign(agents * l.mask_size(), 0);
}

ObsBuffers ObsStorage::view() {
  return {num_agents, current_tick, agent_id, tile, entity, inventory, market, task, action_mask};
}

ObservationWriter::ObservationWriter(const Config& config, int task_dim)
    : config_(config), layout_(config, task_dim), num_agents_(config.player_n) {
  config.validate();
  const size_t n = static_cast<size_t>(num_agents_);
  entity_ids_.assign(n * layout_.entity_rows, 0);
  inventory_ids_.assign(n * layout_.inventory_rows, 0);
  entity_count_.assign(n, 0);
  inventory_count_.assign(n, 0);
  market_count_.assign(n, 0);
  tile_filled_.assign(n, 0);
  market_rows_.assign(static_cast<size_t>(layout_.market_size()), 0);
  const int cell = config.vision_diameter();
  cells_per_side_ = (config.map_size() + cell - 1) / cell;
  cell_start_.assign(static_cast<size_t>(cells_per_side_) * cells_per_side_ + 1, 0);
}

void ObservationWriter::bind(const ObsBuffers& b) {
  SG_CHECK(b.num_agents == num_agents_, "ObservationWriter::bind: a view of ", b.num_agents,
           " agents, expected player_n = ", num_agents_);
  const size_t n = static_cast<size_t>(num_agents_);
  check_span(b.current_tick, n, "current_tick");
  check_span(b.agent_id, n, "agent_id");
  check_span(b.tile, n * layout_.tile_size(), "tile");
  check_span(b.entity, n * layout_.entity_size(), "entity");
  check_span(b.inventory, n * layout_.inventory_size(), "inventory");
  check_span(b.market, n * layout_.market_size(), "market");
  check_span(b.task, n * layout_.task_dim, "task");
  check_span(b.action_mask, n * layout_.mask_size(), "action_mask");
  buf_ = b;
  bound_ = true;
  std::fill(b.current_tick.begin(), b.current_tick.end(), 0);
  std::fill(b.agent_id.begin(), b.agent_id.end(), 0);
  std::fill(b.tile.begin(), b.tile.end(), int16_t{0});
  std::fill(b.entity.begin(), b.entity.end(), int16_t{0});
  std::fill(b.inventory.begin(), b.inventory.end(), int16_t{0});
  std::fill(b.market.begin(), b.market.end(), int16_t{0});
  std::fill(b.task.begin(), b.task.end(), 0.0f);
  std::fill(b.action_mask.begin(), b.action_mask.end(), int8_t{0});
  std::fill(entity_count_.begin(), entity_count_.end(), 0);
  std::fill(inventory_count_.begin(), inventory_count_.end(), 0);
  std::fill(market_count_.begin(), market_count_.end(), 0);
  std::fill(tile_filled_.begin(), tile_filled_.end(), 0);
}

void ObservationWriter::gather(const World& world) {
  candidates_.clear();
  auto add = [&](const Entity& e) {
    if (!e.alive) return;
    Candidate c;
    c.row = e.row;
    c.col = e.col;
    c.id = e.id;
    c.player = e.is_player();
    write_entity_row(e, c.values.data());
    candidates_.push_back(c);
  };
  for (const Entity& p : world.players) add(p);
  for (const Entity& npc : world.npcs) add(npc);

  // Counting sort of the candidates into cells (stable: candidate order within a cell).
  const int cell = config_.vision_diameter(), side = cells_per_side_;
  std::fill(cell_start_.begin(), cell_start_.end(), 0);
  cell_of_.resize(candidates_.size());
  for (size_t c = 0; c < candidates_.size(); ++c) {
    const int cr = std::clamp(candidates_[c].row / cell, 0, side - 1);
    const int cc = std::clamp(candidates_[c].col / cell, 0, side - 1);
    cell_of_[c] = cr * side + cc;
    ++cell_start_[cell_of_[c] + 1];
  }
  for (int k = 0; k < side * side; ++k) cell_start_[k + 1] += cell_start_[k];
  cell_items_.resize(candidates_.size());
  std::vector<int32_t>& fill = visible_;  // reused as the per-cell write cursor
  fill.assign(cell_start_.begin(), cell_start_.end() - 1);
  for (size_t c = 0; c < candidates_.size(); ++c) {
    cell_items_[fill[cell_of_[c]]++] = static_cast<int32_t>(c);
  }

  market_ids_.clear();
  market_owner_.clear();
  for (int32_t id : world.market) {
    if (static_cast<int>(market_ids_.size()) == layout_.market_rows) break;
    const Item& item = world.item(id);
    if (!item.alive || item.listed_price <= 0) continue;
    write_item_row(item, market_rows_.data() + market_ids_.size() * kItemCols);
    market_ids_.push_back(id);
    market_owner_.push_back(item.owner_id);
  }
}

void ObservationWriter::write(const World& world, std::span<const float> task) {
  SG_CHECK(bound_, "ObservationWriter::write: bind() the buffers first");
  SG_CHECK(static_cast<int>(world.players.size()) == num_agents_,
           "ObservationWriter::write: the world has ", world.players.size(),
           " players, expected player_n = ", num_agents_);
  SG_CHECK(world.size() == config_.map_size() &&
               world.tiles.size() == static_cast<size_t>(world.size()) * world.size(),
           "ObservationWriter::write: the world's map is not ", config_.map_size(), " x ",
           config_.map_size());
  const size_t task_dim = static_cast<size_t>(layout_.task_dim);
  SG_CHECK(task.size() == static_cast<size_t>(num_agents_) * task_dim,
           "ObservationWriter::write: expected ", num_agents_, " x ", task_dim,
           " task values, got ", task.size());
  gather(world);
  for (int i = 0; i < num_agents_; ++i) {
    const Entity& self = world.players[i];
    buf_.current_tick[i] = world.tick;
    buf_.agent_id[i] = i + 1;
    float* task_out = buf_.task.data() + i * task_dim;
    if (self.alive) {
      if (task_dim) std::memcpy(task_out, task.data() + i * task_dim, task_dim * sizeof(float));
      write_alive(world, self, i);
    } else {
      // nmmo's dummy observation carries the dummy (zero) task embedding.
      std::fill(task_out, task_out + task_dim, 0.0f);
      write_dead(i);
    }
  }
}

void ObservationWriter::write_alive(const World& world, const Entity& self, int i) {
  const ObsLayout& L = layout_;
  const int radius = config_.vision_radius;

  // Tile: the window row-major with absolute coordinates. nmmo's map border (16 Void tiles)
  // keeps the window on the map; should it leave the map, those tiles read as Void.
  int16_t* tile = buf_.tile.data() + static_cast<size_t>(i) * L.tile_size();
  const int size = world.size(), diameter = 2 * radius + 1, c0 = self.col - radius;
  const bool cols_inside = c0 >= 0 && c0 + diameter <= size;
  for (int dr = -radius; dr <= radius; ++dr) {
    const int r = self.row + dr;
    if (cols_inside && r >= 0 && r < size) {  // the usual case: a whole row of the map
      const Material* src = world.tiles.data() + static_cast<size_t>(r) * size + c0;
      for (int k = 0; k < diameter; ++k, tile += kTileCols) {
        tile[0] = static_cast<int16_t>(r);
        tile[1] = static_cast<int16_t>(c0 + k);
        tile[2] = static_cast<int16_t>(src[k]);
      }
      continue;
    }
    for (int k = 0; k < diameter; ++k, tile += kTileCols) {
      const int c = c0 + k;
      tile[0] = static_cast<int16_t>(r);
      tile[1] = static_cast<int16_t>(c);
      tile[2] = world.in_bounds(r, c) ? static_cast<int16_t>(world.material(r, c)) : 0;
    }
  }
  tile_filled_[i] = 1;

  // Entity: every candidate within Chebyshev distance vision_radius, self included, in the
  // candidates' order, at most entity_rows.
  // Only the cells the window touches are scanned; sorting restores the candidates' order.
  visible_.clear();
  const int cell = config_.vision_diameter(), side = cells_per_side_;
  const int cr0 = std::clamp((self.row - radius) / cell, 0, side - 1),
            cr1 = std::clamp((self.row + radius) / cell, 0, side - 1),
            cc0 = std::clamp((self.col - radius) / cell, 0, side - 1),
            cc1 = std::clamp((self.col + radius) / cell, 0, side - 1);
  for (int cr = cr0; cr <= cr1; ++cr) {
    for (int cc = cc0; cc <= cc1; ++cc) {
      const int k = cr * side + cc;
      for (int j = cell_start_[k]; j < cell_start_[k + 1]; ++j) {
        const Candidate& cand = candidates_[cell_items_[j]];
        if (chebyshev(cand.row, cand.col, self.row, self.col) <= radius) {
          visible_.push_back(cell_items_[j]);
        }
      }
    }
  }
  std::sort(visible_.begin(), visible_.end());
  if (static_cast<int>(visible_.size()) > L.entity_rows) visible_.resize(L.entity_rows);
  int16_t* ent = buf_.entity.data() + static_cast<size_t>(i) * L.entity_size();
  int32_t* ent_ids = entity_ids_.data() + static_cast<size_t>(i) * L.entity_rows;
  const int n_ent = static_cast<int>(visible_.size());
  for (int r = 0; r < n_ent; ++r) {
    const Candidate& cand = candidates_[visible_[r]];
    std::memcpy(ent + r * kEntityCols, cand.values.data(), sizeof(cand.values));
    ent_ids[r] = cand.id;
  }
  if (entity_count_[i] > n_ent) {
    std::fill(ent + n_ent * kEntityCols, ent + entity_count_[i] * kEntityCols, int16_t{0});
    std::fill(ent_ids + n_ent, ent_ids + entity_count_[i], 0);
  }
  entity_count_[i] = n_ent;

  // Inventory: own items in the order received.
  int16_t* inv = buf_.inventory.data() + static_cast<size_t>(i) * L.inventory_size();
  int32_t* inv_ids = inventory_ids_.data() + static_cast<size_t>(i) * L.inventory_rows;
  const int n_inv = std::min<int>(static_cast<int>(self.inventory.size()), L.inventory_rows);
  for (int r = 0; r < n_inv; ++r) {
    write_item_row(world.item(self.inventory[r]), inv + r * kItemCols);
    inv_ids[r] = self.inventory[r];
  }
  if (inventory_count_[i] > n_inv) {
    std::fill(inv + n_inv * kItemCols, inv + inventory_count_[i] * kItemCols, int16_t{0});
    std::fill(inv_ids + n_inv, inv_ids + inventory_count_[i], 0);
  }
  inventory_count_[i] = n_inv;

  // Market: the same listings for everyone.
  int16_t* market = buf_.market.data() + static_cast<size_t>(i) * L.market_size();
  const int n_market = static_cast<int>(market_ids_.size());
  if (n_market) std::memcpy(market, market_rows_.data(), n_market * kItemCols * sizeof(int16_t));
  if (market_count_[i] > n_market) {
    std::fill(market + n_market * kItemCols, market + market_count_[i] * kItemCols, int16_t{0});
  }
  market_count_[i] = n_market;

  write_masks(world, self, i);
}

void ObservationWriter::write_dead(int i) {
  const ObsLayout& L = layout_;
  if (tile_filled_[i]) {
    int16_t* tile = buf_.tile.data() + static_cast<size_t>(i) * L.tile_size();
    std::fill(tile, tile + L.tile_size(), int16_t{0});
    tile_filled_[i] = 0;
  }
  int16_t* ent = buf_.entity.data() + static_cast<size_t>(i) * L.entity_size();
  std::fill(ent, ent + entity_count_[i] * kEntityCols, int16_t{0});
  int32_t* ent_ids = entity_ids_.data() + static_cast<size_t>(i) * L.entity_rows;
  std::fill(ent_ids, ent_ids + entity_count_[i], 0);
  entity_count_[i] = 0;
  int16_t* inv = buf_.inventory.data() + static_cast<size_t>(i) * L.inventory_size();
  std::fill(inv, inv + inventory_count_[i] * kItemCols, int16_t{0});
  int32_t* inv_ids = inventory_ids_.data() + static_cast<size_t>(i) * L.inventory_rows;
  std::fill(inv_ids, inv_ids + inventory_count_[i], 0);
  inventory_count_[i] = 0;
  int16_t* market = buf_.market.data() + static_cast<size_t>(i) * L.market_size();
  std::fill(market, market + market_count_[i] * kItemCols, int16_t{0});
  market_count_[i] = 0;

  // Only the no-ops (nmmo's masks of a dummy observation): the trailing index of every object
  // selection, Stay, all styles and sell prices, and the first give-gold amount.
  int8_t* m = buf_.action_mask.data() + static_cast<size_t>(i) * L.mask_size();
  std::memset(m, 0, L.mask_size());
  auto noop = [&](ActionArg a) { m[L.offset(a) + L.size(a) - 1] = 1; };
  for (ActionArg a : {ActionArg::kAttackTarget, ActionArg::kBuyMarketItem, ActionArg::kDestroyItem,
                      ActionArg::kGiveItem, ActionArg::kGiveTarget, ActionArg::kGiveGoldTarget,
                      ActionArg::kMoveDirection, ActionArg::kSellItem, ActionArg::kUseItem}) {
    noop(a);
  }
  std::memset(m + L.offset(ActionArg::kAttackStyle), 1, L.size(ActionArg::kAttackStyle));
  std::memset(m + L.offset(ActionArg::kSellPrice), 1, L.size(ActionArg::kSellPrice));
  m[L.offset(ActionArg::kGiveGoldPrice)] = 1;
}

// The masks of nmmo 2.0's Observation._make_action_targets (A11).
void ObservationWriter::write_masks(const World& world, const Entity& self, int i) {
  const ObsLayout& L = layout_;
  int8_t* m = buf_.action_mask.data() + static_cast<size_t>(i) * L.mask_size();
  std::memset(m, 0, L.mask_size());
  auto arg = [&](ActionArg a) { return m + L.offset(a); };
  auto noop = [&](ActionArg a) { m[L.offset(a) + L.size(a) - 1] = 1; };

  // In combat (nmmo's Entity.in_combat, at the tick the observation is made).
  const bool in_combat = self.latest_combat_tick != 0 &&
                         world.tick - self.latest_combat_tick < config_.combat_status_duration;

  // Move: the target tile (own tile for Stay) is on the map and habitable.
  int8_t* move = arg(ActionArg::kMoveDirection);
  for (int d = 0; d < 5; ++d) {
    const int r = self.row + kDirRow[d], c = self.col + kDirCol[d];
    move[d] = world.in_bounds(r, c) && is_habitable(world.material(r, c)) ? 1 : 0;
  }

  // Attack: all styles; targets within reach, not self, no players while the agent itself is
  // under spawn immunity; the no-op only when nothing can be attacked.
  std::memset(arg(ActionArg::kAttackStyle), 1, L.size(ActionArg::kAttackStyle));
  const int n_ent = entity_count_[i];
  const bool immune = self.time_alive < config_.combat_spawn_immunity;
  int8_t* target = arg(ActionArg::kAttackTarget);
  bool any_target = false;
  for (int r = 0; r < n_ent; ++r) {
    const Candidate& cand = candidates_[visible_[r]];
    const bool ok = chebyshev(cand.row, cand.col, self.row, self.col) <= config_.combat_reach &&
                    cand.id != self.id && !(immune && cand.player);
    target[r] = ok ? 1 : 0;
    any_target |= ok;
  }
  if (!any_target) noop(ActionArg::kAttackTarget);

  // Item selections. Use: not listed and the level requirement met (equipped items toggle off).
  // Give and Sell: neither equipped nor listed. Destroy: not equipped. None in combat.
  for (ActionArg a :
       {ActionArg::kUseItem, ActionArg::kGiveItem, ActionArg::kSellItem, ActionArg::kDestroyItem,
        ActionArg::kGiveTarget, ActionArg::kGiveGoldTarget, ActionArg::kBuyMarketItem}) {
    noop(a);
  }
  const int n_inv = inventory_count_[i];
  if (!in_combat) {
    int8_t *use = arg(ActionArg::kUseItem), *give = arg(ActionArg::kGiveItem),
           *sell = arg(ActionArg::kSellItem), *destroy = arg(ActionArg::kDestroyItem);
    for (int r = 0; r < n_inv; ++r) {
      const Item& item = world.item(self.inventory[r]);
      const bool listed = item.listed_price > 0;
      use[r] = !listed && item.level <= use_level(self, item.type) ? 1 : 0;
      give[r] = sell[r] = !item.equipped && !listed ? 1 : 0;
      destroy[r] = !item.equipped ? 1 : 0;
    }
  }

  // Give / GiveGold targets: other players on the same tile; Give needs something in the
  // inventory, GiveGold some gold.
  const bool give_ok = !in_combat && n_inv > 0, gold_ok = !in_combat && self.gold > 0;
  if (give_ok || gold_ok) {
    int8_t *give_target = arg(ActionArg::kGiveTarget),
           *gold_target = arg(ActionArg::kGiveGoldTarget);
    for (int r = 0; r < n_ent; ++r) {
      const Candidate& cand = candidates_[visible_[r]];
      const bool ok =
          cand.row == self.row && cand.col == self.col && cand.player && cand.id != self.id;
      if (give_ok) give_target[r] = ok ? 1 : 0;
      if (gold_ok) gold_target[r] = ok ? 1 : 0;
    }
  }

  // GiveGold.Price: amount index + 1 up to the gold held; index 0 always set.
  int8_t* gold_price = arg(ActionArg::kGiveGoldPrice);
  gold_price[0] = 1;
  if (!in_combat && self.gold > 0) {
    std::memset(gold_price, 1, std::min<int>(self.gold, L.size(ActionArg::kGiveGoldPrice)));
  }
  std::memset(arg(ActionArg::kSellPrice), 1, L.size(ActionArg::kSellPrice));

  // Buy: others' listings the agent can afford; with a full inventory only listings that
  // would stack onto ammunition it holds.
  const int n_market = market_count_[i];
  if (!in_combat && n_market > 0) {
    int8_t* buy = arg(ActionArg::kBuyMarketItem);
    const bool full = n_inv >= config_.item_inventory_capacity;
    for (int r = 0; r < n_market; ++r) {
      const int16_t* row = market_rows_.data() + r * kItemCols;
      bool ok = market_owner_[r] != self.id && row[kItemListedPrice] <= self.gold;
      if (ok && full) {
        bool stacks = false;
        for (int k = 0; k < n_inv && !stacks; ++k) {
          const Item& own = world.item(self.inventory[k]);
          stacks = is_ammunition_type(static_cast<int>(own.type)) &&
                   static_cast<int>(own.type) == row[kItemTypeId] && own.level == row[kItemLevel];
        }
        ok = stacks;
      }
      buy[r] = ok ? 1 : 0;
    }
  }
}

std::span<const int32_t> ObservationWriter::entity_ids(int agent) const {
  SG_CHECK(agent >= 0 && agent < num_agents_, "ObservationWriter::entity_ids: agent ", agent,
           " outside [0, ", num_agents_, ")");
  return {entity_ids_.data() + static_cast<size_t>(agent) * layout_.entity_rows,
          static_cast<size_t>(entity_count_[agent])};
}

std::span<const int32_t> ObservationWriter::inventory_ids(int agent) const {
  SG_CHECK(agent >= 0 && agent < num_agents_, "ObservationWriter::inventory_ids: agent ", agent,
           " outside [0, ", num_agents_, ")");
  return {inventory_ids_.data() + static_cast<size_t>(agent) * layout_.inventory_rows,
          static_cast<size_t>(inventory_count_[agent])};
}

AgentAction ObservationWriter::decode_agent(int agent, std::span<const int32_t> args) const {
  SG_CHECK(agent >= 0 && agent < num_agents_, "ObservationWriter::decode: agent ", agent,
           " outside [0, ", num_agents_, ")");
  SG_CHECK(args.size() == kNumActionArgs, "ObservationWriter::decode: agent ", agent, " has ",
           args.size(), " action values, expected ", kNumActionArgs);
  for (int a = 0; a < kNumActionArgs; ++a) {
    SG_CHECK(args[a] >= 0 && args[a] < layout_.arg_size[a], "ObservationWriter::decode: agent ",
             agent, " (id ", agent + 1, "): ", action_arg_name(static_cast<ActionArg>(a)), " = ",
             args[a], " is outside [0, ", layout_.arg_size[a], ")");
  }
  auto v = [&](ActionArg a) { return args[static_cast<int>(a)]; };
  const std::span<const int32_t> ents = entity_ids(agent), inv = inventory_ids(agent);
  const int n_market = market_count_[agent];
  // A row past the filled ones (the trailing no-op included) resolves to 0: no such action.
  auto entity_at = [&](int r) { return r < static_cast<int>(ents.size()) ? ents[r] : 0; };
  auto item_at = [&](int r) { return r < static_cast<int>(inv.size()) ? inv[r] : 0; };

  AgentAction out;
  out.move = static_cast<int8_t>(v(ActionArg::kMoveDirection));
  if (const int32_t t = entity_at(v(ActionArg::kAttackTarget))) {
    out.attack_style = static_cast<int8_t>(v(ActionArg::kAttackStyle));
    out.attack_target = t;
  }
  out.use_item = item_at(v(ActionArg::kUseItem));
  out.destroy_item = item_at(v(ActionArg::kDestroyItem));
  const int32_t give_item = item_at(v(ActionArg::kGiveItem)),
                give_target = entity_at(v(ActionArg::kGiveTarget));
  if (give_item && give_target) {
    out.give_item = give_item;
    out.give_target = give_target;
  }
  if (const int32_t t = entity_at(v(ActionArg::kGiveGoldTarget))) {
    out.give_gold_amount = v(ActionArg::kGiveGoldPrice) + 1;  // Price is Discrete_1 (A5.1)
    out.give_gold_target = t;
  }
  if (const int32_t item = item_at(v(ActionArg::kSellItem))) {
    out.sell_item = item;
    out.sell_price = v(ActionArg::kSellPrice) + 1;
  }
  const int buy = v(ActionArg::kBuyMarketItem);
  if (buy < n_market) out.buy_item = market_ids_[buy];
  return out;
}

void ObservationWriter::decode(std::span<const int32_t> flat, std::span<AgentAction> out) const {
  SG_CHECK(flat.size() == static_cast<size_t>(num_agents_) * kNumActionArgs,
           "ObservationWriter::decode: expected ", num_agents_, " x ", kNumActionArgs,
           " action values, got ", flat.size());
  SG_CHECK(out.size() == static_cast<size_t>(num_agents_), "ObservationWriter::decode: expected ",
           num_agents_, " output actions, got ", out.size());
  for (int i = 0; i < num_agents_; ++i) {
    out[i] = decode_agent(i, flat.subspan(static_cast<size_t>(i) * kNumActionArgs, kNumActionArgs));
  }
}

}  // namespace stackgrad::nmmo
