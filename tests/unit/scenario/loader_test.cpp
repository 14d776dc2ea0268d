#include "sim/scenario/loader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cutover::scenario {
namespace {

using ::testing::HasSubstr;

const char* kGood = R"(name: t
duration: 3s
services:
  blue: { version: v1, instances: 2, latency: { distribution: fixed, value: 1ms } }
  green: { version: v2 }
load:
  - { rate: 2k/s, connections: 4 }
timeline:
  - { at: 0s, start: blue }
  - { at: 1s, start: green }
  - { at: 2s, switch: green }
  - { at: 2500ms, signal: { target: blue-1, signal: SIGKILL } }
expect: { dropped: 0, final_active: green }
)";

TEST(ScenarioLoader, LoadsAGoodFileWithUnits) {
  const auto out = loadScenarioText(kGood, "good.yaml");
  ASSERT_TRUE(out.errors.empty()) << out.errors.front().str();
  const auto& s = *out.scenario;
  EXPECT_EQ(s.duration, std::chrono::seconds(3));
  ASSERT_EQ(s.services.size(), 2u);
  EXPECT_EQ(s.services[0].instances, 2);
  EXPECT_EQ(s.services[0].behaviour.latency.value, std::chrono::milliseconds(1));
  EXPECT_EQ(s.services[1].behaviour.version, "v2");
  EXPECT_DOUBLE_EQ(s.load[0].rate_per_s, 2000.0);
  ASSERT_EQ(s.timeline.size(), 4u);
  EXPECT_EQ(s.timeline[3].at, std::chrono::milliseconds(2500));
  EXPECT_EQ(std::get<SignalAction>(s.timeline[3].action).signal, 9);
  ASSERT_TRUE(s.expect.dropped.has_value());
  EXPECT_TRUE(s.expect.dropped->holds(0));
  EXPECT_FALSE(s.expect.dropped->holds(1));
}

TEST(ScenarioLoader, UnknownKeyNamesLineColumnAndSuggests) {
  std::string text = kGood;
  text.replace(text.find("connections"), 11, "conections");
  const auto out = loadScenarioText(text, "f.yaml");
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].line, 7);
  EXPECT_EQ(out.errors[0].column, 19);  // "  - { rate: 2k/s, conections"
  EXPECT_EQ(out.errors[0].key, "load.0.conections");
  EXPECT_THAT(out.errors[0].str(), HasSubstr("did you mean 'connections'"));
  EXPECT_FALSE(out.scenario.has_value());
}

// Hundreds of instances are for simulated runs; a live run starts at most 64
// processes per pool, and says so with the key and where it is.
TEST(ScenarioLoader, InstancesPastTheLiveBoundLoadOnlyForASimulatedRun) {
  const std::string text = R"(name: big
duration: 10s
services:
  blue: { instances: 300 }
  green: { instances: 2 }
load:
  - { rate: 100/s }
timeline:
  - { at: 0s, start: blue }
  - { at: 0s, start: green }
  - { at: 5s, scale: { pool: green, instances: 500 } }
)";
  const auto live = loadScenarioText(text, "big.yaml", LoadOptions{});
  ASSERT_EQ(live.errors.size(), 2u);
  EXPECT_EQ(live.errors[0].key, "services.blue.instances");
  EXPECT_EQ(live.errors[0].line, 4);
  EXPECT_THAT(live.errors[0].message, HasSubstr("a live run starts at most 64 instances per pool, got 300"));
  EXPECT_THAT(live.errors[0].message, HasSubstr("--mode sim"));
  EXPECT_EQ(live.errors[1].key, "timeline.2.scale.instances");
  EXPECT_EQ(live.errors[1].line, 11);

  LoadOptions sim;
  sim.simulated = true;
  const auto ok = loadScenarioText(text, "big.yaml", sim);
  ASSERT_TRUE(ok.errors.empty()) << ok.errors[0].str();
  EXPECT_EQ(ok.scenario->services[0].instances, 300);

  std::string over = text;
  over.replace(over.find("300"), 3, "1001");
  const auto bad = loadScenarioText(over, "big.yaml", sim);
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].key, "services.blue.instances");
  EXPECT_THAT(bad.errors[0].message, HasSubstr("1000"));

  // All pools at their largest (a scale step's count included) within 3000.
  const auto total = loadScenarioText(R"(name: big
duration: 10s
services:
  blue: { instances: 999 }
  green: { instances: 2 }
  red: { instances: 999 }
  gray: { instances: 5 }
load:
  - { rate: 100/s }
timeline:
  - { at: 0s, start: blue }
  - { at: 0s, start: green }
  - { at: 0s, start: red }
  - { at: 0s, start: gray }
  - { at: 5s, scale: { pool: green, instances: 1000 } }
)", "big.yaml", sim);
  ASSERT_EQ(total.errors.size(), 1u) << total.errors[0].str();
  EXPECT_EQ(total.errors[0].key, "services");
  EXPECT_THAT(total.errors[0].message, HasSubstr("at most 3000 instances in all (every pool at its largest), got 3003"));
}

