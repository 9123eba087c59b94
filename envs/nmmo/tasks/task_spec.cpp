#include "task_spec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "engine/core/error.h"

namespace stackgrad::nmmo {

namespace {

using envs::JsonValue;

[[noreturn]] void spec_error(const std::string& where, std::string_view problem) {
  fail("nmmo task spec: ", where, ": ", problem);
}

std::string number_text(double d) {
  if (std::trunc(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), d);  // shortest text that reads back
  return std::string(buf, r.ptr);
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

template <typename T, size_t N>
T from_names(const std::array<std::string_view, N>& names, std::string_view s, int offset,
             const std::string& where, std::string_view what) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<T>(static_cast<int>(i) + offset);
  }
  spec_error(where, str_cat("unknown ", what, " '", s, "'"));
}

constexpr std::array<std::string_view, 16> kItemNames = {
    "Hat",     "Top", "Bottom", "Spear",     "Bow",   "Wand",  "Rod",    "Gloves",
    "Pickaxe", "Axe", "Chisel", "Whetstone", "Arrow", "Runes", "Ration", "Potion"};

// ---- kwargs: JSON -> PredicateArgs ----------------------------------------------------------

int int_kwarg(const JsonValue& v, const std::string& where) {
  const long long x = v.as_int(where);
  if (x < -1000000000LL || x > 1000000000LL) spec_error(where, "integer out of range");
  return static_cast<int>(x);
}

void parse_kwarg(std::string_view key, const JsonValue& v, const std::string& where,
                 PredicateArgs& a) {
  auto name = [&] { return v.as_string(where); };
  if (key == "num_tick") {
    a.num_tick = int_kwarg(v, where);
  } else if (key == "tile_type") {
    a.tile_type = from_names<Material>(kMaterialNames, name(), 0, where, "material");
  } else if (key == "row") {
    a.row = int_kwarg(v, where);
  } else if (key == "col") {
    a.col = int_kwarg(v, where);
  } else if (key == "dist") {
    a.dist = int_kwarg(v, where);
  } else if (key == "target") {
    if (v.kind() == JsonValue::Kind::kString) {
      a.target_relation = v.as_string(where);
    } else if (v.kind() == JsonValue::Kind::kNumber) {
      a.target = {int_kwarg(v, where)};
    } else {
      for (int t : v.as_int_vector(where)) a.target.push_back(t);
    }
  } else if (key == "skill" || key == "combat_style") {
    a.skill = from_names<Skill>(kSkillNames, name(), 0, where, "skill");
  } else if (key == "level") {
    a.level = int_kwarg(v, where);
  } else if (key == "num_agent") {
    a.num_agent = int_kwarg(v, where);
  } else if (key == "experience") {
    a.experience = int_kwarg(v, where);
  } else if (key == "event") {
    try {
      a.event = event_from_name(name());
    } catch (const Error&) {
      spec_error(where, str_cat("unknown event '", name(), "'"));
    }
  } else if (key == "N") {
    a.n = int_kwarg(v, where);
  } else if (key == "agent_type") {
    const std::string& t = name();
    if (t != "player" && t != "npc") spec_error(where, "agent_type must be 'player' or 'npc'");
    a.agent_type_npc = t == "npc";
  } else if (key == "amount") {
    a.amount = int_kwarg(v, where);
  } else if (key == "space") {
    a.space = int_kwarg(v, where);
  } else if (key == "item") {
    a.item = from_names<ItemType>(kItemNames, name(), kFirstItemType, where, "item");
  } else if (key == "quantity") {
    a.quantity = int_kwarg(v, where);
  }
}

// ---- kwargs: PredicateArgs -> text ----------------------------------------------------------

// The value of one kwarg as JSON (json = true) or as it appears in a task name.
std::string kwarg_text(std::string_view key, const PredicateArgs& a, bool json) {
  auto name = [&](std::string_view s) { return json ? quoted(s) : std::string(s); };
  if (key == "num_tick") return std::to_string(a.num_tick);
  if (key == "tile_type") return name(material_name(a.tile_type));
  if (key == "row") return std::to_string(a.row);
  if (key == "col") return std::to_string(a.col);
  if (key == "dist") return std::to_string(a.dist);
  if (key == "target") {
    if (!a.target_relation.empty()) return name(a.target_relation);
    if (a.target.size() == 1) return std::to_string(a.target[0]);
    std::string s = "[";
    for (size_t i = 0; i < a.target.size(); ++i) {
      s += (i ? "," : "") + std::to_string(a.target[i]);
    }
    return s + "]";
  }
  if (key == "skill" || key == "combat_style") return name(kSkillNames[static_cast<int>(a.skill)]);
  if (key == "level") return std::to_string(a.level);
  if (key == "num_agent") return std::to_string(a.num_agent);
  if (key == "experience") return std::to_string(a.experience);
  if (key == "event") return name(event_name(a.event));
  if (key == "N") return std::to_string(a.n);
  if (key == "agent_type") return name(a.agent_type_npc ? "npc" : "player");
  if (key == "amount") return std::to_string(a.amount);
  if (key == "space") return std::to_string(a.space);
  if (key == "item") return name(item_type_name(a.item));
  if (key == "quantity") return std::to_string(a.quantity);
  return "null";
}

// Whether a kwarg is written: StayAlive's and AllDead's target is optional.
bool has_kwarg(PredicateId id, std::string_view key, const PredicateArgs& a) {
  if (key == "target" && (id == PredicateId::kStayAlive || id == PredicateId::kAllDead)) {
    return !a.target_relation.empty() || !a.target.empty();
  }
  return true;
}

// ---- expressions --------------------------------------------------------------------------

PredicateExpr parse_expr(const JsonValue& v, const std::string& where, int depth) {
  if (depth > 16) spec_error(where, "predicate nested deeper than 16");
  if (v.kind() == JsonValue::Kind::kNumber) return PredicateExpr::value(v.as_double(where));
  const auto& members = v.as_object(where);
  if (v.has("op")) {
    for (const auto& [k, unused] : members) {
      if (k != "op" && k != "args") spec_error(where, str_cat("unknown field '", k, "'"));
    }
    const std::string& op_name = v.at("op").as_string(where + ".op");
    PredicateOp op = PredicateOp::kLeaf;
    for (PredicateOp o : {PredicateOp::kAnd, PredicateOp::kOr, PredicateOp::kNot, PredicateOp::kAdd,
                          PredicateOp::kSub, PredicateOp::kMul}) {
      if (predicate_op_name(o) == op_name) op = o;
    }
    if (op == PredicateOp::kLeaf) {
      spec_error(where + ".op", str_cat("unknown combinator '", op_name,
                                        "' (expected AND, OR, NOT, ADD, SUB or MUL)"));
    }
    if (!v.has("args")) spec_error(where, "missing field 'args'");
    const auto& args = v.at("args").as_array(where + ".args");
    std::vector<PredicateExpr> children;
    for (size_t i = 0; i < args.size(); ++i) {
      children.push_back(parse_expr(args[i], str_cat(where, ".args[", i, "]"), depth + 1));
    }
    try {
      return PredicateExpr::combine(op, std::move(children));
    } catch (const Error& e) {
      spec_error(where + ".args", e.what());
    }
  }
  for (const auto& [k, unused] : members) {
    if (k != "fn" && k != "kwargs") spec_error(where, str_cat("unknown field '", k, "'"));
  }
  if (!v.has("fn")) spec_error(where, "missing field 'fn' (or 'op' for a combinator)");
  const std::string& fn = v.at("fn").as_string(where + ".fn");
  PredicateId id;
  try {
    id = predicate_from_name(fn);
  } catch (const Error&) {
    spec_error(where + ".fn", str_cat("unknown predicate '", fn, "'"));
  }
  const std::span<const std::string_view> keys = predicate_kwargs(id);
  PredicateArgs args;
  const std::string kw = where + ".kwargs";
  if (v.has("kwargs")) {
    for (const auto& [k, value] : v.at("kwargs").as_object(kw)) {
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
        spec_error(kw + "." + k, str_cat("not an argument of ", fn));
      }
      parse_kwarg(k, value, kw + "." + k, args);
    }
  }
  for (std::string_view k : keys) {
    const bool optional =
        k == "target" && (id == PredicateId::kStayAlive || id == PredicateId::kAllDead);
    if (!optional && !(v.has("kwargs") && v.at("kwargs").has(std::string(k)))) {
      spec_error(str_cat(kw, ".", k), str_cat("missing argument of ", fn));
    }
  }
  try {
    return PredicateExpr::leaf(id, std::move(args));
  } catch (const Error& e) {
    spec_error(kw, e.what());
  }
}

