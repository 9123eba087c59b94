// run_program(exe, args, output): runs a built executable through the shell with stdin from
// /dev/null; returns its exit status (-1 if it did not exit normally) and puts its stdout and
// stderr in `output`. The log file is named by process id: ctest runs the tests of one file as
// concurrent processes, which would otherwise overwrite each other's log.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace stackgrad::testing {

inline int run_program(const std::string& exe, const std::string& args, std::string& output) {
  namespace fs = std::filesystem;
  const fs::path log =
      fs::temp_directory_path() / ("stackgrad_run_" + fs::path(exe).filename().string() + "_" +
                                   std::to_string(getpid()) + ".log");
  const std::string cmd = exe + " " + args + " > " + log.string() + " 2>&1 < /dev/null";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  output = ss.str();
  fs::remove(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace stackgrad::testing