TEST(ScenarioLoader, ReportsEveryErrorInOnePass) {
  const auto out = loadScenarioText(R"(name: t
duration: 3
services:
  blue: { instances: -1 }
load:
  - { rate: fast }
timeline:
  - { at: 0s, start: blue }
)", "f.yaml");
  ASSERT_EQ(out.errors.size(), 3u);
  EXPECT_THAT(out.errors[0].str(), HasSubstr("f.yaml:2:11: duration: expected a duration"));
  EXPECT_EQ(out.errors[1].key, "services.blue.instances");
  EXPECT_EQ(out.errors[2].key, "load.0.rate");
}

TEST(ScenarioLoader, RejectsImpossibleOrder) {
  std::string text = kGood;
  text.replace(text.find("at: 1s, start: green"), 20, "at: 3s, start: green");
  const auto out = loadScenarioText(text, "f.yaml");
  ASSERT_FALSE(out.errors.empty());
  EXPECT_THAT(out.errors[0].str(), HasSubstr("switch to 'green' before any step starts it"));
}

TEST(ScenarioLoader, RejectsUnknownPoolWithSuggestion) {
  std::string text = kGood;
  text.replace(text.find("switch: green"), 13, "switch: gren");
  const auto out = loadScenarioText(text, "f.yaml");
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_THAT(out.errors[0].str(), HasSubstr("did you mean 'green'"));
  EXPECT_EQ(out.errors[0].line, 11);
}

TEST(ScenarioLoader, SyntaxErrorHasPosition) {
  const auto out = loadScenarioText("name: [unclosed\nduration: 1s\n", "s.yaml");
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_GT(out.errors[0].line, 0);
  EXPECT_THAT(out.errors[0].message, HasSubstr("YAML syntax"));
}

TEST(ScenarioLoader, OverridesApplyBeforeValidation) {
  const auto out = loadScenarioText(kGood, "good.yaml",
                                    {"duration=5s", "load.0.rate=50/s", "services.green.instances=3"});
  ASSERT_TRUE(out.errors.empty()) << out.errors.front().str();
  EXPECT_EQ(out.scenario->duration, std::chrono::seconds(5));
  EXPECT_DOUBLE_EQ(out.scenario->load[0].rate_per_s, 50.0);
  EXPECT_EQ(out.scenario->services[1].instances, 3);
}

TEST(ScenarioLoader, BadOverrideIsAnError) {
  const auto out = loadScenarioText(kGood, "good.yaml", {"load.7.rate=50/s"});
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].file, "--set");
  const auto bad = loadScenarioText(kGood, "good.yaml", {"services.blue.instances=lots"});
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].key, "services.blue.instances");
  // The value has no line in the file: the error names the flag.
  EXPECT_EQ(bad.errors[0].file, "--set services.blue.instances=lots");
  EXPECT_EQ(bad.errors[0].line, 0);
  // A timeline step's errors name its place in the file (the steps are
  // checked in time order), so one --set put there names the flag too.
  const auto late = loadScenarioText(kGood, "good.yaml", {"timeline.3.signal.target=blue-7"});
  ASSERT_EQ(late.errors.size(), 1u);
  EXPECT_EQ(late.errors[0].key, "timeline.3.signal.target");
  EXPECT_EQ(late.errors[0].file, "--set timeline.3.signal.target=blue-7");
  // An error in what holds the value set (here a map the flag created, read
  // as `between`) names the flag too; it was reported at good.yaml:1:1.
  const auto inner = loadScenarioText(kGood, "good.yaml", {"explore.faults.0.between.0=-1s"});
  ASSERT_FALSE(inner.errors.empty());
  EXPECT_EQ(inner.errors[0].key.rfind("explore.faults", 0), 0u) << inner.errors[0].str();
  EXPECT_EQ(inner.errors[0].file, "--set explore.faults.0.between.0=-1s") << inner.errors[0].str();
}