std::string expr_json(const PredicateExpr& e) {
  switch (e.op) {
    case PredicateOp::kConstant:
      return number_text(e.constant);
    case PredicateOp::kLeaf: {
      std::string s = "{\"fn\": " + quoted(predicate_name(e.id)) + ", \"kwargs\": {";
      bool first = true;
      for (std::string_view k : predicate_kwargs(e.id)) {
        if (!has_kwarg(e.id, k, e.args)) continue;
        s += (first ? "" : ", ") + quoted(k) + ": " + kwarg_text(k, e.args, true);
        first = false;
      }
      return s + "}}";
    }
    default: {
      std::string s = "{\"op\": " + quoted(predicate_op_name(e.op)) + ", \"args\": [";
      for (size_t i = 0; i < e.children.size(); ++i)
        s += (i ? ", " : "") + expr_json(e.children[i]);
      return s + "]}";
    }
  }
}

std::string expr_name(const PredicateExpr& e) {
  switch (e.op) {
    case PredicateOp::kConstant:
      return number_text(e.constant);
    case PredicateOp::kLeaf: {
      std::string s = std::string(predicate_name(e.id)) + "_(";
      bool first = true;
      for (std::string_view k : predicate_kwargs(e.id)) {
        if (!has_kwarg(e.id, k, e.args)) continue;
        s += (first ? "" : "_") + std::string(k) + ":" + kwarg_text(k, e.args, false);
        first = false;
      }
      return s + ")";
    }
    default: {
      std::string s = std::string(predicate_op_name(e.op)) + "(";
      for (size_t i = 0; i < e.children.size(); ++i) s += (i ? "," : "") + expr_name(e.children[i]);
      return s + ")";
    }
  }
}

