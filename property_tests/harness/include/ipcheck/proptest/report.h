// ipcheck/proptest/report.h — showing a failing case to a person.
//
//   ipcheck::proptest::Timeline          a history flattened to printable rows
//   ipcheck::proptest::make_timeline()   from a history and the checker's result
//   ipcheck::proptest::format_table()    a table with one column per process (Lincheck style)
//   ipcheck::proptest::write_report()    <name>.json and <name>.html (an SVG timeline: one
//                                        lane per process, one bar per operation) into
//                                        output_directory()
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ipcheck/proptest/history.h"
#include "ipcheck/proptest/linearizability.h"

namespace ipcheck::proptest {

struct TimelineRow {
  ProcessId process = 0;
  std::string operation;  // "acquire()"; "<killed>" for a death
  std::string result;     // "ok"; empty when indeterminate
  std::int64_t invoked_ns = 0;
  std::int64_t completed_ns = kNever;
  bool crash = false;
  bool indeterminate = false;
  int order = -1;      // its place in the longest linearizable prefix (-1: not in it)
  bool stuck = false;  // the operation that could not be placed
};

struct Timeline {
  std::string title;              // the test's name
  std::string verdict;            // "not linearizable", "deadlock: …"
  std::string summary;            // "ipcheck-proptest: <test> mode=… schedule=… fault=…"
  std::string reproduce;          // the command that replays the case
  std::vector<TimelineRow> rows;  // in history order
};

template <class Op, class Result>
Timeline make_timeline(const std::vector<Operation<Op, Result>>& history,
                       const CheckResult* result) {
  Timeline timeline;
  for (const auto& entry : history) {
    TimelineRow row;
    row.process = entry.process;
    row.crash = entry.kind == Operation<Op, Result>::Kind::kCrash;
    row.operation = row.crash ? "<killed>" : to_string(entry.op);
    if (entry.result) row.result = to_string(*entry.result);
    row.indeterminate = entry.indeterminate();
    row.invoked_ns = entry.invoked_ns;
    row.completed_ns = entry.completed_ns;
    timeline.rows.push_back(row);
  }
  if (result) {
    for (std::size_t i = 0; i < result->linearization.size(); ++i) {
      timeline.rows[result->linearization[i]].order = static_cast<int>(i);
    }
    if (result->stuck) timeline.rows[*result->stuck].stuck = true;
  }
  return timeline;
}

// One column per process, one line per operation in invocation order; times in µs from the
// first invocation; "#k" is the operation's place in the longest linearizable prefix.
std::string format_table(const Timeline& timeline);

// The directory reports go to: $IPCHECK_PROPTEST_OUT, else the build's proptest-out/.
std::string output_directory();

// Writes <dir>/<name>.json and <dir>/<name>.html (name sanitized for a file name) and
// returns the HTML file's path ("" if it could not be written).
std::string write_report(const Timeline& timeline);

}  // namespace ipcheck::proptest
