#include "cli/args.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace lumen::cli {

ArgParser::ArgParser(std::string command, std::string usage, std::string description)
    : command_(std::move(command)), usage_(std::move(usage)), description_(std::move(description)) {}

void ArgParser::flag(const std::string& name, const std::string& alias, const std::string& help, bool* out) {
  options_.push_back({name, alias, "", help, false, [out](const std::string&) { *out = true; }});
}

void ArgParser::option(const std::string& name, const std::string& alias, const std::string& metavar,
                       const std::string& help, std::string* out) {
  options_.push_back({name, alias, metavar, help, true, [out](const std::string& v) { *out = v; }});
}

void ArgParser::option(const std::string& name, const std::string& alias, const std::string& metavar,
                       const std::string& help, int64_t* out, int64_t min, int64_t max) {
  options_.push_back({name, alias, metavar, help, true, [=](const std::string& v) {
                        int64_t value = 0;
                        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
                        if (ec != std::errc() || end != v.data() + v.size()) {
                          throw UsageError(name + " expects an integer, got '" + v + "'");
                        }
                        if (value < min || value > max) {
                          throw UsageError(name + " must be between " + std::to_string(min) + " and " +
                                           std::to_string(max) + ", got " + v);
                        }
                        *out = value;
                      }});
}

void ArgParser::option(const std::string& name, const std::string& alias, const std::string& metavar,
                       const std::string& help, double* out, double min, double max) {
  options_.push_back({name, alias, metavar, help, true, [=](const std::string& v) {
                        char* end = nullptr;
                        double value = std::strtod(v.c_str(), &end);
                        if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(value)) {
                          throw UsageError(name + " expects a number, got '" + v + "'");
                        }
                        if (value < min || value > max) {
                          std::ostringstream msg;
                          msg << name << " must be between " << min << " and " << max << ", got " << v;
                          throw UsageError(msg.str());
                        }
                        *out = value;
                      }});
}

void ArgParser::repeated(const std::string& name, const std::string& alias, const std::string& metavar,
                         const std::string& help, std::vector<std::string>* out) {
  options_.push_back({name, alias, metavar, help, true, [out](const std::string& v) { out->push_back(v); }});
}

void ArgParser::positionals(const std::string& metavar, const std::string& help, std::vector<std::string>* out,
                            size_t min, size_t max) {
  positional_metavar_ = metavar;
  positional_help_ = help;
  positionals_ = out;
  positional_min_ = min;
  positional_max_ = max;
}

ArgParser::Option* ArgParser::find(const std::string& arg) {
  for (auto& o : options_) {
    if (arg == o.name || (!o.alias.empty() && arg == o.alias)) return &o;
  }
  return nullptr;
}

bool ArgParser::was_set(const std::string& name) const {
  for (const auto& o : options_) {
    if (o.name == name) return o.seen;
  }
  return false;
}

bool ArgParser::parse(int argc, char** argv, int first) {
  bool only_positionals = false;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (!only_positionals && (arg == "--help" || arg == "-h")) {
      std::fputs(help().c_str(), stdout);
      return false;
    }
    if (!only_positionals && arg == "--") {
      only_positionals = true;
      continue;
    }
    if (!only_positionals && arg.size() > 1 && arg[0] == '-' && !(arg.size() > 1 && (std::isdigit(arg[1]) || arg[1] == '.'))) {
      std::string value;
      bool inline_value = false;
      if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        inline_value = true;
      }
      Option* o = find(arg);
      if (o == nullptr) throw UsageError("unknown option " + arg + " (see lumen " + command_ + " --help)");
      o->seen = true;
      if (!o->takes_value) {
        if (inline_value) throw UsageError(arg + " takes no value");
        o->apply("");
        continue;
      }
      if (!inline_value) {
        if (i + 1 >= argc) throw UsageError(arg + " needs a value (" + o->metavar + ")");
        value = argv[++i];
      }
      o->apply(value);
      continue;
    }
    if (positionals_ == nullptr) throw UsageError("unexpected argument '" + arg + "' (see lumen " + command_ + " --help)");
    positionals_->push_back(arg);
  }
  if (positionals_ != nullptr) {
    if (positionals_->size() < positional_min_) {
      throw UsageError("missing " + positional_metavar_ + " (see lumen " + command_ + " --help)");
    }
    if (positionals_->size() > positional_max_) {
      throw UsageError("too many arguments (see lumen " + command_ + " --help)");
    }
  }
  return true;
}

std::string ArgParser::help() const {
  std::ostringstream out;
  out << "usage: " << usage_ << "\n\n" << description_ << "\n";
  if (positionals_ != nullptr && !positional_help_.empty()) {
    out << "\narguments:\n  " << positional_metavar_ << "\n      " << positional_help_ << "\n";
  }
  if (!options_.empty()) out << "\noptions:\n";
  for (const auto& o : options_) {
    std::string names = o.alias.empty() ? o.name : o.alias + ", " + o.name;
    if (o.takes_value) names += " " + o.metavar;
    // Help text may hold line breaks; every line gets the same indent.
    std::string help = o.help;
    for (size_t at = help.find('\n'); at != std::string::npos; at = help.find('\n', at + 7)) help.insert(at + 1, "      ");
    out << "  " << names << "\n      " << help << "\n";
  }
  out << "  -h, --help\n      show this help\n";
  if (!epilog_.empty()) out << "\n" << epilog_ << "\n";
  return out.str();
}

}  // namespace lumen::cli