// Resolves target relations for team `team` (nmmo's TeamHelper.get_target_agent).
void resolve_targets(PredicateExpr& e, std::span<const std::vector<int32_t>> teams, size_t team) {
  for (PredicateExpr& c : e.children) resolve_targets(c, teams, team);
  if (e.op != PredicateOp::kLeaf || e.args.target_relation.empty()) return;
  const std::string& rel = e.args.target_relation;
  const size_t n = teams.size();
  const std::vector<int32_t>& left = teams[(team + 1) % n];
  const std::vector<int32_t>& right = teams[(team + n - 1) % n];
  std::vector<int32_t> ids;
  if (rel == "left_team") {
    ids = left;
  } else if (rel == "left_team_leader") {
    ids = {left.front()};
  } else if (rel == "right_team") {
    ids = right;
  } else if (rel == "right_team_leader") {
    ids = {right.front()};
  } else if (rel == "my_team_leader") {
    ids = {teams[team].front()};
  } else if (rel == "all_foes") {
    for (size_t t = 0; t < n; ++t) {
      if (t != team) ids.insert(ids.end(), teams[t].begin(), teams[t].end());
    }
  }
  e.args.target = std::move(ids);
}

}  // namespace

std::string spec_name(const TaskSpec& spec) {
  return str_cat(task_kind_name(spec.task_cls), "_",
                 spec.name.empty() ? expr_name(spec.predicate) : spec.name,
                 "_reward_to:", spec.reward_to_team ? "team" : "agent");
}

