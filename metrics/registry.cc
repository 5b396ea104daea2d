#include "metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace vpcri::metrics {
namespace {

bool valid_name(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void check_names(const std::string& name, const std::vector<std::string>& labels) {
  if (!valid_name(name, true)) throw std::invalid_argument("invalid metric name \"" + name + "\"");
  for (const auto& l : labels) {
    // "le" belongs to histogram buckets; names starting with "__" are reserved.
    if (!valid_name(l, false) || l.starts_with("__") || l == "le") {
      throw std::invalid_argument("metric " + name + ": invalid label name \"" + l + "\"");
    }
  }
}

void append_labels(std::string& out, const LabelPairs& labels) {
  if (labels.empty()) return;
  out += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first;
    out += "=\"";
    out += escape_label_value(labels[i].second);
    out += '"';
  }
  out += '}';
}

void append_sample(std::string& out, const std::string& name, const LabelPairs& labels, double value) {
  out += name;
  append_labels(out, labels);
  out += ' ';
  out += format_value(value);
  out += '\n';
}

void append_header(std::string& out, const std::string& name, const std::string& help, const std::string& type) {
  out += "# HELP " + name + " " + escape_help(help) + "\n";
  out += "# TYPE " + name + " " + type + "\n";
}

LabelPairs zip(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  LabelPairs pairs;
  for (size_t i = 0; i < names.size(); ++i) pairs.emplace_back(names[i], values[i]);
  return pairs;
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back exactly
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

namespace {

// Backslash and newline always; the double quote only inside label values.
std::string escape(const std::string& v, bool quote) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quote && c == '"') out += "\\\"";
    else out += c;
  }
  return out;
}

}  // namespace

std::string escape_label_value(const std::string& v) { return escape(v, true); }

std::string escape_help(const std::string& v) { return escape(v, false); }

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Histogram::Histogram(const std::vector<double>& upper_bounds)
    : bounds_(upper_bounds), buckets_(new std::atomic<uint64_t>[upper_bounds.size()]) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end()) {
    throw std::invalid_argument("histogram bounds must be strictly increasing");
  }
  for (size_t i = 0; i < bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // first bound >= v: le is inclusive
  if (it != bounds_.end()) buckets_[static_cast<size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> out(bounds_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                           0.5,   1,      2.5,   5,    10,    30,   60};
  return buckets;
}

template <typename Metric>
Metric& Family<Metric>::with(const std::vector<std::string>& label_values) {
  if (label_values.size() != label_names_.size()) {
    throw std::invalid_argument("metric needs " + std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(label_values.size()));
  }
  std::lock_guard lock(mu_);
  auto& child = children_[label_values];
  if (!child) child = make_();
  return *child;
}

template <typename Metric>
std::vector<std::pair<std::vector<std::string>, const Metric*>> Family<Metric>::children() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::vector<std::string>, const Metric*>> out;
  for (const auto& [values, metric] : children_) out.emplace_back(values, metric.get());
  return out;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void Collection::add(const std::string& name, const char* type, const std::string& help, const LabelPairs& labels,
                     double value) {
  std::vector<std::string> names;
  for (const auto& l : labels) names.push_back(l.first);
  check_names(name, names);
  auto [it, inserted] = families_.try_emplace(name, FamilySamples{type, help, {}});
  if (!inserted && it->second.type != type) throw std::logic_error("metric " + name + " collected with two types");
  it->second.samples.push_back({labels, value});
}

void Collection::gauge(const std::string& name, const std::string& help, const LabelPairs& labels, double value) {
  add(name, "gauge", help, labels, value);
}

void Collection::counter(const std::string& name, const std::string& help, const LabelPairs& labels, double value) {
  add(name, "counter", help, labels, value);
}

template <typename Metric>
Family<Metric>& Registry::family(const std::string& name, const std::string& help, const char* type,
                                 std::vector<std::string> labels, std::function<std::unique_ptr<Metric>()> make) {
  check_names(name, labels);
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    if (it->second.type != type || it->second.labels != labels) {
      throw std::logic_error("metric " + name + " registered twice with different types or labels");
    }
    return *static_cast<Family<Metric>*>(it->second.family.get());
  }
  auto fam = std::make_shared<Family<Metric>>(labels, std::move(make));
  Family<Metric>& ref = *fam;
  entries_.emplace(name, Entry{type, help, std::move(labels), std::move(fam)});
  return ref;
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return family<Counter>(name, help, "counter", std::move(labels), [] { return std::make_unique<Counter>(); });
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return family<Gauge>(name, help, "gauge", std::move(labels), [] { return std::make_unique<Gauge>(); });
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> labels, std::vector<double> upper_bounds) {
  Histogram probe(upper_bounds);  // checks the bounds now, not at the first observation
  return family<Histogram>(name, help, "histogram", std::move(labels),
                           [bounds = std::move(upper_bounds)] { return std::make_unique<Histogram>(bounds); });
}

