// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/sched_explore.h"

#include <cxxabi.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>

#include "model/kernel/kref.h"
#include "model/kernel/lock.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {

struct InterleavingScheduler::State {
  struct Thread {
    bool done = false;
    const void* want = nullptr;  // the lock it is about to take
    LockKind want_kind = LockKind::kMutex;
    std::string position = "before its first operation";
    std::string where = "start";
    std::vector<std::pair<const void*, std::string>> held;
  };
  struct Lock {
    int writer = -1;
    int readers = 0;
  };
  std::mutex mu;
  std::condition_variable cv;
  int running = -1;
  bool deadlocked = false;
  size_t done_count = 0;
  std::vector<Thread> threads;
  std::map<const void*, Lock> locks;
};

// The scheduler's internals for the hooks.
struct SchedAccess {
  static InterleavingScheduler::State& St(InterleavingScheduler* s) { return *s->state_; }

  static bool Free(const InterleavingScheduler::State& st, const void* lock, LockKind kind) {
    auto it = st.locks.find(lock);
    if (it == st.locks.end()) return true;
    if (kind == LockKind::kRwsemRead) return it->second.writer < 0;
    return it->second.writer < 0 && it->second.readers == 0;
  }

  static uint64_t Enabled(const InterleavingScheduler::State& st) {
    uint64_t en = 0;
    for (size_t k = 0; k < st.threads.size(); ++k) {
      const auto& t = st.threads[k];
      if (!t.done && (t.want == nullptr || Free(st, t.want, t.want_kind))) en |= uint64_t{1} << k;
    }
    return en;
  }