TaskSpec parse_task_spec(const JsonValue& v, const std::string& where) {
  TaskSpec s;
  for (const auto& [k, unused] : v.as_object(where)) {
    if (k != "name" && k != "predicate" && k != "task_cls" && k != "task_kwargs" &&
        k != "reward_to" && k != "sampling_weight" && k != "tags") {
      spec_error(where, str_cat("unknown field '", k, "'"));
    }
  }
  if (v.has("name")) s.name = v.at("name").as_string(where + ".name");
  if (!v.has("predicate")) spec_error(where, "missing field 'predicate'");
  s.predicate = parse_expr(v.at("predicate"), where + ".predicate", 0);
  if (v.has("task_cls")) {
    const std::string& c = v.at("task_cls").as_string(where + ".task_cls");
    try {
      s.task_cls = task_kind_from_name(c);
    } catch (const Error&) {
      spec_error(where + ".task_cls",
                 str_cat("unknown task class '", c, "' (Task, OngoingTask, HoldDurationTask)"));
    }
  }
  if (v.has("task_kwargs")) {
    const std::string kw = where + ".task_kwargs";
    for (const auto& [k, value] : v.at("task_kwargs").as_object(kw)) {
      if (k == "hold_duration") {
        s.hold_duration = int_kwarg(value, kw + ".hold_duration");
      } else if (k == "reward_multiplier") {
        s.reward_multiplier = value.as_double(kw + ".reward_multiplier");
      } else {
        spec_error(kw + "." + k, "unknown task argument (hold_duration, reward_multiplier)");
      }
    }
  }
  if (s.task_cls == TaskKind::kHoldDuration && s.hold_duration <= 0) {
    spec_error(where + ".task_kwargs.hold_duration", "HoldDurationTask needs hold_duration > 0");
  }
  if (v.has("reward_to")) {
    const std::string& r = v.at("reward_to").as_string(where + ".reward_to");
    if (r != "agent" && r != "team") spec_error(where + ".reward_to", "must be 'agent' or 'team'");
    s.reward_to_team = r == "team";
  }
  if (v.has("sampling_weight")) {
    s.sampling_weight = v.at("sampling_weight").as_double(where + ".sampling_weight");
    if (!(s.sampling_weight >= 0) || !std::isfinite(s.sampling_weight)) {
      spec_error(where + ".sampling_weight", "must be a finite number >= 0");
    }
  }
  if (v.has("tags")) {
    const auto& tags = v.at("tags").as_array(where + ".tags");
    for (size_t i = 0; i < tags.size(); ++i) {
      s.tags.push_back(tags[i].as_string(str_cat(where, ".tags[", i, "]")));
    }
  }
  return s;
}

std::vector<TaskSpec> read_task_specs(std::string_view text, const std::string& what) {
  const JsonValue doc = envs::parse_json(text, what);
  const JsonValue* list = &doc;
  if (doc.kind() == JsonValue::Kind::kObject) {
    for (const auto& [k, unused] : doc.as_object(what)) {
      if (k != "task_specs") spec_error(what, str_cat("unknown field '", k, "'"));
    }
    if (!doc.has("task_specs")) spec_error(what, "missing field 'task_specs'");
    list = &doc.at("task_specs");
  }
  std::vector<TaskSpec> specs;
  const auto& items = list->as_array(what + ": task_specs");
  specs.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    specs.push_back(parse_task_spec(items[i], str_cat("task_specs[", i, "]")));
  }
  return specs;
}

std::vector<TaskSpec> read_task_specs_file(const std::string& path) {
  std::ifstream in(path);
  SG_CHECK(in.good(), "nmmo task spec: cannot open '", path, "'");
  std::stringstream buf;
  buf << in.rdbuf();
  return read_task_specs(buf.str(), path);
}

std::string task_spec_to_json(const TaskSpec& s) {
  std::string out = "{";
  if (!s.name.empty()) out += "\"name\": " + quoted(s.name) + ", ";
  out += "\"predicate\": " + expr_json(s.predicate);
  out += ", \"task_cls\": " + quoted(task_kind_name(s.task_cls));
  if (s.task_cls == TaskKind::kHoldDuration || s.reward_multiplier != 1.0) {
    out += ", \"task_kwargs\": {";
    if (s.task_cls == TaskKind::kHoldDuration) {
      out += "\"hold_duration\": " + std::to_string(s.hold_duration);
      if (s.reward_multiplier != 1.0) out += ", ";
    }
    if (s.reward_multiplier != 1.0) {
      out += "\"reward_multiplier\": " + number_text(s.reward_multiplier);
    }
    out += "}";
  }
  out += ", \"reward_to\": " + quoted(s.reward_to_team ? "team" : "agent");
  out += ", \"sampling_weight\": " + number_text(s.sampling_weight);
  if (!s.tags.empty()) {
    out += ", \"tags\": [";
    for (size_t i = 0; i < s.tags.size(); ++i) out += (i ? ", " : "") + quoted(s.tags[i]);
    out += "]";
  }
  return out + "}";
}

