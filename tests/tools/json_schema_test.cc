// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Every command's --json document validates against docs/ionsim.schema.json, and crosscheck's --junit file is
// well-formed XML. The validator covers the part of JSON Schema the schema uses: type, const, enum, minimum,
// properties, required, additionalProperties: false, items, oneOf and local $ref.
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/ionsim_runner.h"
#include "tests/tools/xml_check.h"

namespace ionsim::testing {
namespace {

using ::testing::HasSubstr;

struct Member;

struct Value {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  bool boolean = false;
  double number = 0;
  bool integer = false;  // the number was written without fraction or exponent
  std::string string;
  std::vector<Value> array;
  std::vector<Member> object;  // in document order

  const Value* Get(const std::string& key) const;
};

// One member of an object (a vector of an incomplete type is allowed; a pair of one is not).
struct Member {
  std::string key;
  Value value;
};

const Value* Value::Get(const std::string& key) const {
  for (const auto& [k, v] : object) {
    if (k == key) return &v;
  }
  return nullptr;
}

bool operator==(const Value& a, const Value& b);
bool operator==(const Member& a, const Member& b) { return a.key == b.key && a.value == b.value; }

bool operator==(const Value& a, const Value& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Value::kNull: return true;
    case Value::kBool: return a.boolean == b.boolean;
    case Value::kNumber: return a.number == b.number;
    case Value::kString: return a.string == b.string;
    case Value::kArray: return a.array == b.array;
    case Value::kObject: return a.object == b.object;
  }
  return false;
}

// A strict JSON parser; error is set at the first problem.
class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  Value Parse(std::string* error) {
    Value v = ParseValue();
    Space();
    if (error_.empty() && i_ != s_.size()) Fail("text after the document");
    *error = error_;
    return v;
  }

 private:
  void Fail(const std::string& what) {
    if (error_.empty()) error_ = what + " at offset " + std::to_string(i_);
  }
  void Space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool Literal(const std::string& word) {
    if (s_.compare(i_, word.size(), word) != 0) return false;
    i_ += word.size();
    return true;
  }
  std::string ParseString() {
    std::string out;
    ++i_;  // the opening quote
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) Fail("control character in a string");
      if (c == '\\') {
        if (i_ >= s_.size()) break;
        const char e = s_[i_++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case '"': case '\\': case '/': c = e; break;
          case 'u': {
            if (i_ + 4 > s_.size()) {
              Fail("short \\u escape");
              return out;
            }
            const unsigned long code = std::strtoul(s_.substr(i_, 4).c_str(), nullptr, 16);
            i_ += 4;
            c = static_cast<char>(code < 0x80 ? code : '?');
            break;
          }
          default: Fail("bad escape");
        }
      }
      out.push_back(c);
    }
    if (i_ >= s_.size()) Fail("unterminated string");
    ++i_;
    return out;
  }
  Value ParseValue() {
    Value v;
    Space();
    if (i_ >= s_.size()) {
      Fail("unexpected end");
      return v;
    }
    const char c = s_[i_];
    if (c == '{') {
      v.kind = Value::kObject;
      ++i_;
      Space();
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return v;
      }
      while (error_.empty()) {
        Space();
        if (i_ >= s_.size() || s_[i_] != '"') {
          Fail("expected a key");
          break;
        }
        std::string key = ParseString();
        Space();
        if (i_ >= s_.size() || s_[i_] != ':') {
          Fail("expected ':'");
          break;
        }
        ++i_;
        v.object.push_back(Member{key, ParseValue()});
        Space();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
        } else if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
          break;
        } else {
          Fail("expected ',' or '}'");
        }
      }
    } else if (c == '[') {
      v.kind = Value::kArray;
      ++i_;
      Space();
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return v;
      }
      while (error_.empty()) {
        v.array.push_back(ParseValue());
        Space();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
        } else if (i_ < s_.size() && s_[i_] == ']') {
          ++i_;
          break;
        } else {
          Fail("expected ',' or ']'");
        }
      }
    } else if (c == '"') {
      v.kind = Value::kString;
      v.string = ParseString();
    } else if (Literal("true")) {
      v.kind = Value::kBool;
      v.boolean = true;
    } else if (Literal("false")) {
      v.kind = Value::kBool;
    } else if (Literal("null")) {
      v.kind = Value::kNull;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const size_t start = i_;
      if (s_[i_] == '-') ++i_;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      v.integer = true;
      if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) {
        v.integer = false;
        ++i_;
        while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' ||
                                  s_[i_] == '+' || s_[i_] == 'e' || s_[i_] == 'E')) {
          ++i_;
        }
      }
      v.kind = Value::kNumber;
      char* end = nullptr;
      const std::string number = s_.substr(start, i_ - start);
      v.number = std::strtod(number.c_str(), &end);
      if (*end != '\0' || number == "-") Fail("bad number");
    } else {
      Fail(std::string("unexpected '") + c + "'");
    }
    return v;
  }

  const std::string& s_;
  size_t i_ = 0;
  std::string error_;
};

