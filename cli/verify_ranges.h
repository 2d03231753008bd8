// SPDX-License-Identifier: Apache-2.0
// `idforge verify --ranges`: checks a fleet's audit logs for two claimed ranges of
// one node that overlap, for reservations of two holders of a node that overlap
// (each holder's cut at its release), and for claimed ranges outside their
// holder's reservations.
#ifndef IDFORGE_CLI_VERIFY_RANGES_H_
#define IDFORGE_CLI_VERIFY_RANGES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace idforge::cli {

// An input: a file, or standard input ("-", or no file at all).
struct Input {
  std::string name;  // As reports show it.
  int fd = -1;
  std::uint64_t count = 0;  // IDs read, or records with --ranges.
  bool rereadable = false;  // A regular file, read again to locate repeats.
};

// Reads audit-log records (one JSON object per line, as `idforge serve
// --audit-log` writes them) from every input, reports per ID space and node the
// ranges, holders, IDs issued and any finding, and returns the exit code: 0 none,
// 1 a finding, a read error, no record read, or lines left unread (unless
// `skip_unparsed`).
int run_verify_ranges(std::vector<Input>& inputs, bool json, bool skip_unparsed);

}  // namespace idforge::cli

#endif  // IDFORGE_CLI_VERIFY_RANGES_H_