std::string write_task_specs(std::span<const TaskSpec> specs) {
  std::string out = "{\"task_specs\": [\n";
  for (size_t i = 0; i < specs.size(); ++i) {
    out += "  " + task_spec_to_json(specs[i]) + (i + 1 < specs.size() ? ",\n" : "\n");
  }
  return out + "]}\n";
}

void write_task_specs_file(const std::string& path, std::span<const TaskSpec> specs) {
  std::ofstream out(path);
  SG_CHECK(out.good(), "nmmo task spec: cannot write '", path, "'");
  out << write_task_specs(specs);
  SG_CHECK(out.good(), "nmmo task spec: writing '", path, "' failed");
}

std::vector<int> sample_specs(std::span<const TaskSpec> specs, int count, envs::Rng& rng) {
  std::vector<double> cumulative(specs.size());
  double total = 0.0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const double w = specs[i].sampling_weight;
    SG_CHECK(w >= 0.0 && std::isfinite(w), "nmmo sample_specs: spec ", i, " (", spec_name(specs[i]),
             ") has sampling_weight ", w, "; weights must be finite and >= 0");
    cumulative[i] = total += w;
  }
  SG_CHECK(total > 0.0, "nmmo sample_specs: no spec has a positive sampling_weight (", specs.size(),
           " specs)");
  std::vector<int> picks(static_cast<size_t>(std::max(count, 0)));
  for (int& p : picks) {
    const double u = rng.uniform() * total;
    const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
    p = static_cast<int>(std::min<size_t>(it - cumulative.begin(), specs.size() - 1));
    while (specs[p].sampling_weight <= 0.0) --p;  // u landed on a zero-width end (rounding)
  }
  return picks;
}

std::vector<Task> make_tasks(std::span<const TaskSpec> specs, std::span<const int> picks,
                             std::span<const std::vector<int32_t>> teams) {
  SG_CHECK(picks.size() <= teams.size(), "nmmo make_tasks: ", picks.size(), " picks for ",
           teams.size(), " teams");
  for (const auto& t : teams) SG_CHECK(!t.empty(), "nmmo make_tasks: a team is empty");
  std::vector<Task> tasks;
  for (size_t i = 0; i < picks.size(); ++i) {
    SG_CHECK(picks[i] >= 0 && static_cast<size_t>(picks[i]) < specs.size(),
             "nmmo make_tasks: pick ", picks[i], " out of range for ", specs.size(), " specs");
    const TaskSpec& s = specs[picks[i]];
    PredicateExpr pred = s.predicate;
    resolve_targets(pred, teams, i);
    const std::string name = spec_name(s);
    if (s.reward_to_team) {
      tasks.emplace_back(pred, teams[i], teams[i], s.task_cls, s.hold_duration, s.reward_multiplier,
                         name);
    } else {
      for (int32_t a : teams[i]) {
        tasks.emplace_back(pred, std::vector<int32_t>{a}, std::vector<int32_t>{a}, s.task_cls,
                           s.hold_duration, s.reward_multiplier, name);
      }
    }
  }
  return tasks;
}

std::vector<Task> make_agent_tasks(std::span<const TaskSpec> specs, std::span<const int> picks,
                                   std::span<const int32_t> agents) {
  std::vector<std::vector<int32_t>> teams;
  teams.reserve(agents.size());
  for (int32_t a : agents) teams.push_back({a});
  return make_tasks(specs, picks, teams);
}

}  // namespace stackgrad::nmmo
