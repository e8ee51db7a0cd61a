// Process resource limits the agent adjusts for itself at start.
#pragma once

#include <string>

namespace podstat {

// Raises the soft RLIMIT_NOFILE to the hard limit: the default soft limit (1024) is a relic of
// select(), which podstat never uses, and a node with many containers must not run the agent out
// of descriptors (each open file, HTTP connection and sock_diag dump takes one). Returns a line for
// the log saying what the limits are (or why they could not be raised); never fails the start.
std::string RaiseOpenFileLimit();

}  // namespace podstat
