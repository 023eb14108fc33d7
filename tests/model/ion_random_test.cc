// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Random operation sequences against the ION model from several processes: ALLOC (legacy and 4.12), FREE of
// live and dead ids, SHARE, MAP, IMPORT of good and bad fds, SYNC, HEAP_QUERY, DMA_BUF_IOCTL_SYNC START/END
// pairs, mmap/munmap and touches of the mappings, dup, pass_fd, fork, exit, reopen of /dev/ion, the
// deferred-free thread and debugfs reads. The rule pinned: whatever userspace does, the model answers with an
// errno and never crashes, every invariant holds after every operation (the checking fixture), and tearing the
// machine down returns every object and page (the test main).
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "model/kernel/bug.h"
#include "model/kernel/dma_buf.h"
#include "model/kernel/mm_user.h"
#include "tests/testing/errno_matchers.h"
#include "tests/testing/ion_fixture.h"

namespace ionsim::testing {
namespace {

constexpr int kProtRw = 0x3;
constexpr int kMapShared = 0x01;

struct Proc {
  std::unique_ptr<LibIon> ion;
  std::vector<int> ion_fds;
  std::vector<int> dmabuf_fds;
  std::map<int, std::vector<int>> handles;  // ion fd -> ids it may hold
  std::vector<std::pair<uint64_t, size_t>> maps;
  std::map<int, int> started;               // dma-buf fd -> START count not yet ENDed
};

class IonRandomTest : public IonTest, public ::testing::WithParamInterface<int> {
 protected:
  template <typename T>
  static T Pick(std::mt19937& rng, const std::vector<T>& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
  }

