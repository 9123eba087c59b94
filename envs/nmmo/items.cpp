#include "items.h"

#include <algorithm>
#include <limits>

#include "engine/core/error.h"

namespace stackgrad::nmmo {

namespace {

bool valid_type(ItemType type) {
  const int t = static_cast<int>(type);
  return t >= kFirstItemType && t <= kLastItemType;
}

bool is_armour(ItemType t) {
  return t == ItemType::kHat || t == ItemType::kTop || t == ItemType::kBottom;
}
bool is_weapon(ItemType t) {
  return t == ItemType::kSpear || t == ItemType::kBow || t == ItemType::kWand;
}
bool is_tool(ItemType t) { return t >= ItemType::kRod && t <= ItemType::kChisel; }

// The combat style an attack item (weapon or ammunition) adds to.
int attack_style(ItemType t) {
  switch (t) {
    case ItemType::kSpear:
    case ItemType::kWhetstone:
      return static_cast<int>(Style::kMelee);
    case ItemType::kBow:
    case ItemType::kArrow:
      return static_cast<int>(Style::kRange);
    default:
      return static_cast<int>(Style::kMage);
  }
}

int16_t clamp_attribute(const Config& c, int value) {
  return static_cast<int16_t>(std::clamp(value, 0, c.item_attribute_max));
}

int32_t& slot_ref(Equipment& e, EquipSlot slot) {
  switch (slot) {
    case EquipSlot::kHat:
      return e.hat;
    case EquipSlot::kTop:
      return e.top;
    case EquipSlot::kBottom:
      return e.bottom;
    case EquipSlot::kHeld:
      return e.held;
    case EquipSlot::kAmmunition:
      return e.ammunition;
    case EquipSlot::kNone:
      break;
  }
  fail("slot_ref: consumables have no equipment slot");
}

// The live item with this id, or null: action arguments come from agents and may be stale.
Item* live_item(World& world, int32_t id) {
  if (id <= 0 || id > static_cast<int32_t>(world.items.size())) return nullptr;
  Item& item = world.item(id);
  return item.alive ? &item : nullptr;
}

Item& checked_item(World& world, int32_t id, const char* op) {
  SG_CHECK(id > 0 && id <= static_cast<int32_t>(world.items.size()), op, ": no item with id ", id,
           " (", world.items.size(), " items)");
  Item& item = world.item(id);
  SG_CHECK(item.alive, op, ": item ", id, " was destroyed");
  return item;
}

// An item the entity may act on: alive and in its inventory.
Item* owned_item(World& world, const Entity& entity, int32_t id) {
  Item* item = live_item(world, id);
  return item != nullptr && item->owner_id == entity.id ? item : nullptr;
}

// The ammunition stack with this signature (type, level) in the inventory, or 0.
int32_t stack_with_signature(const World& world, const Entity& entity, const Item& item) {
  for (int32_t id : entity.inventory) {
    const Item& held = world.item(id);
    if (held.id != item.id && held.type == item.type && held.level == item.level) return id;
  }
  return 0;
}

void unlist(World& world, Item& item) {
  if (item.listed_price == 0) return;
  item.listed_price = 0;
  std::erase(world.market, item.id);
}

// GIVE_ITEM, GIVE_GOLD and DESTROY_ITEM rows only count: nmmo fills no column but the code.
void log_count_event(World& world, const Entity& entity, EventCode code) {
  Event e;
  e.ent_id = entity.id;
  e.tick = world.tick + 1;
  e.event = code;
  world.log(e);
}

void log_earn_gold(World& world, const Entity& entity, int32_t amount) {
  if (amount <= 0) return;  // nmmo records only positive earnings
  Event e;
  e.ent_id = entity.id;
  e.tick = world.tick + 1;
  e.event = EventCode::kEarnGold;
  e.gold = amount;
  world.log(e);
}

bool same_tile(const Entity& a, const Entity& b) { return a.row == b.row && a.col == b.col; }

// Gifts go to another live player on the giver's tile (A5.1).
bool valid_gift_target(const Entity& giver, const Entity& receiver) {
  return giver.alive && giver.is_player() && receiver.alive && receiver.is_player() &&
         receiver.id != giver.id && same_tile(giver, receiver);
}

}  // namespace

void log_item_event(World& world, const Entity& entity, EventCode code, const Item& item,
                    int32_t price) {
  Event e;
  e.ent_id = entity.id;
  e.tick = world.tick + 1;
  e.event = code;
  e.type = static_cast<int16_t>(item.type);
  e.level = item.level;
  e.number = item.quantity;
  e.gold = price;
  world.log(e);
}

int32_t create_item(World& world, ItemType type, int level, int quantity) {
  SG_CHECK(valid_type(type), "create_item: type ", static_cast<int>(type),
           " is not an item type (2..17)");
  SG_CHECK(level >= 0 && level <= 99, "create_item: level must be in [0, 99], got ", level);
  SG_CHECK(quantity >= 1 && quantity <= std::numeric_limits<int16_t>::max(),
           "create_item: quantity must be in [1, 32767], got ", quantity);
  SG_CHECK(quantity == 1 || is_ammunition(type), "create_item: only ammunition stacks, got ",
           quantity, " x ", item_type_name(type));
  const Config& c = world.config;
  Item item;
  item.id = static_cast<int32_t>(world.items.size()) + 1;
  item.type = type;
  item.level = static_cast<int16_t>(level);
  item.quantity = static_cast<int16_t>(quantity);
  if (is_armour(type)) {
    item.defense.fill(clamp_attribute(c, c.armour_level_defense * level));
  } else if (is_weapon(type)) {
    item.attack[attack_style(type)] =
        clamp_attribute(c, c.weapon_base_attack + c.weapon_level_attack * level);
  } else if (is_tool(type)) {
    item.defense.fill(clamp_attribute(c, c.tool_defense));
  } else if (is_ammunition(type)) {
    item.attack[attack_style(type)] =
        clamp_attribute(c, c.ammo_base_attack + c.ammo_level_attack * level);
  } else if (type == ItemType::kRation) {
    item.resource_restore =
        clamp_attribute(c, c.consumable_base_restore + c.consumable_level_restore * level);
  } else {  // Potion
    item.health_restore =
        clamp_attribute(c, c.consumable_base_restore + c.consumable_level_restore * level);
  }
  world.items.push_back(item);
  return item.id;
}

EquipSlot equip_slot(ItemType type) {
  if (type == ItemType::kHat) return EquipSlot::kHat;
  if (type == ItemType::kTop) return EquipSlot::kTop;
  if (type == ItemType::kBottom) return EquipSlot::kBottom;
  if (is_weapon(type) || is_tool(type)) return EquipSlot::kHeld;  // one weapon OR one tool
  if (is_ammunition(type)) return EquipSlot::kAmmunition;
  return EquipSlot::kNone;
}

bool is_ammunition(ItemType type) {
  return type == ItemType::kWhetstone || type == ItemType::kArrow || type == ItemType::kRunes;
}

bool is_consumable(ItemType type) { return type == ItemType::kRation || type == ItemType::kPotion; }

int requirement_skill(ItemType type) {
  if (is_weapon(type) || is_ammunition(type)) return attack_style(type);  // Melee/Range/Mage
  if (is_tool(type)) {
    // Rod..Chisel gate on Fishing..Alchemy, in the same order.
    return static_cast<int>(Skill::kFishing) + static_cast<int>(type) -
           static_cast<int>(ItemType::kRod);
  }
  return -1;
}

int requirement_level(const Entity& entity, ItemType type) {
  const int skill = requirement_skill(type);
  return skill < 0 ? entity.overall_level() : entity.level[skill];
}

int32_t equipped_id(const Entity& entity, EquipSlot slot) {
  if (slot == EquipSlot::kNone) return 0;
  Equipment copy = entity.equipment;
  return slot_ref(copy, slot);
}

int free_slots(const World& world, const Entity& entity) {
  if (!entity.is_player()) return 0;
  return world.config.item_inventory_capacity - static_cast<int>(entity.inventory.size());
}

bool can_receive(const World& world, const Entity& entity, const Item& item) {
  if (free_slots(world, entity) > 0) return true;
  return is_ammunition(item.type) && stack_with_signature(world, entity, item) != 0;
}

bool receive_item(World& world, Entity& entity, int32_t item_id) {
  Item& item = checked_item(world, item_id, "receive_item");
  SG_CHECK(item.owner_id == 0, "receive_item: item ", item_id, " still belongs to entity ",
           item.owner_id);
  SG_CHECK(!item.equipped && item.listed_price == 0, "receive_item: item ", item_id,
           " is equipped or listed");
  if (is_ammunition(item.type)) {
    if (const int32_t stack_id = stack_with_signature(world, entity, item); stack_id != 0) {
      Item& stack = world.item(stack_id);
      stack.quantity = static_cast<int16_t>(
          std::min<int>(stack.quantity + item.quantity, std::numeric_limits<int16_t>::max()));
      item.alive = false;  // merged: the stack costs no slot
      return true;
    }
  }
  if (free_slots(world, entity) <= 0) return false;
  item.owner_id = entity.id;
  entity.inventory.push_back(item_id);
  return true;
}

void remove_from_owner(World& world, int32_t item_id) {
  Item& item = checked_item(world, item_id, "remove_from_owner");
  if (item.owner_id == 0) return;
  Entity* owner = world.entity(item.owner_id);
  SG_CHECK(owner != nullptr, "remove_from_owner: owner ", item.owner_id, " of item ", item_id,
           " does not exist");
  if (item.equipped) {
    int32_t& slot = slot_ref(owner->equipment, equip_slot(item.type));
    if (slot == item_id) slot = 0;
    item.equipped = false;
  }
  unlist(world, item);
  std::erase(owner->inventory, item_id);
  item.owner_id = 0;
}

void destroy_item(World& world, int32_t item_id) {
  remove_from_owner(world, item_id);
  world.item(item_id).alive = false;
}

int equipment_attack(const World& world, const Entity& entity, Style style) {
  if (entity.is_npc()) return entity.npc_offense;
  const Equipment& e = entity.equipment;
  int total = 0;
  for (int32_t id : {e.hat, e.top, e.bottom, e.held, e.ammunition}) {
    if (id != 0) total += world.item(id).attack[static_cast<int>(style)];
  }
  return total;
}

int equipment_defense(const World& world, const Entity& entity, Style style) {
  if (entity.is_npc()) return entity.npc_defense;
  const Equipment& e = entity.equipment;
  int total = 0;
  for (int32_t id : {e.hat, e.top, e.bottom, e.held, e.ammunition}) {
    if (id != 0) total += world.item(id).defense[static_cast<int>(style)];
  }
  return total;
}

void update_item_level(const World& world, Entity& entity) {
  if (entity.is_npc()) {
    entity.item_level = entity.npc_item_level;
    return;
  }
  const Equipment& e = entity.equipment;
  int total = 0;
  for (int32_t id : {e.hat, e.top, e.bottom, e.held, e.ammunition}) {
    if (id != 0) total += world.item(id).level;
  }
  // nmmo's entity table bounds item_level by 5 * NPC_LEVEL_MAX.
  entity.item_level = static_cast<int16_t>(std::min(total, 5 * world.config.npc_level_max));
}

void consume_ammunition(World& world, Entity& entity, Style style) {
  if (!entity.is_player() || entity.equipment.ammunition == 0) return;
  Item& ammo = world.item(entity.equipment.ammunition);
  if (ammo.attack[static_cast<int>(style)] <= 0) return;  // e.g. arrows on a melee hit
  if (--ammo.quantity <= 0) destroy_item(world, ammo.id);
}

bool in_combat(const World& world, const Entity& entity) {
  // 0 means "never fought"; combat stamps tick + 1, so it is never 0 after a fight.
  return entity.latest_combat_tick != 0 &&
         world.tick - entity.latest_combat_tick < world.config.combat_status_duration;
}

bool use_item(World& world, Entity& entity, int32_t item_id) {
  Item* item = owned_item(world, entity, item_id);
  if (item == nullptr || !entity.alive || !entity.is_player()) return false;
  if (in_combat(world, entity) || item->listed_price > 0) return false;
  if (item->level > requirement_level(entity, item->type)) return false;

  if (is_consumable(item->type)) {
    // nmmo logs before applying, so the row carries the item as it was.
    log_item_event(world, entity, EventCode::kConsumeItem, *item);
    const Config& c = world.config;
    if (item->type == ItemType::kRation) {
      entity.food =
          static_cast<int16_t>(std::min(entity.food + item->resource_restore, c.resource_base));
      entity.water =
          static_cast<int16_t>(std::min(entity.water + item->resource_restore, c.resource_base));
    } else {
      entity.health = static_cast<int16_t>(
          std::min(entity.health + item->health_restore, c.player_base_health));
    }
    destroy_item(world, item_id);
    return true;
  }

  int32_t& slot = slot_ref(entity.equipment, equip_slot(item->type));
  if (item->equipped) {  // use toggles: a second use takes it off, without an event
    item->equipped = false;
    slot = 0;
    return true;
  }
  if (slot != 0) world.item(slot).equipped = false;  // the slot is emptied first
  slot = item_id;
  item->equipped = true;
  log_item_event(world, entity, EventCode::kEquipItem, *item);
  return true;
}

bool destroy_action(World& world, Entity& entity, int32_t item_id) {
  Item* item = owned_item(world, entity, item_id);
  if (item == nullptr || !entity.alive || !entity.is_player()) return false;
  if (item->equipped || in_combat(world, entity)) return false;
  destroy_item(world, item_id);  // a listed item may be destroyed; it leaves the market
  log_count_event(world, entity, EventCode::kDestroyItem);
  return true;
}

bool give_item(World& world, Entity& giver, Entity& receiver, int32_t item_id) {
  Item* item = owned_item(world, giver, item_id);
  if (item == nullptr || !valid_gift_target(giver, receiver)) return false;
  if (item->equipped || item->listed_price > 0 || in_combat(world, giver)) return false;
  if (!can_receive(world, receiver, *item)) return false;
  remove_from_owner(world, item_id);
  receive_item(world, receiver, item_id);
  log_count_event(world, giver, EventCode::kGiveItem);
  return true;
}

bool give_gold(World& world, Entity& giver, Entity& receiver, int amount) {
  if (amount <= 0 || !valid_gift_target(giver, receiver)) return false;
  if (in_combat(world, giver) || amount > giver.gold) return false;
  giver.gold -= amount;
  receiver.gold += amount;
  log_count_event(world, giver, EventCode::kGiveGold);
  return true;
}

bool sell_item(World& world, Entity& seller, int32_t item_id, int price) {
  Item* item = owned_item(world, seller, item_id);
  if (item == nullptr || !seller.alive || !seller.is_player()) return false;
  if (in_combat(world, seller) || item->equipped || item->listed_price > 0) return false;
  if (price <= 0 || price > std::numeric_limits<int16_t>::max()) return false;
  item->listed_price = static_cast<int16_t>(price);
  item->listing_tick = world.tick;
  world.market.push_back(item_id);
  log_item_event(world, seller, EventCode::kListItem, *item, price);
  return true;
}

bool buy_item(World& world, Entity& buyer, int32_t item_id) {
  Item* item = live_item(world, item_id);
  if (item == nullptr || item->owner_id == 0 || !buyer.alive || !buyer.is_player()) return false;
  // A stale market row: the listing expired or someone bought it earlier this tick.
  if (item->listed_price <= 0) return false;
  if (buyer.gold < item->listed_price || buyer.id == item->owner_id) return false;
  if (in_combat(world, buyer) || !can_receive(world, buyer, *item)) return false;
  Entity* seller = world.entity(item->owner_id);
  SG_CHECK(seller != nullptr, "buy_item: seller ", item->owner_id, " of item ", item_id,
           " does not exist");
  const int32_t price = item->listed_price;
  const Item bought = *item;  // the row describes the listed stack, even if it merges away
  remove_from_owner(world, item_id);
  receive_item(world, buyer, item_id);
  buyer.gold -= price;
  seller->gold += price;
  log_item_event(world, buyer, EventCode::kBuyItem, bought, price);
  log_earn_gold(world, *seller, price);
  return true;
}

void market_step(World& world) {
  const int duration = world.config.exchange_listing_duration;
  std::erase_if(world.market, [&](int32_t id) {
    Item& item = world.item(id);
    if (world.tick - item.listing_tick <= duration) return false;
    item.listed_price = 0;
    return true;
  });
}

void transfer_loot(World& world, Entity& victim, Entity* killer) {
  // The dead keep nothing on the market, whoever gets the items.
  for (int32_t id : victim.inventory) unlist(world, world.item(id));

  if (killer == nullptr || !killer->is_player()) {
    const std::vector<int32_t> items = victim.inventory;
    for (int32_t id : items) destroy_item(world, id);
  }
  if (killer == nullptr) return;

  if (victim.gold > 0) {
    killer->gold += victim.gold;
    log_earn_gold(world, *killer, victim.gold);
    victim.gold = 0;
  }
  if (!killer->is_player()) return;

  std::vector<int32_t> items = victim.inventory;
  // Fisher-Yates over the env RNG: the order decides what fits when the killer is nearly full.
  for (size_t i = items.size(); i > 1; --i) {
    const auto j = static_cast<size_t>(world.rng.randint(0, static_cast<int64_t>(i)));
    std::swap(items[i - 1], items[j]);
  }
  for (int32_t id : items) {
    remove_from_owner(world, id);
    const Item looted = world.item(id);
    if (!receive_item(world, *killer, id)) {
      destroy_item(world, id);
    } else if (world.item(id).alive) {  // took a slot (a merged stack is not logged)
      log_item_event(world, *killer, EventCode::kLootItem, looted);
    }
  }
}

bool take_drop(World& world, Entity& killer, int32_t item_id) {
  const Item dropped = checked_item(world, item_id, "take_drop");
  // nmmo asks for a free slot even for ammunition that could merge.
  if (!killer.is_player() || free_slots(world, killer) <= 0) {
    destroy_item(world, item_id);
    return false;
  }
  receive_item(world, killer, item_id);
  if (world.item(item_id).alive) log_item_event(world, killer, EventCode::kLootItem, dropped);
  return true;
}

bool take_harvest(World& world, Entity& harvester, int32_t item_id) {
  const Item harvested = checked_item(world, item_id, "take_harvest");
  if (!harvester.is_player() || free_slots(world, harvester) <= 0) {
    destroy_item(world, item_id);
    return false;
  }
  receive_item(world, harvester, item_id);
  log_item_event(world, harvester, EventCode::kHarvestItem, harvested);
  return true;
}

}  // namespace stackgrad::nmmo