// A misspelled service in --set (or a --sweep, a matrix) would add a service
// with every default and leave the real one as it was: refused, with a hint.
TEST(ScenarioLoader, AnOverrideInsideAnUnknownServiceIsRefused) {
  const auto out = loadScenarioText(kGood, "good.yaml", {"services.gren.instances=3"});
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].file, "--set");
  EXPECT_EQ(out.errors[0].key, "services.gren.instances");
  EXPECT_THAT(out.errors[0].message, HasSubstr("no service named 'gren'; did you mean 'green'?"));
}

// "> 0" is a bound, as in the file's quoted `dropped: "> 0"`, not a YAML
// folded block.
TEST(ScenarioLoader, AnOverrideValueStartingWithGreaterThanIsText) {
  const auto out = loadScenarioText(kGood, "good.yaml", {"expect.dropped=> 0"});
  ASSERT_TRUE(out.errors.empty()) << out.errors.front().str();
  const auto same = loadScenarioText(kGood, "good.yaml", {"expect.dropped=\"> 0\""});
  ASSERT_TRUE(same.errors.empty()) << same.errors.front().str();
  ASSERT_TRUE(out.scenario->expect.dropped.has_value());
  EXPECT_EQ(out.scenario->expect.dropped->op, Compare::gt);
  EXPECT_EQ(out.scenario->expect.dropped->value, 0);
  const auto spaced = loadScenarioText(kGood, "good.yaml", {"expect.dropped= > 0"});
  ASSERT_TRUE(spaced.errors.empty()) << spaced.errors.front().str();
  // A tag in a value is refused as in the file (a matrix value goes the same way).
  const auto tagged = loadScenarioText(kGood, "good.yaml", {"expect.dropped=!= 0"});
  ASSERT_EQ(tagged.errors.size(), 1u);
  EXPECT_THAT(tagged.errors[0].message, HasSubstr("unknown YAML tag '!='"));
}

// Targets name a pool or one of its instances: blue-1..blue-N, N its
// instances or its largest scale step; anything else would act on nothing.
TEST(ScenarioLoader, InstanceTargetsMustNameAnInstance) {
  for (const char* target : {"blue-3", "blue-0", "blue-01", "blue-1x", "blue-", "green-2"}) {
    const auto out = loadScenarioText(kGood, "good.yaml", {std::string("timeline.3.signal.target=") + target});
    ASSERT_EQ(out.errors.size(), 1u) << target;
    EXPECT_THAT(out.errors[0].message, HasSubstr(std::string("no instance named '") + target + "'")) << target;
  }
  EXPECT_TRUE(loadScenarioText(kGood, "good.yaml", {"timeline.3.signal.target=blue-2"}).errors.empty());
  EXPECT_TRUE(loadScenarioText(kGood, "good.yaml", {"timeline.3.signal.target=green"}).errors.empty());
  auto withScale = std::string(kGood);
  withScale.replace(withScale.find("expect:"), 0, "  - { at: 2600ms, scale: { pool: blue, instances: 4 } }\n");
  EXPECT_TRUE(loadScenarioText(withScale, "good.yaml", {"timeline.3.signal.target=blue-4"}).errors.empty());
}

