// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/seq_file.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "model/kernel/bug.h"
#include "model/kernel/gfp.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

// Mirrors fs/seq_file.c:single_start() @ v4.4: the one record of a single_open() file.
void* const kSingleRecord = reinterpret_cast<void*>(1);

// Mirrors fs/seq_file.c:traverse() @ v4.4 from the start of a single_open() file: runs show() into an empty
// buffer. A negative return leaves nothing rendered; SEQ_SKIP (a positive return) discards the output.
int seq_render(struct seq_file* m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(m->lock) {
  m->buf.clear();
  m->rendered = false;
  const int err = m->show(m, kSingleRecord);
  if (err < 0) {
    m->buf.clear();
    return err;
  }
  if (err > 0) m->buf.clear();
  m->rendered = true;
  return 0;
}

}  // namespace

// Mirrors fs/seq_file.c:seq_printf() @ v4.4.
// Divergence: the buffer grows to fit, so nothing overflows (see seq_file.h).
void seq_printf(struct seq_file* s, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list copy;
  va_copy(copy, args);
  char small[256];
  const int len = std::vsnprintf(small, sizeof(small), fmt, args);
  va_end(args);
  if (len > 0 && static_cast<size_t>(len) < sizeof(small)) {
    s->buf.append(small, static_cast<size_t>(len));
  } else if (len > 0) {
    const size_t old = s->buf.size();
    s->buf.resize(old + static_cast<size_t>(len) + 1);
    std::vsnprintf(s->buf.data() + old, static_cast<size_t>(len) + 1, fmt, copy);
    s->buf.resize(old + static_cast<size_t>(len));
  }
  va_end(copy);
}

// Mirrors fs/seq_file.c:seq_puts() @ v4.4.
void seq_puts(struct seq_file* s, const char* str) { s->buf.append(str); }

// Mirrors fs/seq_file.c:seq_putc() @ v4.4.
void seq_putc(struct seq_file* s, char c) { s->buf.push_back(c); }

// Mirrors fs/seq_file.c:single_open() -> seq_open() @ v4.4.
int single_open(struct file* file, int (*show)(struct seq_file* s, void* v), void* data) {
  // seq_open().
  WARN_ON(file->private_data != nullptr);
  struct seq_file* m = kzalloc<struct seq_file>(GFP_KERNEL);
  if (m == nullptr) return -ENOMEM;
  mutex_init(&m->lock, "seq_file->lock");
  m->show = show;
  m->private_ = data;
  file->private_data = m;
  return 0;
}

// Mirrors fs/seq_file.c:single_release() @ v4.4.
int single_release(struct inode* /*inode*/, struct file* file) {
  kfree(static_cast<struct seq_file*>(file->private_data));
  return 0;
}

// Mirrors fs/seq_file.c:seq_read() @ v4.4 for a single_open() file.
ssize_t seq_read(struct file* file, user_ptr_t buf, size_t size, loff_t* pos) {
  struct seq_file* m = static_cast<struct seq_file*>(file->private_data);
  mutex_lock(&m->lock);
  if (!m->rendered) {
    const int err = seq_render(m);
    if (err < 0) {
      mutex_unlock(&m->lock);
      return err;
    }
  }
  const size_t total = m->buf.size();
  const size_t from = *pos < 0 ? total : static_cast<size_t>(*pos);
  if (from >= total || size == 0) {
    mutex_unlock(&m->lock);
    return 0;
  }
  const size_t n = std::min(size, total - from);
  if (copy_to_user(buf, m->buf.data() + from, n) != 0) {
    mutex_unlock(&m->lock);
    return -EFAULT;
  }
  *pos += static_cast<loff_t>(n);
  mutex_unlock(&m->lock);
  return static_cast<ssize_t>(n);
}

// Mirrors fs/seq_file.c:seq_lseek() @ v4.4.
loff_t seq_lseek(struct file* file, loff_t offset, int whence) {
  struct seq_file* m = static_cast<struct seq_file*>(file->private_data);
  mutex_lock(&m->lock);
  loff_t retval = -EINVAL;
  switch (whence) {
    case SEEK_CUR:
      offset = static_cast<loff_t>(static_cast<unsigned long long>(offset) +
                                   static_cast<unsigned long long>(file->f_pos));
      [[fallthrough]];
    case SEEK_SET:
      if (offset < 0) break;
      retval = offset;
      if (offset == file->f_pos) break;
      if (offset == 0) {
        // traverse() to 0 only rewinds: the next read renders.
        m->rendered = false;
        m->buf.clear();
      } else {
        const int err = seq_render(m);
        if (err < 0) {
          file->f_pos = 0;
          retval = err;
          break;
        }
      }
      file->f_pos = offset;
      break;
    default:
      break;
  }
  mutex_unlock(&m->lock);
  return retval;
}

}  // namespace ionsim::kernel
