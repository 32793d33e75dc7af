#pragma once
// The benchmarks' output: one `name value unit` line per figure on stdout and,
// with --json FILE, the same figures as a JSON array, so runs can be compared.
#include <cstdio>
#include <string>
#include <vector>

namespace vpmd::bench {

class Report {
 public:
  void add(std::string name, double value, std::string unit) {
    std::printf("%s %.3f %s\n", name.c_str(), value, unit.c_str());
    std::fflush(stdout);
    rows_.push_back({std::move(name), value, std::move(unit)});
  }
  bool write_json(const std::string& path) const {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) return false;
    std::fprintf(f, "[\n");
    for (size_t i = 0; i < rows_.size(); ++i)
      std::fprintf(f, "  {\"name\": \"%s\", \"value\": %.3f, \"unit\": \"%s\"}%s\n", rows_[i].name.c_str(),
                   rows_[i].value, rows_[i].unit.c_str(), i + 1 < rows_.size() ? "," : "");
    std::fprintf(f, "]\n");
    return std::fclose(f) == 0;
  }

 private:
  struct Row {
    std::string name;
    double value;
    std::string unit;
  };
  std::vector<Row> rows_;
};

}  // namespace vpmd::bench
