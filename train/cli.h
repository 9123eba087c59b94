// The command line shared by every executable, on CLI11: the common flags (--dataset,
// --data-dir, --device, --seed, --repeats, --out, --threads, --quiet), uniform --help and error
// handling, and a main() wrapper that turns stackgrad::Error into "<program>: error: ...".
//
//   train::Cli cli("gcn", "Two-layer GCN (Kipf & Welling) on a Planetoid split");
//   auto& common = cli.common({.dataset = "cora", .datasets = {"cora", "citeseer", "pubmed"}});
//   cli.app().add_option("--epochs", epochs, "training epochs")->check(train::positive());
//   cli.parse(argc, argv);                       // --help: prints, exits 0; bad flag: exits 2
//   return cli.run_main([&] { ...; return 0; });  // Error -> message on stderr, exit 1
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/device.h"

namespace stackgrad::train {

// The values of the common flags after parse().
struct CommonFlags {
  std::string dataset;
  std::string data_dir;  // empty: the default search (datasets/data_root.h)
  Device device = Device::cpu();
  uint64_t seed = 0;
  int repeats = 1;
  std::string out;  // metrics JSON-lines path; empty: none
  int threads = 0;  // 0: the engine's default (STACKGRAD_NUM_THREADS or all cores)
  bool quiet = false;
};

// Defaults of the common flags for one executable.
struct CommonDefaults {
  std::string dataset = "";                // default --dataset
  std::vector<std::string> datasets = {};  // the accepted --dataset values (empty: any)
  uint64_t seed = 0;
  int repeats = 1;
  std::string out = "";  // default --out
  std::string device = "cpu";
};

// What parsing decided, for callers (and tests) that do not want the process to exit.
struct ParseOutcome {
  bool exit = false;  // true: the program should stop now with `code` (--help, or an error)
  int code = 0;       // 0 after --help, 2 after a command-line error
  std::string out;    // text for stdout (the help)
  std::string err;    // text for stderr (the error, naming the flag)
};

class Cli {
 public:
  Cli(std::string program, std::string description);
  Cli(const Cli&) = delete;
  Cli& operator=(const Cli&) = delete;

  // Adds the common flags (once) and returns the values they will be parsed into.
  CommonFlags& common(const CommonDefaults& defaults = {});
  // The CLI11 application, for the program's own options.
  CLI::App& app() { return app_; }
  const std::string& program() const { return program_; }

  // Parses argv; on --help prints the help and exits 0, on an error prints it and exits 2.
  // After a successful parse, --threads sets the engine's thread count and --quiet turns
  // progress lines off.
  void parse(int argc, const char* const* argv);
  // The same without exiting or printing; `args` excludes the program name.
  ParseOutcome try_parse(const std::vector<std::string>& args);

  // Runs `body` and returns its exit code; a stackgrad::Error (or any std::exception) is
  // printed as "<program>: error: <message>" and gives exit code 1.
  int run_main(const std::function<int()>& body) const;

 private:
  void apply_common();
  std::string program_;
  CLI::App app_;
  std::unique_ptr<CommonFlags> common_;
  std::string device_text_;
};

// Validators for numeric options whose errors read "--epochs: must be a positive number, got
// '-3'" (CLI11 2.1's PositiveNumber prints its range as a 300-digit double instead).
CLI::Validator positive();
CLI::Validator non_negative();

// run_main for code without a Cli; messages go to `err` (std::cerr by default).
int run_main(const std::string& program, const std::function<int()>& body);
int run_main(const std::string& program, const std::function<int()>& body, std::ostream& err);

}  // namespace stackgrad::train
