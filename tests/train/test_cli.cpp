// The common command line on synthetic argv vectors: values, defaults, --help text, errors that
// name the flag, and run_main's error reporting.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "engine/runtime/parallel.h"
#include "train/cli.h"

namespace {

using namespace stackgrad;
using namespace stackgrad::train;
using ::testing::HasSubstr;
using ::testing::Not;

struct GcnCli {
  Cli cli{"gcn", "Two-layer GCN on a Planetoid split"};
  CommonFlags& common = cli.common({.dataset = "cora", .datasets = {"cora", "citeseer", "csbm"}});
  int epochs = 200;
  GcnCli() { cli.app().add_option("--epochs", epochs, "training epochs")->check(positive()); }
};

TEST(Cli, ParsesCommonAndOwnFlags) {
  GcnCli g;
  const auto r =
      g.cli.try_parse({"--dataset", "citeseer", "--seed", "7", "--repeats=3", "--out", "m.jsonl",
                       "--epochs", "50", "--data-dir", "/data", "--device", "cpu"});
  EXPECT_FALSE(r.exit) << r.err;
  EXPECT_EQ(g.common.dataset, "citeseer");
  EXPECT_EQ(g.common.seed, 7u);
  EXPECT_EQ(g.common.repeats, 3);
  EXPECT_EQ(g.common.out, "m.jsonl");
  EXPECT_EQ(g.common.data_dir, "/data");
  EXPECT_TRUE(g.common.device.is_cpu());
  EXPECT_EQ(g.epochs, 50);
}

TEST(Cli, DefaultsWhenNotGiven) {
  GcnCli g;
  EXPECT_FALSE(g.cli.try_parse({}).exit);
  EXPECT_EQ(g.common.dataset, "cora");
  EXPECT_EQ(g.common.seed, 0u);
  EXPECT_EQ(g.common.repeats, 1);
  EXPECT_EQ(g.common.out, "");
  EXPECT_FALSE(g.common.quiet);
  EXPECT_EQ(g.epochs, 200);
}

TEST(Cli, HelpListsEveryFlagAndExitsZero) {
  GcnCli g;
  const auto r = g.cli.try_parse({"--help"});
  EXPECT_TRUE(r.exit);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.err, "");
  for (const char* flag : {"--dataset", "--data-dir", "--device", "--seed", "--repeats", "--out",
                           "--threads", "--quiet", "--epochs", "--help"})
    EXPECT_THAT(r.out, HasSubstr(flag));
  EXPECT_THAT(r.out, HasSubstr("Two-layer GCN on a Planetoid split"));
  EXPECT_THAT(r.out, HasSubstr("200"));  // defaults are shown
}

TEST(Cli, ErrorsNameTheFlagAndExitTwo) {
  {
    GcnCli g;
    const auto r = g.cli.try_parse({"--epochs", "-3"});
    EXPECT_TRUE(r.exit);
    EXPECT_EQ(r.code, 2);
    EXPECT_THAT(r.err, HasSubstr("gcn: error: "));
    EXPECT_THAT(r.err, HasSubstr("--epochs: must be a positive number, got '-3' (see --help)"));
  }
  {
    GcnCli g;
    const auto r = g.cli.try_parse({"--epochs", "many"});
    EXPECT_EQ(r.code, 2);
    EXPECT_THAT(r.err, HasSubstr("--epochs: must be a positive number, got 'many'"));
  }
  {
    GcnCli g;
    const auto r = g.cli.try_parse({"--epoch", "5"});
    EXPECT_EQ(r.code, 2);
    EXPECT_THAT(r.err, HasSubstr("--epoch"));
  }
  {
    GcnCli g;
    const auto r = g.cli.try_parse({"--dataset", "mnist"});
    EXPECT_EQ(r.code, 2);
    EXPECT_THAT(r.err, HasSubstr("--dataset: mnist not in {cora,citeseer,csbm}"));
  }
  {
    GcnCli g;
    const auto r = g.cli.try_parse({"--device", "tpu"});
    EXPECT_EQ(r.code, 2);
    EXPECT_THAT(r.err, HasSubstr("--device: Device: cannot parse 'tpu'"));
  }
}

TEST(Cli, CudaDeviceNeedsACudaBuild) {
  GcnCli g;
  const auto r = g.cli.try_parse({"--device", "cuda"});
#ifdef STACKGRAD_WITH_CUDA
  EXPECT_FALSE(r.exit) << r.err;
  EXPECT_TRUE(g.common.device.is_cuda());
#else
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--device"));
  EXPECT_THAT(r.err, HasSubstr("this build has no CUDA backend"));
#endif
}

TEST(Cli, ThreadsAndQuietTakeEffect) {
  const int before = num_threads();
  const char* env = std::getenv("STACKGRAD_PROGRESS");
  const std::string saved = env ? env : "";
  GcnCli g;
  EXPECT_FALSE(g.cli.try_parse({"--threads", "1", "-q"}).exit);
  EXPECT_EQ(num_threads(), 1);
  EXPECT_TRUE(g.common.quiet);
  EXPECT_STREQ(std::getenv("STACKGRAD_PROGRESS"), "0");
  set_num_threads(before);
  if (env)
    ::setenv("STACKGRAD_PROGRESS", saved.c_str(), 1);
  else
    ::unsetenv("STACKGRAD_PROGRESS");
}

TEST(Cli, RunMainReportsErrors) {
  std::ostringstream err;
  EXPECT_EQ(run_main(
                "gcn", [] { return 0; }, err),
            0);
  EXPECT_EQ(run_main(
                "gcn", [] { return 3; }, err),
            3);
  EXPECT_EQ(err.str(), "");
  EXPECT_EQ(
      run_main(
          "gcn", []() -> int { fail("Linear: expected input [..., 784], got [32, 100]"); }, err),
      1);
  EXPECT_EQ(err.str(), "gcn: error: Linear: expected input [..., 784], got [32, 100]\n");
}

TEST(Cli, WithoutCommonFlags) {
  Cli cli("plot_jsonl", "Plots JSON lines");
  std::string out = "curve.svg";
  cli.app().add_option("--out", out, "output");
  EXPECT_FALSE(cli.try_parse({"--out", "x.svg"}).exit);
  EXPECT_EQ(out, "x.svg");
  EXPECT_THAT(cli.try_parse({"--help"}).out, Not(HasSubstr("--dataset")));
}

}  // namespace