Value ParseJson(const std::string& text) {
  std::string error;
  Value v = Parser(text).Parse(&error);
  EXPECT_EQ(error, "") << text.substr(0, 400);
  return v;
}

// Validates against the subset of JSON Schema described at the top; returns the problems ("" when none).
class Validator {
 public:
  explicit Validator(const Value& root) : root_(root) {}

  std::string Check(const Value& v) const { return Check(root_, v, "$"); }

 private:
  std::string Check(const Value& schema, const Value& v, const std::string& at) const {
    if (const Value* ref = schema.Get("$ref")) {
      const std::string prefix = "#/$defs/";
      const Value* defs = root_.Get("$defs");
      const Value* target = defs && ref->string.rfind(prefix, 0) == 0 ? defs->Get(ref->string.substr(prefix.size()))
                                                                        : nullptr;
      if (target == nullptr) return at + ": unresolved $ref " + ref->string + "\n";
      return Check(*target, v, at);
    }
    std::string problems;
    if (const Value* one_of = schema.Get("oneOf")) {
      int matches = 0;
      std::string why;
      for (const Value& branch : one_of->array) {
        const std::string p = Check(branch, v, at);
        matches += p.empty();
        why += p;
      }
      if (matches != 1) problems += at + ": matches " + std::to_string(matches) + " of oneOf:\n" + why;
    }
    if (const Value* type = schema.Get("type")) {
      const std::string& t = type->string;
      const bool ok = (t == "object" && v.kind == Value::kObject) || (t == "array" && v.kind == Value::kArray) ||
                      (t == "string" && v.kind == Value::kString) || (t == "boolean" && v.kind == Value::kBool) ||
                      (t == "number" && v.kind == Value::kNumber) ||
                      (t == "integer" && v.kind == Value::kNumber && v.integer) || (t == "null" && v.kind == Value::kNull);
      if (!ok) return problems + at + ": not of type " + t + "\n";
    }
    if (const Value* c = schema.Get("const"); c && !(*c == v)) problems += at + ": not the const value\n";
    if (const Value* e = schema.Get("enum")) {
      bool found = false;
      for (const Value& option : e->array) found |= option == v;
      if (!found) problems += at + ": not one of the enum values\n";
    }
    if (const Value* m = schema.Get("minimum"); m && v.kind == Value::kNumber && v.number < m->number) {
      problems += at + ": below the minimum\n";
    }
    if (v.kind == Value::kObject) {
      if (const Value* required = schema.Get("required")) {
        for (const Value& key : required->array) {
          if (v.Get(key.string) == nullptr) problems += at + ": missing " + key.string + "\n";
        }
      }
      const Value* properties = schema.Get("properties");
      const Value* additional = schema.Get("additionalProperties");
      for (const auto& [key, member] : v.object) {
        const Value* sub = properties ? properties->Get(key) : nullptr;
        if (sub != nullptr) {
          problems += Check(*sub, member, at + "." + key);
        } else if (additional && additional->kind == Value::kBool && !additional->boolean) {
          problems += at + ": unexpected member " + key + "\n";
        }
      }
    }
    if (v.kind == Value::kArray) {
      if (const Value* items = schema.Get("items")) {
        for (size_t i = 0; i < v.array.size(); ++i) {
          problems += Check(*items, v.array[i], at + "[" + std::to_string(i) + "]");
        }
      }
    }
    return problems;
  }

  const Value& root_;
};

class JsonSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = ParseJson(ReadText("docs/ionsim.schema.json"));
    ASSERT_EQ(schema_.kind, Value::kObject);
  }
  // The problems of a command's stdout as a document of the schema.
  std::string Problems(const std::string& document) {
    std::string error;
    const Value v = Parser(document).Parse(&error);
    if (!error.empty()) return "not JSON: " + error;
    return Validator(schema_).Check(v);
  }

  Value schema_;
};

TEST_F(JsonSchemaTest, TheValidatorRejectsWhatTheSchemaForbids) {
  const std::string good = RunIonsim({"replay", "--json", "-"}, "P = spawn a\n").out;
  ASSERT_EQ(Problems(good), "");
  EXPECT_THAT(Problems("{\"command\": \"replay\"}"), HasSubstr("missing"));
  EXPECT_THAT(Problems("[1, 2]"), HasSubstr("matches 0 of oneOf"));
  std::string renamed = good;
  renamed.replace(renamed.find("\"mismatches\""), 12, "\"mismatchez\"");
  EXPECT_THAT(Problems(renamed), HasSubstr("unexpected member mismatchez"));
  std::string retyped = good;
  retyped.replace(retyped.find("\"exit_code\": 0"), 14, "\"exit_code\": \"0\"");
  EXPECT_THAT(Problems(retyped), HasSubstr("exit_code: not of type integer"));
  EXPECT_THAT(Problems("{\"a\": 1,}"), HasSubstr("not JSON"));
}

