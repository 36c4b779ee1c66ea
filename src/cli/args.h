// A small command-line parser: options with help text, typed values, repeated options and
// positionals. Bad usage throws UsageError, which main() reports with exit status 2.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lumen::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ArgParser {
 public:
  ArgParser(std::string command, std::string usage, std::string description);

  // --name (and -a if alias non-empty) with no value.
  void flag(const std::string& name, const std::string& alias, const std::string& help, bool* out);
  void option(const std::string& name, const std::string& alias, const std::string& metavar,
              const std::string& help, std::string* out);
  void option(const std::string& name, const std::string& alias, const std::string& metavar,
              const std::string& help, int64_t* out, int64_t min, int64_t max);
  void option(const std::string& name, const std::string& alias, const std::string& metavar,
              const std::string& help, double* out, double min, double max);
  // May be given several times; every value is appended.
  void repeated(const std::string& name, const std::string& alias, const std::string& metavar,
                const std::string& help, std::vector<std::string>* out);
  // Positional arguments, in order, at least `min` of them.
  void positionals(const std::string& metavar, const std::string& help, std::vector<std::string>* out, size_t min,
                   size_t max = SIZE_MAX);
  void epilog(const std::string& text) { epilog_ = text; }

  // Parses argv[first..argc). Returns false if --help was asked for (help is printed).
  bool parse(int argc, char** argv, int first = 2);
  std::string help() const;
  bool was_set(const std::string& name) const;

 private:
  struct Option {
    std::string name, alias, metavar, help;
    bool takes_value = true;
    std::function<void(const std::string&)> apply;
    bool seen = false;
  };
  Option* find(const std::string& arg);

  std::string command_, usage_, description_, epilog_;
  std::vector<Option> options_;
  std::string positional_metavar_, positional_help_;
  std::vector<std::string>* positionals_ = nullptr;
  size_t positional_min_ = 0, positional_max_ = 0;
};

}  // namespace lumen::cli
