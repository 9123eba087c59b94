#include "train/cli.h"

#include <cstdlib>
#include <iostream>

#include "engine/core/error.h"
#include "engine/runtime/parallel.h"

namespace stackgrad::train {

namespace {

// Whether this build can run on `device` (a CUDA device needs the CUDA backend compiled in).
std::string device_problem(const std::string& text) {
  Device d;
  try {
    d = Device::parse(text);
  } catch (const Error& e) {
    return e.what();
  }
#ifndef STACKGRAD_WITH_CUDA
  if (d.is_cuda())
    return "'" + text + "': this build has no CUDA backend (configure with -DSTACKGRAD_CUDA=ON " +
           "on a machine with nvcc)";
#endif
  return "";
}

CLI::Validator number_check(const char* what, const char* tag, bool (*ok)(double)) {
  return CLI::Validator(
      [what, ok](const std::string& text) -> std::string {
        double v = 0;
        if (CLI::detail::lexical_cast(text, v) && ok(v)) return "";
        return std::string("must be ") + what + ", got '" + text + "'";
      },
      tag);
}

}  // namespace

CLI::Validator positive() {
  return number_check("a positive number", "POSITIVE", [](double v) { return v > 0; });
}

CLI::Validator non_negative() {
  return number_check("a number >= 0", "NONNEGATIVE", [](double v) { return v >= 0; });
}

Cli::Cli(std::string program, std::string description)
    : program_(std::move(program)), app_(std::move(description), program_) {
  // Every option's help line shows its default, including the program's own options.
  app_.option_defaults()->always_capture_default();
  app_.get_formatter()->column_width(34);
}

CommonFlags& Cli::common(const CommonDefaults& defaults) {
  SG_CHECK(!common_, "Cli: common() called twice");
  common_ = std::make_unique<CommonFlags>();
  CommonFlags& c = *common_;
  c.dataset = defaults.dataset;
  c.seed = defaults.seed;
  c.repeats = defaults.repeats;
  c.out = defaults.out;
  device_text_ = defaults.device;

  auto* dataset = app_.add_option("--dataset", c.dataset, "dataset to run on");
  if (!defaults.datasets.empty()) dataset->check(CLI::IsMember(defaults.datasets));
  app_.add_option("--data-dir", c.data_dir,
                  "where datasets live (default: $STACKGRAD_DATA, ../shared/datasets, "
                  "/usr/share/datasets)");
  app_.add_option("--device", device_text_, "cpu, cuda or cuda:N")
      ->check(CLI::Validator(device_problem, "DEVICE", "device"));
  app_.add_option("--seed", c.seed, "random seed (run r uses seed + r)");
  app_.add_option("--repeats", c.repeats, "independent runs (mean and std reported)")
      ->check(positive());
  app_.add_option("--out", c.out, "write metrics as JSON lines to this file (empty: none)");
  app_.add_option("--threads", c.threads, "CPU threads (0: STACKGRAD_NUM_THREADS or all cores)")
      ->check(non_negative());
  app_.add_flag("--quiet,-q", c.quiet, "no progress lines");
  return c;
}

ParseOutcome Cli::try_parse(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {program_.c_str()};
  for (const std::string& a : args) argv.push_back(a.c_str());
  ParseOutcome outcome;
  try {
    app_.parse(static_cast<int>(argv.size()), argv.data());
    apply_common();
  } catch (const CLI::CallForHelp&) {
    outcome = {true, 0, app_.help(), ""};
  } catch (const CLI::CallForAllHelp&) {
    outcome = {true, 0, app_.help("", CLI::AppFormatMode::All), ""};
  } catch (const CLI::ParseError& e) {
    outcome = {true, 2, "", program_ + ": error: " + e.what() + " (see --help)\n"};
  }
  return outcome;
}

void Cli::parse(int argc, const char* const* argv) {
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  const ParseOutcome outcome = try_parse(args);
  if (!outcome.exit) return;
  std::cout << outcome.out << std::flush;
  std::cerr << outcome.err << std::flush;
  std::exit(outcome.code);
}

void Cli::apply_common() {
  if (!common_) return;
  common_->device = Device::parse(device_text_);
  if (common_->threads > 0) set_num_threads(common_->threads);
  // Progress lines read this when they are created (train/progress.h).
  if (common_->quiet) ::setenv("STACKGRAD_PROGRESS", "0", 1);
}

int Cli::run_main(const std::function<int()>& body) const {
  return train::run_main(program_, body);
}

int run_main(const std::string& program, const std::function<int()>& body) {
  return run_main(program, body, std::cerr);
}

int run_main(const std::string& program, const std::function<int()>& body, std::ostream& err) {
  try {
    return body();
  } catch (const Error& e) {
    err << program << ": error: " << e.what() << std::endl;
  } catch (const std::exception& e) {
    err << program << ": error: " << e.what() << std::endl;
  }
  return 1;
}

}  // namespace stackgrad::train