TEST_F(JsonSchemaTest, Run) {
  const Outcome o = RunIonsim({"run", "--json", "--svg=" + TempPath("j.svg")});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(Problems(o.out), "");
  const Value v = ParseJson(o.out);
  ASSERT_NE(v.Get("frames"), nullptr);
  EXPECT_EQ(v.Get("frames")->number, 12);
  EXPECT_EQ(v.Get("ok")->boolean, true);
  EXPECT_THAT(v.Get("report")->string, HasSubstr("result: OK"));
}

TEST_F(JsonSchemaTest, Replay) {
  struct Case {
    std::string trace;
    int code;
  };
  for (const Case& c : std::vector<Case>{
           {"P = spawn a\nC = open P\nH = alloc C len=4K heap=system  # ok id=1\n", 0},
           {"P = spawn a\nC = open P\nH = alloc C len=4K heap=system  # EINVAL\n", 1},
           {"P = spawn a\nC = open P\nH = alloc C len=4K heap=nosuchheap\n", 2},
           {"this is not a trace\n", 2},
       }) {
    const Outcome o = RunIonsim({"replay", "--json", "-"}, c.trace);
    EXPECT_EQ(o.code, c.code) << c.trace;
    EXPECT_EQ(Problems(o.out), "") << c.trace;
    const Value v = ParseJson(o.out);
    ASSERT_NE(v.Get("exit_code"), nullptr);
    EXPECT_EQ(v.Get("exit_code")->number, c.code);
  }
  const Value v = ParseJson(RunIonsim({"replay", "--json", "-"}, "P = spawn a\nC = open P\n").out);
  ASSERT_EQ(v.Get("operations")->array.size(), 2u);
  EXPECT_EQ(v.Get("operations")->array[1].Get("op")->string, "C = open P");
  EXPECT_EQ(v.Get("operations")->array[1].Get("result")->string, "ok");
}

// Without QEMU the guest run fails: the document says why, every trace is "not run", and the JUnit file has a
// skipped case per trace and an error for the run.
TEST_F(JsonSchemaTest, CrosscheckAndItsJunitFile) {
  const std::string junit = TempPath("crosscheck.xml");
  const Outcome o = RunIonsim({"crosscheck", "--json", "--junit", junit, "--qemu=/bin/false", "--random=2",
                               "--out-dir=" + TempPath("cc")});
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(Problems(o.out), "");
  const Value v = ParseJson(o.out);
  ASSERT_NE(v.Get("traces"), nullptr);
  ASSERT_EQ(v.Get("traces")->array.size(), 2u);
  EXPECT_EQ(v.Get("traces")->array[0].Get("verdict")->string, "not run");
  EXPECT_THAT(v.Get("error")->string, HasSubstr("the guest run"));
  const std::string xml = ReadText(junit);
  EXPECT_EQ(XmlProblem(xml), "");
  EXPECT_THAT(xml, HasSubstr("tests=\"3\" failures=\"0\" errors=\"1\" skipped=\"2\""));
  EXPECT_THAT(xml, HasSubstr("<testcase classname=\"crosscheck.dummy\" name=\"random-1\""));
  EXPECT_THAT(o.err, HasSubstr("crosscheck: the guest run gave no output"));  // the text went to stderr
}

