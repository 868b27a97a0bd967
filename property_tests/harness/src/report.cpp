// Reports of failing cases: a text table, JSON, and an HTML page with an SVG timeline.
#include "ipcheck/proptest/report.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ipcheck::proptest {
namespace {

std::int64_t origin(const Timeline& timeline) {
  std::int64_t first = kNever;
  for (const auto& row : timeline.rows) first = std::min(first, row.invoked_ns);
  return first == kNever ? 0 : first;
}

std::string cell(const TimelineRow& row, std::int64_t t0) {
  std::ostringstream out;
  if (row.order >= 0) out << '#' << row.order << ' ';
  out << row.operation;
  if (!row.crash) out << " -> " << (row.indeterminate ? "?" : row.result);
  out << " [" << (row.invoked_ns - t0) / 1000 << "us";
  if (!row.crash) {
    out << "..";
    if (row.completed_ns == kNever) {
      out << "never";
    } else {
      out << (row.completed_ns - t0) / 1000 << "us";
    }
  }
  out << ']';
  if (row.stuck) out << " <- cannot be placed";
  return out.str();
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string file_name(const std::string& title) {
  std::string name;
  for (char c : title) name += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return name.empty() ? "case" : name;
}

void make_directories(const std::string& path) {
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
  }
}

std::string to_json(const Timeline& timeline) {
  std::ostringstream out;
  out << "{\n  \"test\": " << json_string(timeline.title)
      << ",\n  \"verdict\": " << json_string(timeline.verdict)
      << ",\n  \"run\": " << json_string(timeline.summary)
      << ",\n  \"reproduce\": " << json_string(timeline.reproduce) << ",\n  \"operations\": [";
  for (std::size_t i = 0; i < timeline.rows.size(); ++i) {
    const auto& row = timeline.rows[i];
    out << (i ? ",\n" : "\n") << "    {\"process\": " << row.process
        << ", \"operation\": " << json_string(row.operation)
        << ", \"result\": " << (row.indeterminate || row.crash ? "null" : json_string(row.result))
        << ", \"invoked_ns\": " << row.invoked_ns << ", \"completed_ns\": "
        << (row.completed_ns == kNever ? std::string("null") : std::to_string(row.completed_ns))
        << ", \"crash\": " << (row.crash ? "true" : "false")
        << ", \"indeterminate\": " << (row.indeterminate ? "true" : "false")
        << ", \"linearized_at\": " << (row.order >= 0 ? std::to_string(row.order) : "null")
        << ", \"stuck\": " << (row.stuck ? "true" : "false") << "}";
  }
  out << "\n  ]\n}\n";
  return out.str();
}

// The x axis of the timeline: the order of events, not their times. Every distinct
// invocation or completion time is one column, so that what overlapped in time overlaps on
// the page and what did not is side by side, however long the gaps between them (a
// process start takes milliseconds, an operation microseconds). Real times are in the
// tooltips and the table.
class EventAxis {
 public:
  explicit EventAxis(const Timeline& timeline) {
    for (const auto& row : timeline.rows) {
      times_.push_back(row.invoked_ns);
      if (row.completed_ns != kNever) times_.push_back(row.completed_ns);
    }
    std::sort(times_.begin(), times_.end());
    times_.erase(std::unique(times_.begin(), times_.end()), times_.end());
  }
  // The column of time `t`; kNever is one column past the last event.
  int column(std::int64_t t) const {
    if (t == kNever) return columns() - 1;
    return static_cast<int>(std::lower_bound(times_.begin(), times_.end(), t) - times_.begin());
  }
  int columns() const { return static_cast<int>(times_.size()) + 1; }
  std::int64_t time(int column) const { return times_.at(column); }
  int events() const { return static_cast<int>(times_.size()); }