  void Step(std::mt19937& rng, std::vector<Proc>& procs) {
    Proc& p = procs[std::uniform_int_distribution<size_t>(0, procs.size() - 1)(rng)];
    LibIon& ion = *p.ion;
    const int op = std::uniform_int_distribution<int>(0, 19)(rng);
    const size_t sizes[] = {1, 4096, 8192, 12288, 65536, 1 << 20, 3 << 20, 0};
    const size_t len = sizes[std::uniform_int_distribution<int>(0, 7)(rng)];
    const unsigned int mask = std::uniform_int_distribution<unsigned int>(0, 7)(rng);
    switch (op) {
      case 0:
      case 1:
      case 2: {
        if (p.ion_fds.empty()) break;
        const int fd = Pick(rng, p.ion_fds);
        const unsigned int flags = std::uniform_int_distribution<unsigned int>(0, 3)(rng);
        ErrnoOr<int> id = ion.Alloc(fd, len, rng() % 3 == 0 ? 8192 : 0, mask, flags);
        if (id.ok()) p.handles[fd].push_back(id.value());
        break;
      }
      case 3:
      case 4: {
        if (p.ion_fds.empty()) break;
        const int fd = Pick(rng, p.ion_fds);
        std::vector<int>& ids = p.handles[fd];
        const int id = ids.empty() || rng() % 4 == 0 ? static_cast<int>(rng() % 8) : Pick(rng, ids);
        ion.Free(fd, id).IgnoreError();
        break;
      }
      case 5:
      case 6: {
        if (p.ion_fds.empty()) break;
        const int fd = Pick(rng, p.ion_fds);
        std::vector<int>& ids = p.handles[fd];
        const int id = ids.empty() ? 1 : Pick(rng, ids);
        ErrnoOr<int> share = op == 5 ? ion.Share(fd, id) : ion.Map(fd, id);
        if (share.ok()) p.dmabuf_fds.push_back(share.value());
        break;
      }
      case 7: {
        if (p.ion_fds.empty()) break;
        const int fd = Pick(rng, p.ion_fds);
        const int src = p.dmabuf_fds.empty() || rng() % 4 == 0 ? static_cast<int>(rng() % 12) : Pick(rng, p.dmabuf_fds);
        ErrnoOr<int> id = ion.Import(fd, src);
        if (id.ok()) p.handles[fd].push_back(id.value());
        break;
      }
      case 8: {
        if (p.ion_fds.empty()) break;
        ErrnoOr<int> fd = ion.AllocFd(Pick(rng, p.ion_fds), len, mask, 0);
        if (fd.ok()) p.dmabuf_fds.push_back(fd.value());
        break;
      }
      case 9: {
        if (p.dmabuf_fds.empty()) break;
        const int fd = Pick(rng, p.dmabuf_fds);
        ErrnoOr<uint64_t> addr =
            backend_->mmap(ion.proc(), 0, 4096 * (1 + rng() % 3), kProtRw, kMapShared, fd, 4096 * (rng() % 2));
        if (addr.ok()) p.maps.emplace_back(addr.value(), 4096);
        break;
      }
      case 10: {
        if (p.maps.empty()) break;
        const size_t i = rng() % p.maps.size();
        const uint64_t v = rng();
        backend_->poke(ion.proc(), p.maps[i].first, &v, sizeof(v)).IgnoreError();
        uint64_t back = 0;
        backend_->peek(ion.proc(), p.maps[i].first, &back, sizeof(back)).IgnoreError();
        if (rng() % 2) {
          backend_->munmap(ion.proc(), p.maps[i].first, p.maps[i].second).IgnoreError();
          p.maps.erase(p.maps.begin() + static_cast<long>(i));
        }
        break;
      }
      case 11: {
        // DMA_BUF_IOCTL_SYNC: START, or END only after a START (an unpaired END is the v4.4 kmap_cnt underflow,
        // which the invariant checker rightly reports; ion_lifetime_test pins it on its own).
        if (p.dmabuf_fds.empty()) break;
        const int fd = Pick(rng, p.dmabuf_fds);
        if (p.started[fd] > 0 && rng() % 2) {
          if (ion.DmaBufSync(fd, kernel::DMA_BUF_SYNC_END | kernel::DMA_BUF_SYNC_RW).ok()) p.started[fd]--;
        } else if (ion.DmaBufSync(fd, kernel::DMA_BUF_SYNC_START | kernel::DMA_BUF_SYNC_READ).ok()) {
          p.started[fd]++;
        }
        break;
      }
      case 12: {
        if (p.ion_fds.empty() || p.dmabuf_fds.empty()) break;
        ion.Sync(Pick(rng, p.ion_fds), Pick(rng, p.dmabuf_fds)).IgnoreError();
        break;
      }
      case 13: {
        // Close a dma-buf fd once every START on it is ENDed (the file holds the kmaps otherwise).
        if (p.dmabuf_fds.empty()) break;
        const size_t i = rng() % p.dmabuf_fds.size();
        const int fd = p.dmabuf_fds[i];
        while (p.started[fd] > 0 && ion.DmaBufSync(fd, kernel::DMA_BUF_SYNC_END | kernel::DMA_BUF_SYNC_RW).ok()) {
          p.started[fd]--;
        }
        p.started.erase(fd);
        backend_->close(ion.proc(), fd).IgnoreError();
        p.dmabuf_fds.erase(p.dmabuf_fds.begin() + static_cast<long>(i));
        break;
      }
      case 14: {
        if (rng() % 2 && !p.ion_fds.empty()) {
          const size_t i = rng() % p.ion_fds.size();
          backend_->close(ion.proc(), p.ion_fds[i]).IgnoreError();
          p.handles.erase(p.ion_fds[i]);
          p.ion_fds.erase(p.ion_fds.begin() + static_cast<long>(i));
        } else {
          ErrnoOr<int> fd = ion.Open();
          if (fd.ok()) p.ion_fds.push_back(fd.value());
        }
        break;
      }
      case 15: {
        if (p.ion_fds.empty()) break;
        ion.HeapCount(Pick(rng, p.ion_fds)).IgnoreError();
        ion.QueryHeaps(Pick(rng, p.ion_fds), 1 + rng() % 3).IgnoreError();
        break;
      }
      case 16: {
        // Pass a dma-buf to another process, which imports it.
        if (p.dmabuf_fds.empty()) break;
        Proc& q = procs[rng() % procs.size()];
        if (q.ion_fds.empty()) break;
        ErrnoOr<int> got = backend_->pass_fd(ion.proc(), Pick(rng, p.dmabuf_fds), q.ion->proc());
        if (!got.ok()) break;
        q.dmabuf_fds.push_back(got.value());
        ErrnoOr<int> id = q.ion->Import(Pick(rng, q.ion_fds), got.value());
        if (id.ok()) q.handles[q.ion_fds.front()].push_back(id.value());
        break;
      }
      case 17: {
        // A raw ioctl with a garbage command and an argument that may be unmapped.
        if (p.ion_fds.empty()) break;
        const unsigned int cmd = static_cast<unsigned int>(rng());
        backend_->ioctl(ion.proc(), Pick(rng, p.ion_fds), cmd, rng() % 2 ? ion.Scratch() : rng()).IgnoreError();
        // An unknown command with a valid pointer may still match a real one by chance only for nr 0..8.
        break;
      }
      case 18: {
        backend_->run_deferred_free().IgnoreError();
        backend_->debugfs_read("ion/heaps/carveout").IgnoreError();
        backend_->debugfs_read("ion/heaps/system_contig").IgnoreError();
        backend_->debugfs_write("ion/heaps/carveout_shrink", std::to_string(rng() % 4)).IgnoreError();
        break;
      }
      case 19: {
        if (rng() % 3) break;
        ErrnoOr<int> dup = p.dmabuf_fds.empty() ? ErrnoOr<int>(Errno(-EBADF))
                                                 : backend_->dup(ion.proc(), Pick(rng, p.dmabuf_fds));
        if (dup.ok()) p.dmabuf_fds.push_back(dup.value());
        break;
      }
    }
  }
};

TEST_P(IonRandomTest, AnySequenceOfUserspaceOperationsKeepsEveryInvariant) {
  std::mt19937 rng(static_cast<uint32_t>(GetParam()));
  kernel::set_bug_printing(false);
  std::vector<Proc> procs(3);
  for (size_t i = 0; i < procs.size(); i++) {
    procs[i].ion = i == 0 ? std::make_unique<LibIon>(backend_.get(), proc_) : NewProcess("p" + std::to_string(i));
    ErrnoOr<int> fd = procs[i].ion->Open();
    ASSERT_THAT(fd, IsOk());
    procs[i].ion_fds.push_back(fd.value());
  }
  for (int step = 0; step < 400 && !HasFailure(); step++) Step(rng, procs);
  // End every CPU access still open, so teardown destroys no kmapped buffer (that WARN is pinned below).
  for (Proc& p : procs) {
    for (auto& [fd, n] : p.started) {
      for (; n > 0; n--) p.ion->DmaBufSync(fd, kernel::DMA_BUF_SYNC_END | kernel::DMA_BUF_SYNC_RW).IgnoreError();
    }
  }
  // Random garbage commands may hit ION_IOC_HEAP_QUERY with nonzero reserved fields (a WARN_ON_ONCE upstream);
  // no other WARN or BUG may happen.
  for (const kernel::BugEvent& e : kernel::bug_events()) {
    EXPECT_THAT(e.message, ::testing::HasSubstr("WARN_ON_ONCE(ret)")) << kernel::format_bug_events();
  }
  kernel::clear_bug_events();
  kernel::set_bug_printing(true);
}

INSTANTIATE_TEST_SUITE_P(Seeds, IonRandomTest, ::testing::Range(1, 41));

class IonExitTest : public IonTest {};

// DMA_BUF_IOCTL_SYNC START kmaps the buffer and only END unmaps it; nothing ties the kmap to the file, so a
// process that exits in between leaves the count up, and the buffer's destroy finds it mapped:
// ion_buffer_destroy() WARNs and unmaps (v4.4). Userspace can reach this WARN.
TEST_F(IonExitTest, ProcessExitingBetweenSyncStartAndEndMakesTheBufferDestroyWarn) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, 1U << 2, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  ASSERT_THAT(ion_->DmaBufSync(share.value(), kernel::DMA_BUF_SYNC_START | kernel::DMA_BUF_SYNC_RW), IsOk());
  kernel::set_bug_printing(false);
  ASSERT_THAT(backend_->exit(proc_), IsOk());
  // The carveout defers the destroy: the WARN comes when the deferred-free thread runs.
  EXPECT_EQ(kernel::bug_event_count(kernel::BugKind::kWarn), 0U);
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  ASSERT_EQ(kernel::bug_event_count(kernel::BugKind::kWarn), 1U);
  EXPECT_THAT(kernel::bug_events()[0].message, ::testing::HasSubstr("kmap_cnt > 0"));
  EXPECT_EQ(kernel::vmap_area_count(), 0U);  // the kernel mapping was still torn down
  kernel::clear_bug_events();
  kernel::set_bug_printing(true);
}

}  // namespace
}  // namespace ionsim::testing