// A divergence, through a stand-in harness that reports handle id 7 where the model allocates id 2: the
// document names it and its minimised trace, the JUnit file has a failure, the minimised trace carries a header
// and the kernel's results as its expectations, and the progress lines reach a non-terminal stderr.
TEST_F(JsonSchemaTest, CrosscheckDivergenceMinimisedWithTheKernelsResults) {
  const std::string path = TempPath("two-allocs.trace");
  std::ofstream(path) << "P = spawn a\nC = open P\nQ = spawn b\nH1 = alloc C len=4K heap=system  # ok id=1\n"
                         "D = open Q\nH2 = alloc C len=8K heap=system  # ok id=2\nfree C H1  # ok\n";
  const std::string out_dir = TempPath("diverge");
  const std::string junit = TempPath("diverge.xml");
  setenv("IONSIM_PROGRESS_SECONDS", "0", 1);
  const Outcome o = RunIonsim({"crosscheck", "--json", "--junit=" + junit, "--qemu=tests/tools/fake_qemu.sh",
                               "--guest-bin=/bin/true", "--out-dir=" + out_dir, path});
  unsetenv("IONSIM_PROGRESS_SECONDS");
  EXPECT_EQ(o.code, 1) << o.err;
  EXPECT_EQ(Problems(o.out), "");
  const Value v = ParseJson(o.out);
  ASSERT_NE(v.Get("traces"), nullptr);
  ASSERT_EQ(v.Get("traces")->array.size(), 1u);
  const Value& t = v.Get("traces")->array[0];
  EXPECT_EQ(t.Get("verdict")->string, "diverge");
  EXPECT_THAT(t.Get("difference")->string, HasSubstr("kernel: 6 H2 = alloc C len=8K heap=system => ok id=7"));
  ASSERT_NE(t.Get("minimised"), nullptr);
  EXPECT_EQ(t.Get("minimised")->Get("operations")->number, 4);  // spawn, open, two allocs
  EXPECT_THAT(ReadText(junit), HasSubstr("failures=\"1\""));
  EXPECT_EQ(XmlProblem(ReadText(junit)), "");

  const std::string min = ReadText(out_dir + "/two-allocs.min.trace");
  EXPECT_THAT(min, HasSubstr("# Minimised by ionsim crosscheck from two-allocs (" + path + "): 4 of 7 operations."));
  EXPECT_THAT(min, HasSubstr("# kernel: 4 H2 = alloc C len=8K heap=system => ok id=7"));
  EXPECT_THAT(min, HasSubstr("H2 = alloc C len=8K heap=system  # ok id=7\n"));
  // On the model the kernel's result is the one expectation that does not hold.
  const Outcome replay = RunIonsim({"replay", "--json", out_dir + "/two-allocs.min.trace"});
  EXPECT_EQ(replay.code, 1);
  EXPECT_EQ(ParseJson(replay.out).Get("mismatches")->number, 1);

  EXPECT_THAT(o.err, HasSubstr("crosscheck guest: 1/1 traces"));
  EXPECT_THAT(o.err, HasSubstr("1 diverging so far"));
  EXPECT_THAT(o.err, HasSubstr("minimising round 1: "));
}

// --corpus decodes every fuzz input of a directory (in file-name order) into a trace on the fuzz board and
// cross-checks it like a trace file: the fake kernel answers id 7 where the model allocates handle 2, so the
// input with two allocations diverges and the one with a single allocation agrees.
TEST_F(JsonSchemaTest, CrosscheckDecodesAFuzzCorpus) {
  const std::string dir = TempPath("corpus");
  mkdir(dir.c_str(), 0755);
  // 8-byte records (fuzz/ion_program.h): operation 8 is alloc; byte 3 picks 4 KiB, byte 4 the system heap.
  const std::string alloc = std::string({8, 0, 0, 4, 0, 0, 0, 0});
  std::ofstream(dir + "/a-one", std::ios::binary) << alloc;
  std::ofstream(dir + "/b-two", std::ios::binary) << alloc + alloc;
  const Outcome o = RunIonsim({"crosscheck", "--json", "--no-minimise", "--qemu=tests/tools/fake_qemu.sh",
                               "--guest-bin=/bin/true", "--out-dir=" + TempPath("corpus-out"), "--corpus=" + dir});
  EXPECT_EQ(o.code, 1) << o.err;
  EXPECT_EQ(Problems(o.out), "");
  const Value v = ParseJson(o.out);
  ASSERT_NE(v.Get("traces"), nullptr);
  ASSERT_EQ(v.Get("traces")->array.size(), 2u);
  EXPECT_EQ(v.Get("traces")->array[0].Get("name")->string, "corpus-a-one");
  EXPECT_EQ(v.Get("traces")->array[0].Get("verdict")->string, "agree");
  EXPECT_EQ(v.Get("traces")->array[1].Get("name")->string, "corpus-b-two");
  EXPECT_EQ(v.Get("traces")->array[1].Get("verdict")->string, "diverge");
  EXPECT_THAT(v.Get("traces")->array[1].Get("difference")->string,
              HasSubstr("kernel: 4 H2 = alloc C1 len=4K heap=system => ok id=7"));
}

TEST_F(JsonSchemaTest, Fuzz) {
  // A stand-in for a libFuzzer binary: one fork-mode status line.
  const std::string fake = TempPath("fake_fuzzer");
  std::ofstream(fake) << "#!/bin/sh\necho '#1234: cov: 56 ft: 78 corp: 9 exec/s 100 oom/timeout/crash: 0/0/0'\n";
  chmod(fake.c_str(), 0755);
  const Outcome o = RunIonsim({"fuzz", "--json", "--seconds=1", "--binary", fake, "--workdir", TempPath("fw")});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(Problems(o.out), "");
  const Value v = ParseJson(o.out);
  EXPECT_EQ(v.Get("executions")->number, 1234);
  EXPECT_EQ(v.Get("coverage")->number, 56);
}

}  // namespace
}  // namespace ionsim::testing