 private:
  std::vector<std::int64_t> times_;
};

// "4.2us" below a millisecond, "1234us" above.
std::string microseconds(std::int64_t ns) {
  char buffer[32];
  if (ns < 1'000'000) {
    std::snprintf(buffer, sizeof buffer, "%.1fus", static_cast<double>(ns) / 1000);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lldus", static_cast<long long>(ns / 1000));
  }
  return buffer;
}

const char* row_class(const TimelineRow& row) {
  if (row.stuck) return "stuck";
  if (row.indeterminate) return "indeterminate";
  return row.order >= 0 ? "linearized" : "unplaced";
}

std::string row_label(const TimelineRow& row) {
  std::string label = row.operation;
  if (!row.crash) label += " -> " + (row.indeterminate ? std::string("?") : row.result);
  return label;
}

std::string explain_stuck(const Timeline& timeline) {
  int placed = 0;
  for (const auto& row : timeline.rows) placed += row.order >= 0;
  for (const auto& row : timeline.rows) {
    if (!row.stuck) continue;
    std::ostringstream out;
    out << "Process " << row.process << "'s <code>" << html_escape(row_label(row))
        << "</code> (red) completed while it could not be placed after the longest "
           "linearizable prefix the checker found (#0";
    if (placed > 1) out << "&hellip;#" << placed - 1;
    out << ", blue, in that order): no order of the operations explains what it returned.";
    return out.str();
  }
  return "";
}

std::string to_svg(const Timeline& timeline) {
  const std::int64_t t0 = origin(timeline);
  const EventAxis axis(timeline);
  ProcessId processes = 0;
  for (const auto& row : timeline.rows) processes = std::max(processes, row.process + 1);
  constexpr int kLeft = 90, kBar = 20, kGap = 14, kTop = 44;
  const int slot = std::clamp(1100 / std::max(axis.columns(), 1), 28, 110);
  const int width = axis.columns() * slot;
  // Each process gets as many sub-rows as it has operations at once (two-phase operations
  // overlap themselves), so bars never hide one another.
  std::vector<int> lane_of(timeline.rows.size(), 0);
  std::vector<int> lanes(processes, 1);
  for (ProcessId p = 0; p < processes; ++p) {
    std::vector<int> lane_end;  // the last column used in each sub-row
    for (std::size_t i = 0; i < timeline.rows.size(); ++i) {
      const auto& row = timeline.rows[i];
      if (row.process != p) continue;
      const int first = axis.column(row.invoked_ns);
      std::size_t lane = 0;
      while (lane < lane_end.size() && lane_end[lane] >= first) ++lane;
      if (lane == lane_end.size()) lane_end.push_back(-1);
      lane_end[lane] = row.crash ? first : axis.column(row.completed_ns);
      lane_of[i] = static_cast<int>(lane);
    }
    lanes[p] = std::max<int>(1, static_cast<int>(lane_end.size()));
  }
  std::vector<int> top(processes);
  int y = kTop;
  for (ProcessId p = 0; p < processes; ++p) {
    top[p] = y;
    y += lanes[p] * (kBar + 4) + kGap;
  }
  auto x_of = [&](int column) { return kLeft + column * slot; };
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" width=\""
      << kLeft + width + 20 << "\" height=\"" << y + 10
      << "\" font-family=\"monospace\" font-size=\"11\">\n";
  // Time labels at most every ~70 px: microseconds since the first invocation.
  const int every = std::max(1, 70 / slot);
  for (int c = 0; c < axis.events(); c += every) {
    svg << "<line x1=\"" << x_of(c) << "\" x2=\"" << x_of(c) << "\" y1=\"" << kTop - 12
        << "\" y2=\"" << y - kGap << "\" stroke=\"#f0f0f0\"/><text x=\"" << x_of(c) + 2 << "\" y=\""
        << kTop - 16 << "\" fill=\"#888\">" << microseconds(axis.time(c) - t0) << "</text>\n";
  }
  svg << "<text x=\"4\" y=\"14\" fill=\"#888\">events in order of time &#x2192;</text>\n";
  for (ProcessId p = 0; p < processes; ++p) {
    svg << "<g class=\"lane\" data-process=\"" << p << "\"><rect x=\"0\" y=\"" << top[p] - 4
        << "\" width=\"" << kLeft + width + 20 << "\" height=\"" << lanes[p] * (kBar + 4) + 4
        << "\" fill=\"" << (p % 2 ? "#fafafa" : "#f3f3f3") << "\"/><text x=\"4\" y=\""
        << top[p] + 14 << "\" font-weight=\"bold\">process " << p << "</text></g>\n";
  }
  for (std::size_t i = 0; i < timeline.rows.size(); ++i) {
    const auto& row = timeline.rows[i];
    const int first = axis.column(row.invoked_ns);
    const int bar_y = top[row.process] + lane_of[i] * (kBar + 4);
    const std::string tip = html_escape(row_label(row) + " [" + cell(row, t0) + "]");
    if (row.crash) {
      svg << "<g class=\"crash\" data-process=\"" << row.process << "\"><title>process "
          << row.process << " killed at " << (row.invoked_ns - t0) / 1000 << "us</title><text x=\""
          << x_of(first) + slot / 2 - 6 << "\" y=\"" << bar_y + 16
          << "\" fill=\"#c00\" font-size=\"18\" font-weight=\"bold\">&#x2715;</text></g>\n";
      continue;
    }
    const int last = axis.column(row.completed_ns);
    const int x1 = x_of(first) + 2, x2 = x_of(last + 1) - 2;
    const char* kind = row_class(row);
    const char* fill = row.stuck           ? "#f08080"
                       : row.indeterminate ? "#fff3c4"
                       : row.order >= 0    ? "#cfe3ff"
                                           : "#e6e6e6";
    const std::string text =
        (row.order >= 0 ? "#" + std::to_string(row.order) + " " : "") + row_label(row);
    svg << "<g class=\"op " << kind << "\" data-process=\"" << row.process << "\""
        << (row.order >= 0 ? " data-order=\"" + std::to_string(row.order) + "\"" : "") << "><title>"
        << tip << "</title><rect x=\"" << x1 << "\" y=\"" << bar_y << "\" width=\"" << x2 - x1
        << "\" height=\"" << kBar << "\" rx=\"3\" fill=\"" << fill << "\" stroke=\""
        << (row.stuck ? "#b00000" : "#555") << "\" stroke-width=\"" << (row.stuck ? 2.5 : 1) << "\""
        << (row.indeterminate ? " stroke-dasharray=\"4 2\"" : "") << "/><svg x=\"" << x1
        << "\" y=\"" << bar_y << "\" width=\"" << x2 - x1 - 2 << "\" height=\"" << kBar
        << "\"><text x=\"3\" y=\"14\">" << html_escape(text) << "</text></svg></g>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

std::string to_html(const Timeline& timeline) {
  const std::string stuck = explain_stuck(timeline);
  std::ostringstream html;
  auto swatch = [](const char* fill, const char* stroke, const char* dash, const char* what) {
    return std::string(
               "<span class=\"key\"><svg width=\"26\" height=\"14\"><rect x=\"1\" "
               "y=\"1\" width=\"24\" height=\"12\" rx=\"3\" fill=\"") +
           fill + "\" stroke=\"" + stroke + "\"" + dash + "/></svg> " + what + "</span>";
  };
  html << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
       << html_escape(timeline.title) << "</title>\n<style>body{font-family:sans-serif;margin:16px}"
       << "code{font-size:12px;word-break:break-all}.key{margin-right:18px;white-space:nowrap}"
       << ".key svg{vertical-align:middle}pre{font-size:12px}</style></head>\n<body>\n"
       << "<h2>" << html_escape(timeline.title) << ": <span class=\"verdict\">"
       << html_escape(timeline.verdict) << "</span></h2>\n"
       << "<p><code class=\"run\">" << html_escape(timeline.summary) << "</code></p>\n"
       << "<p>Reproduce: <code class=\"reproduce\">" << html_escape(timeline.reproduce)
       << "</code></p>\n";
  if (!stuck.empty()) html << "<p class=\"explanation\">" << stuck << "</p>\n";
  html << "<p>One lane per process (0 runs the prefix and the suffix); a bar runs from an "
          "operation's invocation to its completion, its place in the linearization first "
          "(#k). Hover a bar for its times.</p>\n<p>"
       << swatch("#cfe3ff", "#555", "", "in the longest linearizable prefix")
       << swatch("#f08080", "#b00000", "", "could not be placed")
       << swatch("#fff3c4", "#555", " stroke-dasharray=\"4 2\"", "indeterminate (cut off)")
       << swatch("#e6e6e6", "#555", "", "after the prefix")
       << "<span class=\"key\"><b style=\"color:#c00\">&#x2715;</b> process killed</span></p>\n"
       << to_svg(timeline) << "<pre>" << html_escape(format_table(timeline))
       << "</pre>\n</body></html>\n";
  return html.str();
}

}  // namespace

std::string format_table(const Timeline& timeline) {
  const std::int64_t t0 = origin(timeline);
  ProcessId processes = 0;
  for (const auto& row : timeline.rows) processes = std::max(processes, row.process + 1);
  std::vector<std::size_t> order(timeline.rows.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const std::int64_t ta = timeline.rows[a].invoked_ns, tb = timeline.rows[b].invoked_ns;
    return ta != tb ? ta < tb : a < b;
  });
  auto header = [](ProcessId p) {
    return "process " + std::to_string(p) + (p == 0 ? " (main)" : "");
  };
  std::vector<std::size_t> width(processes);
  for (ProcessId p = 0; p < processes; ++p) width[p] = std::max<std::size_t>(12, header(p).size());
  for (const auto& row : timeline.rows) {
    width[row.process] = std::max(width[row.process], cell(row, t0).size());
  }
  std::ostringstream out;
  auto pad = [](std::string text, std::size_t n) {
    text.resize(std::max(n, text.size()), ' ');
    return text;
  };
  out << '|';
  for (ProcessId p = 0; p < processes; ++p) {
    out << ' ' << pad(header(p), width[p]) << " |";
  }
  out << '\n';
  for (std::size_t i : order) {
    const auto& row = timeline.rows[i];
    out << '|';
    for (ProcessId p = 0; p < processes; ++p) {
      out << ' ' << pad(p == row.process ? cell(row, t0) : "", width[p]) << " |";
    }
    out << '\n';
  }
  return out.str();
}

std::string output_directory() {
  if (const char* dir = std::getenv("IPCHECK_PROPTEST_OUT"); dir && *dir) return dir;
#if defined(IPCHECK_PROPTEST_DEFAULT_OUT)
  return IPCHECK_PROPTEST_DEFAULT_OUT;
#else
  return "proptest-out";
#endif
}

std::string write_report(const Timeline& timeline) {
  const std::string dir = output_directory();
  make_directories(dir);
  const std::string base = dir + "/" + file_name(timeline.title);
  std::ofstream(base + ".json") << to_json(timeline);
  std::ofstream(base + ".txt") << timeline.summary << "\nreproduce: " << timeline.reproduce << "\n"
                               << timeline.title << ": " << timeline.verdict << "\n"
                               << format_table(timeline);
  std::ofstream html(base + ".html");
  html << to_html(timeline);
  return html ? base + ".html" : "";
}

}  // namespace ipcheck::proptest
