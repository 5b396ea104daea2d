// A tiny metrics registry and its Prometheus text exposition (format 0.0.4).
//
//   auto& calls = metrics::global().counter("vpcri_ec2_api_calls_total", "EC2 API calls.", {"action"});
//   calls.with({"AssignPrivateIpAddresses"}).inc();
//   metrics::global().add_collector([&](metrics::Collection& c) {      // values read at scrape time
//     c.gauge("vpcri_pods", "Pod sandboxes by state.", {{"state", "ready"}}, 3);
//   });
//   std::string text = metrics::global().render();
//
// The subsystems (cri/, net/, runtime/) update their metrics here without knowing about HTTP;
// the daemon serves render() (metrics/http_server.h). Counters, gauges and histogram buckets are
// atomics: an update is a few instructions and never takes a lock once the labelled child is found.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace vpcri::metrics {

using LabelPairs = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>& upper_bounds);
  void observe(double v);
  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Cumulative count per bound (as exposed), then +Inf = count().
  std::vector<uint64_t> cumulative_counts() const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bound, not cumulative
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Buckets in seconds for request latencies: 1 ms to 60 s.
const std::vector<double>& latency_buckets();

// One metric name with a fixed list of label names; each distinct list of label values is a
// child, made on first use and kept (children are few: RPC names, codes, states).
template <typename Metric>
class Family {
 public:
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<Metric>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}
  // Throws std::invalid_argument when the count of values differs from the label names'.
  Metric& with(const std::vector<std::string>& label_values);
  const std::vector<std::string>& label_names() const { return label_names_; }
  // The children sorted by label values (stable output), for rendering.
  std::vector<std::pair<std::vector<std::string>, const Metric*>> children() const;

 private:
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;
};

// Samples a collector reports at scrape time (values the registry does not keep: pods by state,
// pool sizes, process RSS). A family is declared by its first sample.
class Collection {
 public:
  void gauge(const std::string& name, const std::string& help, const LabelPairs& labels, double value);
  void counter(const std::string& name, const std::string& help, const LabelPairs& labels, double value);

  struct Sample {
    LabelPairs labels;
    double value;
  };
  struct FamilySamples {
    std::string type;
    std::string help;
    std::vector<Sample> samples;
  };
  const std::map<std::string, FamilySamples>& families() const { return families_; }

 private:
  void add(const std::string& name, const char* type, const std::string& help, const LabelPairs& labels, double value);
  std::map<std::string, FamilySamples> families_;
};

class Registry {
 public:
  using Collector = std::function<void(Collection&)>;

  // Registering a name again returns the same family (files may declare the metrics they share
  // independently); a different type or label list for the same name throws std::logic_error.
  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (std::invalid_argument).
  Family<Counter>& counter(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                               std::vector<double> upper_bounds);

  // Runs at every render(); the returned handle removes it when destroyed, so an object that
  // reports its own state unregisters before it goes away.
  class CollectorHandle {
   public:
    CollectorHandle() = default;
    CollectorHandle(Registry* registry, uint64_t id) : registry_(registry), id_(id) {}
    CollectorHandle(CollectorHandle&& other) noexcept
        : registry_(std::exchange(other.registry_, nullptr)), id_(other.id_) {}
    CollectorHandle& operator=(CollectorHandle&& other) noexcept;
    ~CollectorHandle() { reset(); }
    void reset();

   private:
    Registry* registry_ = nullptr;
    uint64_t id_ = 0;
  };
  [[nodiscard]] CollectorHandle add_collector(Collector collector);

  // Text exposition format 0.0.4: families sorted by name, each with HELP and TYPE.
  std::string render() const;

 private:
  struct Entry {
    std::string type;
    std::string help;
    std::vector<std::string> labels;
    std::shared_ptr<void> family;  // Family<Counter|Gauge|Histogram>
  };
  template <typename Metric>
  Family<Metric>& family(const std::string& name, const std::string& help, const char* type,
                         std::vector<std::string> labels, std::function<std::unique_ptr<Metric>()> make);

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  uint64_t next_collector_ = 1;
  std::map<uint64_t, Collector> collectors_;
  mutable std::mutex render_mu_;  // collectors run one scrape at a time
};

// The process-wide registry the daemon serves.
Registry& global();

// Content type of render()'s output.
inline constexpr const char* kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

// Exposition helpers, exposed for tests: a value ("1", "0.25", "+Inf", "NaN"), a label value
// and a HELP text escaped as the format requires.
std::string format_value(double v);
std::string escape_label_value(const std::string& v);
std::string escape_help(const std::string& v);

// Seconds since `start` on the steady clock, for latency observations.
double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace vpcri::metrics
