// Rendering (PNG size, rail pixels differ from empty ones, trains drawn) and the flatland
// executable's command line (flag errors, a level run, a snapshot directory).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "envs/flatland/level_io.h"
#include "envs/flatland/render.h"
#include "support/run_program.h"

#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

namespace fl = stackgrad::flatland;
namespace fs = std::filesystem;

namespace {

const std::string kLevel =
    std::string(STACKGRAD_FLATLAND_FIXTURES) + "/round2/Test_0_Level_0.json.gz";

TEST(FlatlandRender, PngHasGridSizeAndRailPixelsDifferFromEmptyOnes) {
  fl::RailEnv env(fl::load_level_file(kLevel).level);
  env.reset(1);
  const int px = 8;
  const fl::Image img = fl::render(env, {.cell_px = px});
  EXPECT_EQ(img.width, env.grid().width() * px);
  EXPECT_EQ(img.height, env.grid().height() * px);
  // Centre pixels of a straight rail cell and of an empty cell.
  int rail_r = -1, rail_c = -1, empty_r = -1, empty_c = -1;
  for (int r = 0; r < env.grid().height(); ++r) {
    for (int c = 0; c < env.grid().width(); ++c) {
      if (env.grid().at(r, c) == 0 && empty_r < 0) empty_r = r, empty_c = c;
      if (env.grid().at(r, c) == 0x8020 /* straight N-S */ && rail_r < 0) rail_r = r, rail_c = c;
      if (env.grid().at(r, c) == fl::rotate_cell(0x8020, 1) && rail_r < 0) rail_r = r, rail_c = c;
    }
  }
  ASSERT_GE(rail_r, 0);
  ASSERT_GE(empty_r, 0);
  const auto rail = img.pixel(rail_c * px + px / 2, rail_r * px + px / 2);
  const auto empty = img.pixel(empty_c * px + px / 2, empty_r * px + px / 2);
  EXPECT_NE(rail, empty);

  const fs::path path = fs::temp_directory_path() / "flatland_render_test.png";
  fl::write_png(img, path.string());
  int w = 0, h = 0, channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &w, &h, &channels, 3);
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(w, img.width);
  EXPECT_EQ(h, img.height);
  EXPECT_EQ(std::vector<uint8_t>(data, data + w * h * 3), img.rgb);  // lossless round trip
  stbi_image_free(data);
  fs::remove(path);
}

TEST(FlatlandRender, TrainOnTheMapIsDrawnInItsColour) {
  fl::RailEnv env(fl::load_level_file(kLevel).level);
  env.reset(1);
  std::vector<int> forward(env.num_agents(), 2);
  while (!env.done() && !env.agents()[0].position.on_map()) env.step(forward);
  ASSERT_TRUE(env.agents()[0].position.on_map());
  const int px = 16;
  const fl::Image img = fl::render(env, {.cell_px = px});
  const fl::GridPos p = env.agents()[0].position;
  // A pixel of the disc away from the centre line and the direction mark.
  EXPECT_EQ(img.pixel(p.col * px + 4, p.row * px + 4), fl::agent_color(0));
}

TEST(FlatlandRender, UnwritablePathIsAnError) {
  fl::RailEnv env(fl::load_level_file(kLevel).level);
  EXPECT_THROW(fl::write_png(fl::render(env), "/nonexistent-dir/x.png"), std::exception);
}

int run_flatland(const std::string& args, std::string& output) {
  return stackgrad::testing::run_program(STACKGRAD_FLATLAND_EXE, args, output);
}

TEST(FlatlandExecutable, FlagErrors) {
  std::string out;
  EXPECT_NE(run_flatland("--policy teleport --level " + kLevel, out), 0);
  EXPECT_NE(out.find("--policy"), std::string::npos) << out;
  EXPECT_NE(run_flatland("--malfunctions maybe --level " + kLevel, out), 0);
  EXPECT_NE(out.find("--malfunctions"), std::string::npos) << out;
  EXPECT_EQ(run_flatland("--policy planner", out), 1);  // no level source
  EXPECT_NE(out.find("exactly one of --level"), std::string::npos) << out;
  EXPECT_EQ(run_flatland("--level /nonexistent.json.gz", out), 1);
  EXPECT_NE(out.find("nonexistent"), std::string::npos) << out;
  EXPECT_EQ(run_flatland("--levels /nonexistent-dir", out), 1);
  EXPECT_NE(out.find("not a directory"), std::string::npos) << out;
  EXPECT_NE(run_flatland("--episodes 0 --level " + kLevel, out), 0);
  EXPECT_EQ(run_flatland("--help", out), 0);
  EXPECT_NE(out.find("--render-every"), std::string::npos) << out;
}

TEST(FlatlandExecutable, RunsALevelAndWritesSnapshotsAndMetrics) {
  const fs::path dir = fs::temp_directory_path() / "flatland_cli_frames";
  fs::remove_all(dir);
  const fs::path metrics = fs::temp_directory_path() / "flatland_cli_metrics.jsonl";
  std::string out;
  ASSERT_EQ(run_flatland("--level " + kLevel + " --policy planner --render " + dir.string() +
                             " --render-every 50 --cell-px 4 --out " + metrics.string(),
                         out),
            0)
      << out;
  EXPECT_NE(out.find("7/7"), std::string::npos) << out;  // the planner gets every train home
  int frames = 0;
  for (const auto& e : fs::directory_iterator(dir)) frames += e.path().extension() == ".png";
  EXPECT_GE(frames, 3);  // steps 0, 50, 100, ...
  std::ifstream in(metrics);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_NE(line.find("\"normalized_score\":"), std::string::npos) << line;
  fs::remove_all(dir);
  fs::remove(metrics);
}

}  // namespace