  static std::vector<std::string> Positions(InterleavingScheduler* s) {
    std::vector<std::string> out;
    auto& st = St(s);
    for (size_t k = 0; k < st.threads.size(); ++k) {
      const auto& t = st.threads[k];
      std::string p = s->names_[k] + (t.done ? " finished" : " in " + t.position + ": " + t.where);
      if (!t.held.empty()) {
        p += " (holding";
        for (const auto& h : t.held) p += " " + h.second;
        p += ")";
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  // Called with st.mu held.
  static void Report(InterleavingScheduler* s, int me, std::string kind, std::string message) {
    SchedFinding f;
    f.kind = std::move(kind);
    f.message = std::move(message);
    f.point = s->points_.size();
    f.thread = me;
    f.positions = Positions(s);
    s->findings_.push_back(std::move(f));
  }

  static int Choose(InterleavingScheduler* s, int me, uint64_t en) {
    const size_t point = s->points_.size();
    int c = -1;
    if (s->chooser_) {
      c = s->chooser_(point, me, en);
      if (c < 0 || c >= 64 || !((en >> c) & 1)) c = -1;
    } else if (auto it = s->forced_.find(point); it != s->forced_.end()) {
      if (it->second >= 0 && it->second < 64 && ((en >> it->second) & 1)) {
        c = it->second;
      } else {
        s->diverged_ = true;
      }
    }
    const bool me_enabled = me >= 0 && ((en >> me) & 1);
    if (c < 0) c = me_enabled ? me : __builtin_ctzll(en);
    SchedPoint p;
    p.thread = me;
    p.enabled = en;
    p.chosen = c;
    p.preemption = me_enabled && c != me;
    p.where = me >= 0 ? St(s).threads[me].where : "start";
    if (me >= 0) p.position = St(s).threads[me].position;
    if (p.preemption) ++s->preemptions_;
    s->points_.push_back(std::move(p));
    return c;
  }

  // Everyone blocked: record it and park the calling thread for good. Called with the lock held.
  [[noreturn]] static void Deadlock(InterleavingScheduler* s, std::unique_lock<std::mutex>& lk, int me) {
    auto& st = St(s);
    std::string msg = "no thread can run:";
    for (size_t k = 0; k < st.threads.size(); ++k) {
      const auto& t = st.threads[k];
      if (t.done) continue;
      msg += " " + s->names_[k] + " waits for " + t.where.substr(t.where.find(' ') + 1) + ";";
    }
    msg.pop_back();
    Report(s, me, "deadlock", msg);
    st.deadlocked = true;
    st.running = -1;
    st.cv.notify_all();
    for (;;) st.cv.wait(lk);
  }

  // A scheduling point of thread me, which is about to do `where` (and to take `want`, when not NULL).
  static void Point(InterleavingScheduler* s, int me, std::string where, const void* want, LockKind kind) {
    auto& st = St(s);
    std::unique_lock<std::mutex> lk(st.mu);
    auto& t = st.threads[me];
    t.want = want;
    t.want_kind = kind;
    t.where = std::move(where);
    const uint64_t en = Enabled(st);
    if (en == 0) Deadlock(s, lk, me);
    const int c = Choose(s, me, en);
    if (c != me) {
      st.running = c;
      st.cv.notify_all();
      st.cv.wait(lk, [&st, me] { return st.running == me; });
    }
    t.want = nullptr;
  }

  static void Finish(InterleavingScheduler* s, int me) {
    auto& st = St(s);
    std::unique_lock<std::mutex> lk(st.mu);
    auto& t = st.threads[me];
    t.done = true;
    t.where = "finished";
    if (++st.done_count == st.threads.size()) {
      st.running = -1;
      st.cv.notify_all();
      return;
    }
    const uint64_t en = Enabled(st);
    if (en == 0) Deadlock(s, lk, me);
    st.running = Choose(s, me, en);
    st.cv.notify_all();
  }
};

namespace {

thread_local InterleavingScheduler* tl_sched = nullptr;
thread_local int tl_tid = -1;

std::string Demangle(const std::type_info* type) {
  if (type == nullptr) return "?";
  int status = 0;
  char* out = abi::__cxa_demangle(type->name(), nullptr, nullptr, &status);
  std::string s = status == 0 && out ? out : type->name();
  std::free(out);
  return s;
}

// Where the calling thread is, for an allocation or a free.
std::string HereLocked() {
  if (tl_sched == nullptr) return "outside the threads";
  auto& st = SchedAccess::St(tl_sched);
  const auto& t = st.threads[tl_tid];
  return tl_sched->names()[tl_tid] + " in " + t.position + " (after " + t.where + ")";
}

std::string Here() {
  if (tl_sched == nullptr) return "outside the threads";
  std::lock_guard<std::mutex> lk(SchedAccess::St(tl_sched).mu);
  return HereLocked();
}

// The quarantine.
struct Quarantine {
  struct Block {
    slab_header* header;
    size_t bytes;
    std::string allocated;
    std::string freed;
  };
  std::mutex mu;
  std::map<uintptr_t, Block> blocks;             // by object address
  std::map<uintptr_t, std::string> allocated;    // live objects allocated by a simulated thread
  std::vector<std::string> unattributed;         // reports outside every scheduler
};

Quarantine& quarantine() {
  static Quarantine* q = new Quarantine();
  return *q;
}

void AddFinding(const std::string& kind, const std::string& message) {
  if (tl_sched != nullptr) {
    auto& st = SchedAccess::St(tl_sched);
    std::lock_guard<std::mutex> lk(st.mu);
    SchedAccess::Report(tl_sched, tl_tid, kind, message);
    return;
  }
  Quarantine& q = quarantine();
  std::lock_guard<std::mutex> lk(q.mu);
  q.unattributed.push_back(kind + ": " + message);
}

bool QuarantineCheckFree(slab_header* header, const void* obj) {
  if (header->magic == kSlabLive) return true;
  std::string desc = QuarantineDescribe(obj);
  AddFinding("double-free", "kfree of " + (desc.empty() ? std::string("a pointer that is not a live object")
                                                        : desc) + ", again by " + Here());
  return false;
}

void QuarantineTake(slab_header* header, size_t bytes) {
  const uintptr_t obj = reinterpret_cast<uintptr_t>(header + 1);
  std::string freed = Here();
  Quarantine& q = quarantine();
  std::lock_guard<std::mutex> lk(q.mu);
  std::string allocated = "before the threads";
  if (auto it = q.allocated.find(obj); it != q.allocated.end()) {
    allocated = std::move(it->second);
    q.allocated.erase(it);
  }
  q.blocks[obj] = Quarantine::Block{header, bytes, std::move(allocated), std::move(freed)};
}

void QuarantineAlloc(slab_header* header, size_t /*bytes*/) {
  if (tl_sched == nullptr) return;
  std::string where = "by " + Here();
  Quarantine& q = quarantine();
  std::lock_guard<std::mutex> lk(q.mu);
  q.allocated[reinterpret_cast<uintptr_t>(header + 1)] = std::move(where);
}

constexpr slab_quarantine_ops kQuarantineOps = {QuarantineCheckFree, QuarantineTake, QuarantineAlloc};

const char* KindName(LockKind kind) { return lock_kind_name(kind); }

void LockHook(LockEvent event, LockKind kind, const void* lock, const char* name) {
  InterleavingScheduler* s = tl_sched;
  if (s == nullptr) return;
  const int me = tl_tid;
  auto& st = SchedAccess::St(s);
  switch (event) {
    case LockEvent::kAcquire: {
      SchedAccess::Point(s, me, std::string("acquire ") + KindName(kind) + " " + name, lock, kind);
      const std::string desc = QuarantineDescribe(lock);
      if (!desc.empty()) {
        AddFinding("use-after-free", std::string("lock of ") + KindName(kind) + " " + name + " inside " + desc +
                                         ", used by " + Here());
      }
      return;
    }
    case LockEvent::kAcquired: {
      std::lock_guard<std::mutex> lk(st.mu);
      auto& l = st.locks[lock];
      if (kind == LockKind::kRwsemRead) {
        ++l.readers;
      } else {
        l.writer = me;
      }
      st.threads[me].held.emplace_back(lock, std::string(KindName(kind)) + " " + name);
      st.threads[me].where = std::string("holding ") + KindName(kind) + " " + name;
      return;
    }
    case LockEvent::kRelease: {
      {
        std::lock_guard<std::mutex> lk(st.mu);
        auto it = st.locks.find(lock);
        if (it != st.locks.end()) {
          if (kind == LockKind::kRwsemRead) {
            --it->second.readers;
          } else {
            it->second.writer = -1;
          }
          if (it->second.readers <= 0 && it->second.writer < 0) st.locks.erase(it);
        }
        auto& held = st.threads[me].held;
        for (auto h = held.rbegin(); h != held.rend(); ++h) {
          if (h->first == lock) {
            held.erase(std::next(h).base());
            break;
          }
        }
      }
      SchedAccess::Point(s, me, std::string("released ") + KindName(kind) + " " + name, nullptr, kind);
      return;
    }
  }
}

void AtomicHook(const char* what, const void* /*object*/) {
  InterleavingScheduler* s = tl_sched;
  if (s == nullptr) return;
  SchedAccess::Point(s, tl_tid, what, nullptr, LockKind::kMutex);
}

void KrefHook(KrefEvent event, struct kref* kref) {
  InterleavingScheduler* s = tl_sched;
  if (s == nullptr) return;
  const char* what = event == KrefEvent::kPut ? "kref_put" : event == KrefEvent::kGet ? "kref_get" : "kref_get_unless_zero";
  SchedAccess::Point(s, tl_tid, what, nullptr, LockKind::kMutex);
  const std::string desc = QuarantineDescribe(kref);
  if (!desc.empty()) AddFinding("use-after-free", std::string(what) + " on " + desc + ", used by " + Here());
  const int value = kref_read(kref);
  if (event == KrefEvent::kPut && value <= 0) {
    AddFinding("kref-put-below-zero", std::string("kref_put of a count of ") + std::to_string(value) + " by " +
                                          Here());
  }
  if (event == KrefEvent::kGet && value == 0) {
    AddFinding("kref-get-from-zero", "kref_get of a count of 0 by " + Here());
  }
}

}  // namespace

std::string FormatSchedule(const std::map<size_t, int>& schedule) {
  std::string out;
  for (const auto& [point, thread] : schedule) {
    if (!out.empty()) out += ',';
    out += std::to_string(point) + ":" + std::to_string(thread);
  }
  return out;
}

bool ParseSchedule(const std::string& text, std::map<size_t, int>* schedule, std::string* error) {
  schedule->clear();
  size_t pos = 0;
  long long last = -1;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(pos, comma - pos);
    const size_t colon = item.find(':');
    char* end = nullptr;
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size()) {
      *error = "'" + item + "' is not point:thread";
      return false;
    }
    const long long point = std::strtoll(item.c_str(), &end, 10);
    if (end != item.c_str() + colon || point < 0) {
      *error = "'" + item + "': bad point";
      return false;
    }
    const long thread = std::strtol(item.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || thread < 0 || thread >= 64) {
      *error = "'" + item + "': bad thread (0..63)";
      return false;
    }
    if (point <= last) {
      *error = "points must increase ('" + item + "')";
      return false;
    }
    last = point;
    (*schedule)[static_cast<size_t>(point)] = static_cast<int>(thread);
    pos = comma + 1;
  }
  return true;
}

InterleavingScheduler::InterleavingScheduler(std::vector<std::string> names, std::map<size_t, int> forced)
    : names_(std::move(names)), forced_(std::move(forced)) {}

InterleavingScheduler::~InterleavingScheduler() {
  if (state_ != nullptr && !state_->deadlocked) delete state_;
}

bool InterleavingScheduler::Run(const std::function<void(size_t)>& body) {
  const size_t n = names_.size();
  if (n == 0) return true;
  if (n > 64 || state_ != nullptr) std::abort();  // a usage error of the tool, not of the simulated kernel
  state_ = new State();
  state_->threads.resize(n);
  set_lock_hook(LockHook);
  set_kref_hook(KrefHook);
  set_atomic_point_hook(AtomicHook);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t k = 0; k < n; ++k) {
    threads.emplace_back([this, k, &body] {
      tl_sched = this;
      tl_tid = static_cast<int>(k);
      {
        std::unique_lock<std::mutex> lk(state_->mu);
        state_->cv.wait(lk, [this, k] { return state_->running == static_cast<int>(k); });
      }
      body(k);
      SchedAccess::Finish(this, static_cast<int>(k));
      tl_sched = nullptr;
      tl_tid = -1;
    });
  }
  bool deadlocked = false;
  {
    std::unique_lock<std::mutex> lk(state_->mu);
    state_->running = SchedAccess::Choose(this, -1, (n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1));
    state_->cv.notify_all();
    state_->cv.wait(lk, [this, n] { return state_->done_count == n || state_->deadlocked; });
    deadlocked = state_->deadlocked;
  }
  set_lock_hook(nullptr);
  set_kref_hook(nullptr);
  set_atomic_point_hook(nullptr);
  for (std::thread& t : threads) {
    if (deadlocked) {
      t.detach();
    } else {
      t.join();
    }
  }
  return !deadlocked;
}

