#pragma once
// A small strict JSON reader for tests: parses `vfio-bind status --json` back
// so tests check fields, not strings. Throws std::runtime_error on bad input
// (tests only: library code never throws errors at callers like this).
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vpmd_test::json {

struct Value;
using Array = std::vector<Value>;
using Object = std::map<std::string, Value>;

struct Value {
  std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<Array>, std::shared_ptr<Object>> v;

  bool is_null() const { return std::holds_alternative<std::nullptr_t>(v); }
  bool boolean() const { return std::get<bool>(v); }
  double number() const { return std::get<double>(v); }
  const std::string& str() const { return std::get<std::string>(v); }
  const Array& array() const { return *std::get<std::shared_ptr<Array>>(v); }
  const Object& object() const { return *std::get<std::shared_ptr<Object>>(v); }
  const Value& operator[](const std::string& key) const {
    const auto& o = object();
    auto it = o.find(key);
    if (it == o.end()) throw std::runtime_error("json: no key '" + key + "'");
    return it->second;
  }
  const Value& operator[](std::size_t i) const { return array().at(i); }
  bool has(const std::string& key) const { return object().count(key) != 0; }
};

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Value parse() {
    Value v = value();
    ws();
    if (i_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error("json: " + why + " at offset " + std::to_string(i_));
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool eat(std::string_view lit) {
    if (s_.substr(i_, lit.size()) != lit) return false;
    i_ += lit.size();
    return true;
  }
  void expect(char c) {
    ws();
    if (i_ >= s_.size() || s_[i_] != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  Value value() {
    ws();
    if (i_ >= s_.size()) fail("unexpected end");
    const char c = s_[i_];
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') return Value{string()};
    if (eat("null")) return Value{nullptr};
    if (eat("true")) return Value{true};
    if (eat("false")) return Value{false};
    return number();
  }
  Value number() {
    const std::string rest(s_.substr(i_, 32));
    char* end = nullptr;
    const double d = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str()) fail("bad value");
    i_ += static_cast<std::size_t>(end - rest.c_str());
    return Value{d};
  }
  std::string string() {
    expect('"');
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c == '\\') {
        if (i_ >= s_.size()) fail("bad escape");
        c = s_[i_++];
        switch (c) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'u': {
            if (i_ + 4 > s_.size()) fail("bad \\u escape");
            const unsigned cp = static_cast<unsigned>(std::stoul(std::string(s_.substr(i_, 4)), nullptr, 16));
            i_ += 4;
            if (cp > 0x7f) fail("non-ASCII \\u escape not supported by this test reader");
            out += static_cast<char>(cp);
            break;
          }
          default: out += c;
        }
      } else {
        out += c;
      }
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return out;
  }
  Value array() {
    expect('[');
    auto a = std::make_shared<Array>();
    ws();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return Value{a};
    }
    for (;;) {
      a->push_back(value());
      ws();
      if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
      expect(']');
      return Value{a};
    }
  }
  Value object() {
    expect('{');
    auto o = std::make_shared<Object>();
    ws();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return Value{o};
    }
    for (;;) {
      ws();
      std::string k = string();
      expect(':');
      (*o)[k] = value();
      ws();
      if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
      expect('}');
      return Value{o};
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

inline Value parse(std::string_view text) { return Parser(text).parse(); }

}  // namespace vpmd_test::json
