#include "cri/server/container_events.h"

#include <doctest/doctest.h>

#include <thread>

using vpcri::cri::ContainerEventBus;
using namespace std::chrono_literals;

namespace {

runtime::v1::ContainerEventResponse event(const std::string& id) {
  runtime::v1::ContainerEventResponse e;
  e.set_container_id(id);
  e.set_container_event_type(runtime::v1::CONTAINER_STARTED_EVENT);
  return e;
}

}  // namespace

TEST_CASE("container events: every subscriber gets every event in order") {
  ContainerEventBus bus(8);
  CHECK_FALSE(bus.has_subscribers());
  auto a = bus.subscribe(), b = bus.subscribe();
  CHECK(bus.has_subscribers());
  bus.publish(event("one"));
  bus.publish(event("two"));
  for (auto& s : {a, b}) {
    CHECK(s->next(0ms)->container_id() == "one");
    CHECK(s->next(0ms)->container_id() == "two");
    CHECK_FALSE(s->next(0ms).has_value());
    CHECK_FALSE(s->overflowed());
  }
  bus.unsubscribe(a);
  bus.unsubscribe(b);
  CHECK_FALSE(bus.has_subscribers());
}

TEST_CASE("container events: a subscriber that falls behind is cut off, the others keep going") {
  ContainerEventBus bus(4);
  auto slow = bus.subscribe(), reader = bus.subscribe();
  for (int i = 0; i < 10; ++i) {
    bus.publish(event(std::to_string(i)));  // never blocks, however full `slow` is
    auto e = reader->next(0ms);
    REQUIRE(e.has_value());
    CHECK(e->container_id() == std::to_string(i));
  }
  CHECK(slow->overflowed());
  CHECK_FALSE(slow->next(0ms).has_value());  // nothing half-delivered after the cut
  CHECK_FALSE(reader->overflowed());
  bus.unsubscribe(reader);
  CHECK_FALSE(bus.has_subscribers());  // the slow one was dropped at the cut
}

TEST_CASE("container events: close wakes every waiting subscriber and refuses new ones") {
  ContainerEventBus bus(4);
  auto waiting = bus.subscribe();
  std::thread closer([&] {
    std::this_thread::sleep_for(50ms);
    bus.close();
  });
  // Woken by close, not by the (hour-long) timeout.
  CHECK_FALSE(waiting->next(std::chrono::hours(1)).has_value());
  closer.join();
  CHECK(waiting->closed());
  CHECK_FALSE(waiting->overflowed());
  CHECK_FALSE(bus.has_subscribers());
  auto late = bus.subscribe();
  CHECK(late->closed());
  CHECK_FALSE(bus.has_subscribers());
  bus.publish(event("after"));  // reaches no one, blocks nothing
  CHECK_FALSE(late->next(0ms).has_value());
}
