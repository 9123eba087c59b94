// Items, inventory, equipment, gifts and the market (spec A8, A9). Functions that carry out an
// action return false, changing nothing, when nmmo would refuse it (in combat, not owned,
// requirement not met, no space, ...).
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
// attributes clamped to Config::item_attribute_max). Returns its id.
int32_t create_item(World& world, ItemType type, int level, int quantity = 1);
EquipSlot equip_slot(ItemType type);
bool is_ammunition(ItemType type);
bool is_consumable(ItemType type);
// The skill whose level gates using (equipping, eating) the item; nullopt-like -1 for the
// overall level (armour, consumables).
int requirement_skill(ItemType type);

int free_slots(const World& world, const Entity& entity);
// Whether the entity could take the item: a free slot, or an ammunition stack of the same type
// and level already in its inventory.
bool can_receive(const World& world, const Entity& entity, const Item& item);
// Moves an ownerless item into the entity's inventory (merging ammunition stacks; the merged
// item is destroyed). Returns false and leaves the item alone when there is no room.
bool receive_item(World& world, Entity& entity, int32_t item_id);
// Takes the item out of its owner's inventory: unequips and unlists it; the item survives.
void remove_from_owner(World& world, int32_t item_id);
// Removes the item from its owner (if any) and marks it dead.
void destroy_item(World& world, int32_t item_id);

// Sums over equipped items (A5.3), the entity's item_level (sum of equipped levels), and the
// ammunition used by an attack of this style (one unit consumed; the stack dies at zero).
int equipment_attack(const World& world, const Entity& entity, Style style);
int equipment_defense(const World& world, const Entity& entity, Style style);
void update_item_level(const World& world, Entity& entity);
void consume_ammunition(World& world, Entity& entity, Style style);

bool in_combat(const World& world, const Entity& entity);

// The item actions (A5.1, A8, A9); each logs its event.
bool use_item(World& world, Entity& entity, int32_t item_id);
bool destroy_action(World& world, Entity& entity, int32_t item_id);
bool give_item(World& world, Entity& giver, Entity& receiver, int32_t item_id);
bool give_gold(World& world, Entity& giver, Entity& receiver, int amount);
bool sell_item(World& world, Entity& seller, int32_t item_id, int price);
bool buy_item(World& world, Entity& buyer, int32_t item_id);
// Expires listings older than Config::exchange_listing_duration (A9).
void market_step(World& world);

// A dead player's belongings (A5.3): to a player killer its gold (EARN_GOLD) and its items in
// random order (LOOT_ITEM for each that fits, the rest destroyed); to an NPC killer the gold,
// the items destroyed; with no killer everything is destroyed.
void transfer_loot(World& world, Entity& victim, Entity* killer);

}  // namespace stackgrad::nmmo