TEST(ScenarioLoader, NamesThatBecomePathsConfigAndHeadersAreChecked) {
  const auto one = [](const std::vector<std::string>& sets) {
    const auto out = loadScenarioText(kGood, "good.yaml", sets);
    return out.errors.empty() ? std::string() : out.errors[0].key + ": " + out.errors[0].message;
  };
  EXPECT_THAT(one({"name=../x"}), HasSubstr("name: a name is 1 to 100 letters"));
  EXPECT_THAT(one({"name=.."}), HasSubstr("not starting with '.'"));
  auto crlf = std::string(kGood);
  crlf.replace(crlf.find("version: v1"), 11, "version: \"v1\\r\\nx-evil: 1\"");
  const auto header = loadScenarioText(crlf, "good.yaml");
  ASSERT_FALSE(header.errors.empty());
  EXPECT_THAT(header.errors[0].message, HasSubstr("no control characters"));
  EXPECT_THAT(one({"load.0.path=/a b"}), HasSubstr("no spaces"));
  EXPECT_EQ(one({"name=blue-green.v2_run"}), "");
  const auto dup = loadScenarioText("name: d\nduration: 2s\nservices:\n  blue: {}\n  blue: {}\nload: [{rate: 1/s}]\n"
                                    "timeline: [{at: 0s, start: blue}]\n",
                                    "d.yaml");
  ASSERT_FALSE(dup.errors.empty());
  EXPECT_THAT(dup.errors[0].message, HasSubstr("duplicate key"));
  const auto two = loadScenarioText(std::string(kGood) + "---\nname: second\n", "two.yaml");
  ASSERT_EQ(two.errors.size(), 1u);
  EXPECT_THAT(two.errors[0].message, HasSubstr("one YAML document"));
  EXPECT_EQ(two.errors[0].line, 14);  // the `---`
  // A leading document start (with a comment before it) is one document.
  EXPECT_TRUE(loadScenarioText("# a scenario\n---\n" + std::string(kGood), "one.yaml").errors.empty());
  EXPECT_TRUE(loadScenarioText(std::string(kGood) + "...\n# done\n", "end.yaml").errors.empty());
  EXPECT_FALSE(loadScenarioText(std::string(kGood) + "...\nname: second\n", "more.yaml").errors.empty());
  // A fuzzer's input on which YAML::LoadAll looped without end (yaml-cpp
  // 0.7): it is bad input, told at once.
  const auto fuzz = loadScenarioFile(std::string(CUTOVER_SOURCE_DIR) +
                                     "/tests/fuzz/corpus/fuzz_scenario_loader/loadall-endless-loop.yaml");
  EXPECT_FALSE(fuzz.errors.empty());
}

TEST(ScenarioLoader, StepAfterTheEndIsRejected) {
  const auto out = loadScenarioText(kGood, "good.yaml", {"duration=2s"});
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_THAT(out.errors[0].message, HasSubstr("after the end of the run"));
}

TEST(ScenarioLoader, QuickstartInTheLibraryLoads) {
  const auto out = loadScenarioFile(std::string(CUTOVER_SOURCE_DIR) + "/scenarios/quickstart.yaml");
  ASSERT_TRUE(out.errors.empty()) << out.errors.front().str();
  EXPECT_EQ(out.scenario->name, "quickstart");
}

TEST(ScenarioLoader, ValidityLimitsDefaultAndOverride) {
  const auto def = loadScenarioText(kGood, "good.yaml");
  ASSERT_TRUE(def.scenario);
  EXPECT_DOUBLE_EQ(def.scenario->validity.max_late_fraction, 0.01);
  EXPECT_DOUBLE_EQ(def.scenario->validity.min_rate_fraction, 0.99);
  const auto loose = loadScenarioText(kGood, "good.yaml", {"validity.max_late_sends=100%"});
  ASSERT_TRUE(loose.scenario);
  EXPECT_DOUBLE_EQ(loose.scenario->validity.max_late_fraction, 1.0);
  const auto bad = loadScenarioText(kGood, "good.yaml", {"validity.max_late_send=5%"});
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_THAT(bad.errors[0].str(), HasSubstr("did you mean 'max_late_sends'"));
}

TEST(ScenarioLoader, FaultStepsAndExpectationsParse) {
  std::string text = kGood;
  text.replace(text.find("expect: {"), 9,
               "  - { at: 2600ms, fault: { target: green, error_rate: 50%, kind: hang } }\n"
               "  - { at: 2700ms, heal: green }\nexpect: { p99: '< 50ms', rolled_back: false, ");
  const auto out = loadScenarioText(text, "f.yaml");
  ASSERT_TRUE(out.errors.empty()) << out.errors.front().str();
  const auto& fault = std::get<FaultAction>(out.scenario->timeline[4].action);
  ASSERT_EQ(fault.commands.size(), 2u);
  EXPECT_EQ(fault.commands[1], "fault hang");
  ASSERT_EQ(out.scenario->expect.measures.size(), 1u);
  EXPECT_EQ(out.scenario->expect.measures[0].measure, "summary.latency.p99_ms");
  EXPECT_TRUE(out.scenario->expect.measures[0].bound.holds(49.0));
  EXPECT_FALSE(out.scenario->expect.measures[0].bound.holds(50.0));
  EXPECT_EQ(out.scenario->expect.rolled_back, false);
}

TEST(SuggestKey, FindsCloseWordsOnly) {
  EXPECT_EQ(suggestKey("duraton", {"name", "duration"}), "duration");
  EXPECT_EQ(suggestKey("zzzzzz", {"name", "duration"}), "");
}

}  // namespace
}  // namespace cutover::scenario