void InterleavingScheduler::OpBoundary(const std::string& label, bool before) {
  InterleavingScheduler* s = tl_sched;
  if (s == nullptr) return;
  const int me = tl_tid;
  auto& st = SchedAccess::St(s);
  if (before) {
    {
      std::lock_guard<std::mutex> lk(st.mu);
      st.threads[me].position = label;
    }
    SchedAccess::Point(s, me, "system call entry", nullptr, LockKind::kMutex);
    return;
  }
  std::lock_guard<std::mutex> lk(st.mu);
  auto& t = st.threads[me];
  if (!t.held.empty()) {
    std::string msg = label + " returned to userspace holding";
    for (const auto& h : t.held) msg += " " + h.second;
    SchedAccess::Report(s, me, "lock-held-at-return", msg);
  }
  t.where = "returned";
}

std::map<size_t, int> InterleavingScheduler::Deviations() const {
  std::map<size_t, int> out;
  for (size_t p = 0; p < points_.size(); ++p) {
    const SchedPoint& sp = points_[p];
    const bool cur = sp.thread >= 0 && ((sp.enabled >> sp.thread) & 1);
    const int def = cur ? sp.thread : __builtin_ctzll(sp.enabled);
    if (sp.chosen != def) out[p] = sp.chosen;
  }
  return out;
}

void QuarantineBegin() { set_slab_quarantine(&kQuarantineOps); }

std::vector<std::string> QuarantineEnd() {
  set_slab_quarantine(nullptr);
  Quarantine& q = quarantine();
  std::lock_guard<std::mutex> lk(q.mu);
  std::vector<std::string> reports = std::move(q.unattributed);
  for (auto& [obj, block] : q.blocks) ::operator delete(static_cast<void*>(block.header));
  q.blocks.clear();
  q.allocated.clear();
  q.unattributed.clear();
  return reports;
}

std::string QuarantineDescribe(const void* addr) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  Quarantine& q = quarantine();
  std::lock_guard<std::mutex> lk(q.mu);
  auto it = q.blocks.upper_bound(a);
  if (it == q.blocks.begin()) return "";
  --it;
  if (a >= it->first + it->second.bytes) return "";
  // The offset only: addresses differ from run to run, and a replay must print the same.
  char buf[64];
  std::snprintf(buf, sizeof(buf), " (offset %zu)", static_cast<size_t>(a - it->first));
  return "freed " + Demangle(it->second.header->type) + buf + " (allocated " + it->second.allocated +
         "; freed by " + it->second.freed + ")";
}

}  // namespace ionsim::kernel
