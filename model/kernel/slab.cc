// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/slab.h"

#include <cxxabi.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "model/kernel/bug.h"
#include "model/kernel/lock.h"

namespace ionsim::kernel {
namespace {

struct Registry {
  word_lock mu;  // lock.h's lock word: one atomic per acquire and release
  slab_header head{&head, &head, nullptr, 0, 0};  // circular list of live headers
  size_t live = 0;
  slab_fail_hook_fn fail_hook;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: objects may be freed during static destruction
  return *r;
}

std::atomic<int64_t> g_pages{0};
std::atomic<bool> g_has_fail_hook{false};

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

}  // namespace

namespace slab_internal {
std::atomic<const slab_quarantine_ops*> g_quarantine{nullptr};
}  // namespace slab_internal

void set_slab_quarantine(const slab_quarantine_ops* ops) {
  slab_internal::g_quarantine.store(ops, std::memory_order_release);
}

void registry_link(slab_header* header) {
  Registry& r = registry();
  std::lock_guard<word_lock> lock(r.mu);
  header->next = r.head.next;
  header->prev = &r.head;
  r.head.next->prev = header;
  r.head.next = header;
  r.live++;
}

void registry_unlink(slab_header* header, const void* obj) {
  Registry& r = registry();
  {
    std::lock_guard<word_lock> lock(r.mu);
    if (header->magic == kSlabLive && header->prev->next == header && header->next->prev == header) {
      header->prev->next = header->next;
      header->next->prev = header->prev;
      header->prev = header->next = nullptr;
      r.live--;
      return;
    }
  }
  bug_slowpath(__FILE__, __LINE__, __func__, "kfree of %p, which is not a live object (double free?)", obj);
}

std::vector<LiveObject> live_objects() {
  Registry& r = registry();
  std::vector<LiveObject> out;
  {
    std::lock_guard<word_lock> lock(r.mu);
    out.reserve(r.live);
    for (slab_header* h = r.head.next; h != &r.head; h = h->next) {
      out.push_back(LiveObject{h + 1, demangle(h->type->name()), h->count});
    }
  }
  std::sort(out.begin(), out.end(), [](const LiveObject& a, const LiveObject& b) {
    return a.type != b.type ? a.type < b.type : a.address < b.address;
  });
  return out;
}

size_t live_object_count() {
  Registry& r = registry();
  std::lock_guard<word_lock> lock(r.mu);
  return r.live;
}

std::string format_live_objects() {
  std::string out;
  char addr[32];
  for (const LiveObject& o : live_objects()) {
    std::snprintf(addr, sizeof(addr), "%p", o.address);
    out += o.type + " @ " + addr + (o.count != 1 ? " [" + std::to_string(o.count) + "]" : "") + "\n";
  }
  return out;
}

void registry_pages_allocated(int64_t delta) { g_pages.fetch_add(delta, std::memory_order_relaxed); }
int64_t allocated_page_count() { return g_pages.load(std::memory_order_relaxed); }

void set_slab_fail_hook(slab_fail_hook_fn hook) {
  Registry& r = registry();
  std::lock_guard<word_lock> lock(r.mu);
  g_has_fail_hook.store(static_cast<bool>(hook), std::memory_order_release);
  r.fail_hook = std::move(hook);
}

bool slab_should_fail(const std::type_info& type, gfp_t flags) {
  if (!g_has_fail_hook.load(std::memory_order_acquire) || (flags & __GFP_NOFAIL)) return false;
  slab_fail_hook_fn hook;
  {
    Registry& r = registry();
    std::lock_guard<word_lock> lock(r.mu);
    hook = r.fail_hook;
  }
  return hook && hook(type, flags);
}

}  // namespace ionsim::kernel
