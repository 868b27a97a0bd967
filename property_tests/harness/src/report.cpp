// Reports of failing cases: a text table, JSON, and an HTML page with an SVG timeline.
#include "ipcheck/proptest/report.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace ipcheck::proptest {
namespace {

std::int64_t origin(const Timeline& timeline) {
  std::int64_t first = kNever;
  for (const auto& row : timeline.rows) first = std::min(first, row.invoked_ns);
  return first == kNever ? 0 : first;
}

std::int64_t horizon(const Timeline& timeline) {
  std::int64_t last = origin(timeline);
  for (const auto& row : timeline.rows) {
    last = std::max(last, row.completed_ns != kNever ? row.completed_ns : row.invoked_ns);
  }
  return last;
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

std::string to_html(const Timeline& timeline) {
  const std::int64_t t0 = origin(timeline);
  const std::int64_t span = std::max<std::int64_t>(horizon(timeline) - t0, 1);
  ProcessId processes = 0;
  for (const auto& row : timeline.rows) processes = std::max(processes, row.process + 1);
  // Each process gets as many sub-rows as it has operations at once (two-phase operations
  // overlap themselves), so bars never hide one another.
  constexpr int kLeft = 90, kWidth = 1000, kBar = 18, kGap = 6;
  std::map<ProcessId, int> lanes_of;
  std::vector<int> lane_of(timeline.rows.size(), 0);
  for (ProcessId p = 0; p < processes; ++p) {
    std::vector<std::int64_t> lane_end;
    for (std::size_t i = 0; i < timeline.rows.size(); ++i) {
      const auto& row = timeline.rows[i];
      if (row.process != p) continue;
      const std::int64_t end = row.completed_ns == kNever ? t0 + span : row.completed_ns;
      std::size_t lane = 0;
      while (lane < lane_end.size() && lane_end[lane] > row.invoked_ns) ++lane;
      if (lane == lane_end.size()) lane_end.push_back(0);
      lane_end[lane] = end;
      lane_of[i] = static_cast<int>(lane);
    }
    lanes_of[p] = std::max<int>(1, static_cast<int>(lane_end.size()));
  }
  std::map<ProcessId, int> top;
  int y = 40;
  for (ProcessId p = 0; p < processes; ++p) {
    top[p] = y;
    y += lanes_of[p] * (kBar + 4) + kGap + 10;
  }
  auto x_of = [&](std::int64_t t) {
    return kLeft + static_cast<double>(t - t0) * kWidth / static_cast<double>(span);
  };
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kLeft + kWidth + 40
      << "\" height=\"" << y + 20 << "\" font-family=\"monospace\" font-size=\"11\">\n";
  svg << "<text x=\"" << kLeft << "\" y=\"20\">0 us</text><text x=\"" << kLeft + kWidth - 80
      << "\" y=\"20\">" << span / 1000 << " us</text>\n";
  for (ProcessId p = 0; p < processes; ++p) {
    svg << "<g class=\"lane\" data-process=\"" << p << "\"><text x=\"4\" y=\"" << top[p] + 13
        << "\">process " << p << "</text><line x1=\"" << kLeft << "\" x2=\"" << kLeft + kWidth
        << "\" y1=\"" << top[p] - 3 << "\" y2=\"" << top[p] - 3 << "\" stroke=\"#ddd\"/></g>\n";
  }
  for (std::size_t i = 0; i < timeline.rows.size(); ++i) {
    const auto& row = timeline.rows[i];
    const double x1 = x_of(row.invoked_ns);
    const int bar_y = top[row.process] + lane_of[i] * (kBar + 4);
    std::string label = row.operation;
    if (!row.crash) label += " -> " + (row.indeterminate ? std::string("?") : row.result);
    if (row.crash) {
      svg << "<g class=\"crash\"><title>"
          << html_escape("process " + std::to_string(row.process) + " killed")
          << "</title><text x=\"" << x1 - 5 << "\" y=\"" << bar_y + 14
          << "\" fill=\"#c00\" font-size=\"16\">&#x2715;</text></g>\n";
      continue;
    }
    const double x2 =
        std::max(x1 + 3, x_of(row.completed_ns == kNever ? t0 + span : row.completed_ns));
    const char* fill = row.stuck           ? "#f4a6a6"
                       : row.indeterminate ? "#fff3c4"
                       : row.order >= 0    ? "#cfe3ff"
                                           : "#e6e6e6";
    svg << "<g class=\"op\"><title>" << html_escape(label) << "</title><rect x=\"" << x1
        << "\" y=\"" << bar_y << "\" width=\"" << x2 - x1 << "\" height=\"" << kBar << "\" fill=\""
        << fill << "\" stroke=\"" << (row.stuck ? "#c00" : "#555") << "\""
        << (row.indeterminate ? " stroke-dasharray=\"4 2\"" : "") << "/><text x=\"" << x1 + 2
        << "\" y=\"" << bar_y + 13 << "\">"
        << html_escape((row.order >= 0 ? "#" + std::to_string(row.order) + " " : "") + label)
        << "</text></g>\n";
  }
  svg << "</svg>\n";
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
       << html_escape(timeline.title)
       << "</title></head>\n<body style=\"font-family:sans-serif\">\n"
       << "<h1>" << html_escape(timeline.title) << "</h1>\n<p><b>" << html_escape(timeline.verdict)
       << "</b></p>\n<p><code>" << html_escape(timeline.summary) << "</code></p>\n"
       << "<p>Reproduce: <code>" << html_escape(timeline.reproduce) << "</code></p>\n"
       << "<p>One lane per process; a bar runs from invocation to completion. Blue: in the "
          "longest linearizable prefix (#order); red: could not be placed; dashed yellow: "
          "indeterminate (cut off); &#x2715;: process killed.</p>\n"
       << svg.str() << "<pre>" << html_escape(format_table(timeline)) << "</pre>\n</body></html>\n";
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
  std::vector<std::size_t> width(processes, 12);
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
    out << ' ' << pad("process " + std::to_string(p) + (p == 0 ? " (main)" : ""), width[p]) << " |";
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
