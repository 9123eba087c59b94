// Episodes, replays and snapshots: a recorded episode replays to the same state hash, replay
// files with errors are named, the episode runner's bookkeeping, and the PNG picture's pixels.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "envs/nmmo/evaluation.h"
#include "envs/nmmo/realm.h"
#include "envs/nmmo/render.h"
#include "envs/nmmo/replay.h"
#include "support/error_of.h"

#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

namespace nm = stackgrad::nmmo;
namespace fs = std::filesystem;
using stackgrad::testing::error_of;
using ::testing::HasSubstr;

namespace {

fs::path temp_file(const std::string& name) {
  return fs::temp_directory_path() / (name + "_" + std::to_string(getpid()));
}

nm::Config small_config() {
  nm::Config c = nm::Config::small();
  c.horizon = 96;
  c.map_n = 2;
  return c;
}

TEST(NmmoEpisode, MixedTeamsCyclePoliciesAndLifetimesAreCounted) {
  const nm::Config c = small_config();
  const auto kinds = nm::policies_for("mixed", c);
  ASSERT_EQ(kinds.size(), 64u);
  EXPECT_EQ(kinds[0], nm::PolicyKind::kForager);
  EXPECT_EQ(kinds[7], nm::PolicyKind::kForager);
  EXPECT_EQ(kinds[8], nm::PolicyKind::kFighter);
  EXPECT_EQ(kinds[16], nm::PolicyKind::kTrader);
  EXPECT_EQ(kinds[24], nm::PolicyKind::kRandom);
  EXPECT_EQ(kinds[32], nm::PolicyKind::kForager);
  EXPECT_EQ(nm::policies_for("fighter", c),
            std::vector<nm::PolicyKind>(64, nm::PolicyKind::kFighter));
  EXPECT_THAT(error_of([&] { nm::policies_for("sleepy", c); }), HasSubstr("sleepy"));
  EXPECT_THAT(error_of([&] { nm::Episode(c, 1, 3, kinds); }), HasSubstr("map id"));

  // Idle players starve: all dead long before 96 ticks, lifetimes = death ticks.
  nm::Episode ep(c, 1, 1, nm::policies_for("idle", c));
  while (!ep.done()) ep.step();
  EXPECT_EQ(ep.alive_players(), 0);
  EXPECT_LT(ep.world().tick, c.horizon);
  for (int id = 1; id <= c.player_n; ++id) {
    EXPECT_GT(ep.lifetime(id), 20) << id;  // food lasts 20 ticks, then 10 health a tick
    EXPECT_LE(ep.lifetime(id), ep.world().tick) << id;
  }
}

TEST(NmmoReplay, RecordedEpisodeReplaysToTheSameState) {
  const nm::Config c = small_config();
  const fs::path path = temp_file("nmmo_replay_test.nmmo");
  nm::Episode ep(c, 7, 2, nm::policies_for("mixed", c));
  {
    nm::ReplayWriter out(path.string(), c, ep.seed(), 2);
    while (!ep.done()) out.write_tick(ep.step());
    out.close();
  }
  const nm::Replay r = nm::read_replay(path.string());
  EXPECT_EQ(r.seed, 7u);
  EXPECT_EQ(r.map_id, 2);
  EXPECT_EQ(r.config.horizon, c.horizon);
  EXPECT_EQ(r.config.npc_n, c.npc_n);
  EXPECT_EQ(static_cast<int>(r.ticks.size()), ep.world().tick);
  const nm::World replayed = nm::play_replay(r);
  EXPECT_EQ(replayed.tick, ep.world().tick);
  EXPECT_EQ(nm::state_hash(replayed), nm::state_hash(ep.world()));
  EXPECT_EQ(replayed.events.size(), ep.world().events.size());

  // The hash sees a change of one player's position, and a replay with a lost tick differs.
  nm::World changed = replayed;
  changed.players[3].row += 1;
  EXPECT_NE(nm::state_hash(changed), nm::state_hash(replayed));
  nm::Replay shorter = r;
  shorter.ticks.pop_back();
  EXPECT_NE(nm::state_hash(nm::play_replay(shorter)), nm::state_hash(ep.world()));
  fs::remove(path);
}

TEST(NmmoReplay, BadFilesAreNamedErrors) {
  EXPECT_THAT(error_of([] { nm::read_replay("/nonexistent/ep.nmmo"); }),
              HasSubstr("cannot open '/nonexistent/ep.nmmo'"));
  const fs::path path = temp_file("nmmo_bad_replay.nmmo");
  auto write = [&](const std::string& text) { std::ofstream(path) << text; };
  write("{\"format\":\"flatland\"}\n");
  EXPECT_THAT(error_of([&] { nm::read_replay(path.string()); }), HasSubstr("not an nmmo replay"));
  write(
      "{\"format\":\"nmmo-replay\",\"version\":1,\"seed\":\"1\",\"map_id\":1,"
      "\"config\":{\"horizon\":128,\"player_m\":4}}\n");
  EXPECT_THAT(error_of([&] { nm::read_replay(path.string()); }),
              HasSubstr("unknown configuration field 'player_m'"));
  write(
      "{\"format\":\"nmmo-replay\",\"version\":1,\"seed\":\"1\",\"map_id\":1,"
      "\"config\":{\"horizon\":12.5}}\n");
  EXPECT_THAT(error_of([&] { nm::read_replay(path.string()); }), HasSubstr("config.horizon"));
  // A good header followed by a tick naming a player that does not exist.
  const nm::Config c = small_config();
  { nm::ReplayWriter out(path.string(), c, 1, 1); }
  std::ofstream(path, std::ios::app) << "[[65,0,-1,0,0,0,0,0,0,0,0,0,0,-1]]\n";
  EXPECT_THAT(error_of([&] { nm::read_replay(path.string()); }), HasSubstr("line 2: player id 65"));
  EXPECT_THAT(error_of([] { nm::ReplayWriter("/nonexistent/dir/x.nmmo", nm::Config{}, 1, 1); }),
              HasSubstr("cannot write"));
  fs::remove(path);
}

TEST(NmmoRender, PixelsShowMaterialsPlayersNpcsAndTracks) {
  nm::World w;
  w.config = nm::Config::small();
  w.config.player_n = 2;
  const int n = w.size();
  w.tiles.assign(static_cast<size_t>(n) * n, nm::Material::kGrass);
  w.set_material(20, 20, nm::Material::kWater);
  nm::Entity p;
  p.id = 2;
  p.row = 30, p.col = 30;
  w.players.resize(2);
  w.players[0].id = 1, w.players[0].alive = false;
  w.players[1] = p;
  nm::Entity npc;
  npc.id = -1;
  npc.npc_type = nm::NpcType::kHostile;
  npc.row = 40, npc.col = 25;
  w.npcs.push_back(npc);

  nm::Tracks tracks(8);
  tracks.record(w);
  w.players[1].col = 34;  // moved 4 east: a track line from (30, 30) to (30, 34)
  tracks.record(w);
  EXPECT_EQ(tracks.of(2).size(), 2u);
  EXPECT_TRUE(tracks.of(1).empty());

  const int px = 6, first = w.config.map_border - 1;
  const nm::Image img = nm::render(w, {.tile_px = px}, &tracks);
  EXPECT_EQ(img.width, (w.config.map_center + 3) * px);
  EXPECT_EQ(img.height, img.width);
  auto centre = [&](int r, int c) {
    return img.pixel((c - first) * px + px / 2, (r - first) * px + px / 2);
  };
  EXPECT_EQ(centre(20, 20), nm::material_color(nm::Material::kWater));
  EXPECT_EQ(centre(21, 21), nm::material_color(nm::Material::kGrass));
  EXPECT_EQ(centre(30, 34), nm::team_color(0));                     // player 2 is in team 0
  EXPECT_EQ(centre(40, 25), nm::npc_color(nm::NpcType::kHostile));  // NPC square
  const auto track = centre(30, 32);                                // on the line
  EXPECT_NE(track, nm::material_color(nm::Material::kGrass));
  EXPECT_NE(track, nm::team_color(0));

  const fs::path path = temp_file("nmmo_render_test.png");
  stackgrad::envs::write_png(img, path.string());
  int w_px = 0, h_px = 0, channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &w_px, &h_px, &channels, 3);
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(std::vector<uint8_t>(data, data + w_px * h_px * 3), img.rgb);
  stbi_image_free(data);
  fs::remove(path);
  EXPECT_THAT(error_of([&] { nm::render(w, {.tile_px = 0}); }), HasSubstr("tile_px"));
}

}  // namespace