Registry::CollectorHandle& Registry::CollectorHandle::operator=(CollectorHandle&& other) noexcept {
  if (this != &other) {
    reset();
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

void Registry::CollectorHandle::reset() {
  if (!registry_) return;
  // Waits for a render in progress: the collector may use the object being destroyed.
  std::lock_guard render_lock(registry_->render_mu_);
  std::lock_guard lock(registry_->mu_);
  registry_->collectors_.erase(id_);
  registry_ = nullptr;
}

Registry::CollectorHandle Registry::add_collector(Collector collector) {
  std::lock_guard lock(mu_);
  uint64_t id = next_collector_++;
  collectors_.emplace(id, std::move(collector));
  return CollectorHandle(this, id);
}

std::string Registry::render() const {
  std::lock_guard render_lock(render_mu_);
  Collection collected;
  std::vector<Collector> collectors;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, c] : collectors_) collectors.push_back(c);
  }
  for (const auto& c : collectors) c(collected);

  std::lock_guard lock(mu_);
  std::string out;
  auto collected_it = collected.families().begin();
  auto flush_collected_before = [&](const std::string* name) {
    for (; collected_it != collected.families().end() && (!name || collected_it->first < *name); ++collected_it) {
      const auto& [cname, fam] = *collected_it;
      if (entries_.contains(cname)) continue;  // a registered family of that name wins
      append_header(out, cname, fam.help, fam.type);
      for (const auto& s : fam.samples) append_sample(out, cname, s.labels, s.value);
    }
  };
  for (const auto& [name, entry] : entries_) {
    flush_collected_before(&name);
    append_header(out, name, entry.help, entry.type);
    if (entry.type == "counter") {
      for (const auto& [values, c] : static_cast<Family<Counter>*>(entry.family.get())->children()) {
        append_sample(out, name, zip(entry.labels, values), c->value());
      }
    } else if (entry.type == "gauge") {
      for (const auto& [values, g] : static_cast<Family<Gauge>*>(entry.family.get())->children()) {
        append_sample(out, name, zip(entry.labels, values), g->value());
      }
    } else {
      for (const auto& [values, h] : static_cast<Family<Histogram>*>(entry.family.get())->children()) {
        LabelPairs labels = zip(entry.labels, values);
        // Read count first: buckets observed after it may exceed it by a few, never fall short.
        uint64_t count = h->count();
        auto cumulative = h->cumulative_counts();
        for (size_t i = 0; i < cumulative.size(); ++i) {
          LabelPairs with_le = labels;
          with_le.emplace_back("le", format_value(h->upper_bounds()[i]));
          append_sample(out, name + "_bucket", with_le, static_cast<double>(std::min(cumulative[i], count)));
        }
        LabelPairs inf = labels;
        inf.emplace_back("le", "+Inf");
        append_sample(out, name + "_bucket", inf, static_cast<double>(count));
        append_sample(out, name + "_sum", labels, h->sum());
        append_sample(out, name + "_count", labels, static_cast<double>(count));
      }
    }
  }
  flush_collected_before(nullptr);
  return out;
}

Registry& global() {
  static Registry* registry = new Registry;  // never destroyed: metrics may be updated during exit
  return *registry;
}

}  // namespace vpcri::metrics
