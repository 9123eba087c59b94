// Items, inventory, equipment, gifts and the market (spec A8, A9). Functions that carry out an
// action return false, changing nothing, when nmmo would refuse it (in combat, not owned,
// requirement not met, no space, ...); ids that name no live item are refused the same way.
//
//   int32_t id = create_item(world, ItemType::kSpear, /*level=*/2);
//   receive_item(world, player, id);          // into the inventory (stacks ammunition)
//   use_item(world, player, id);              // equips it (EQUIP_ITEM event)
//   int bonus = equipment_attack(world, player, Style::kMelee);   // 45
#pragma once

#include <cstdint>

#include "envs/nmmo/world.h"

namespace stackgrad::nmmo {

// A new item in world.items, owned by nobody, with the stats of its type and level (A8,
// attributes clamped to Config::item_attribute_max). Returns its id. Throws on a type that is
// not an item, a level outside [0, 99] (nmmo's datastore range) or a quantity < 1.
int32_t create_item(World& world, ItemType type, int level, int quantity = 1);
EquipSlot equip_slot(ItemType type);
bool is_ammunition(ItemType type);
bool is_consumable(ItemType type);
// The skill whose level gates using (equipping, eating) the item; -1 for the overall level
// (armour, consumables).
int requirement_skill(ItemType type);
// The level the requirement compares with the item's level (A8).
int requirement_level(const Entity& entity, ItemType type);
// The id in an equipment slot (0 when empty or for kNone).
int32_t equipped_id(const Entity& entity, EquipSlot slot);

// Players hold Config::item_inventory_capacity items; NPCs none (nmmo gives them capacity 0).
int free_slots(const World& world, const Entity& entity);
// Whether the entity could take the item: a free slot, or an ammunition stack of the same type
// and level already in its inventory (equipped or listed stacks count, as in nmmo).
bool can_receive(const World& world, const Entity& entity, const Item& item);
// Moves an ownerless item into the entity's inventory (merging ammunition stacks; the merged
// item is destroyed). Returns false and leaves the item alone when there is no room.
bool receive_item(World& world, Entity& entity, int32_t item_id);
// Takes the item out of its owner's inventory: unequips and unlists it; the item survives.
void remove_from_owner(World& world, int32_t item_id);
// Removes the item from its owner (if any) and marks it dead.
void destroy_item(World& world, int32_t item_id);

// Sums over equipped items (A5.3; NPCs: their scalar npc_offense / npc_defense for every
// style), the entity's item_level (sum of equipped levels, clamped to 5 * npc_level_max as
// nmmo's datastore does; NPCs: npc_item_level), and the ammunition used by an attack of this
// style (one unit consumed when its attack for the style is > 0; the stack dies at zero).
// nmmo recomputes item_level once a tick in the entity update (A4 step 3), not on equip, so
// use_item leaves it for the realm to refresh.
int equipment_attack(const World& world, const Entity& entity, Style style);
int equipment_defense(const World& world, const Entity& entity, Style style);
void update_item_level(const World& world, Entity& entity);
void consume_ammunition(World& world, Entity& entity, Style style);

// In combat from the attack (which sets latest_combat_tick = tick + 1) while
// tick - latest_combat_tick < Config::combat_status_duration: the attack's tick and the next 3.
bool in_combat(const World& world, const Entity& entity);

// The item actions (A5.1, A8, A9); each logs its event with nmmo's columns: EQUIP_ITEM,
// CONSUME_ITEM, LOOT_ITEM (type = item type id, level, number = quantity), LIST_ITEM and
// BUY_ITEM (the same plus gold = price), EARN_GOLD (gold = amount), GIVE_ITEM, GIVE_GOLD and
// DESTROY_ITEM (no columns: nmmo logs them for counting only).
bool use_item(World& world, Entity& entity, int32_t item_id);
bool destroy_action(World& world, Entity& entity, int32_t item_id);
bool give_item(World& world, Entity& giver, Entity& receiver, int32_t item_id);
bool give_gold(World& world, Entity& giver, Entity& receiver, int amount);
bool sell_item(World& world, Entity& seller, int32_t item_id, int price);
bool buy_item(World& world, Entity& buyer, int32_t item_id);
// Expires listings with tick - listing_tick > Config::exchange_listing_duration (A9).
void market_step(World& world);

// A dead entity's belongings (A5.3). Its listings end. To a player killer its gold (EARN_GOLD)
// and its items in random order (world.rng): LOOT_ITEM for each that takes a slot; an
// ammunition stack merged into one the killer holds is added silently (nmmo's receive reports
// it as not received); items that do not fit are destroyed. To an NPC killer the gold (nmmo
// logs EARN_GOLD for the NPC too), the items destroyed; with no killer everything is destroyed
// and the gold stays.
void transfer_loot(World& world, Entity& victim, Entity* killer);
// A dropped item of a killed NPC (A3.2, created by the caller): into a player killer's
// inventory when it has a free slot (LOOT_ITEM), otherwise destroyed. Returns whether it was
// received.
bool take_drop(World& world, Entity& killer, int32_t item_id);
// A harvested item (A7, created by the caller): into the inventory when it has a free slot
// (merging ammunition), with HARVEST_ITEM logged even for a merge; otherwise destroyed. nmmo
// asks for a free slot even when the drop could merge into a stack.
bool take_harvest(World& world, Entity& harvester, int32_t item_id);
// Appends an item event row with nmmo's columns: type = item type id, level, number =
// quantity, gold = price (for the codes that carry one).
void log_item_event(World& world, const Entity& entity, EventCode code, const Item& item,
                    int32_t price = 0);

}  // namespace stackgrad::nmmo
