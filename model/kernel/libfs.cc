// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/libfs.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "model/kernel/mm_user.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

int lower(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }
bool is_xdigit(int c) { return (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f'); }

}  // namespace

unsigned long long simple_strtoull(const char* cp, char** endp, unsigned int base) {
  // The radix: only base 0 guesses, and only base 16 skips a "0x".
  if (base == 0) {
    if (cp[0] == '0') {
      base = (lower(cp[1]) == 'x' && is_xdigit(cp[2])) ? 16 : 8;
    } else {
      base = 10;
    }
  }
  if (base == 16 && cp[0] == '0' && lower(cp[1]) == 'x') cp += 2;
  unsigned long long result = 0;
  for (;; cp++) {
    unsigned int val;
    const int c = lower(static_cast<unsigned char>(*cp));
    if (c >= '0' && c <= '9') {
      val = static_cast<unsigned int>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      val = static_cast<unsigned int>(c - 'a' + 10);
    } else {
      break;
    }
    if (val >= base) break;
    result = result * base + val;  // unsigned: wraps on overflow, as upstream (which only flags it)
  }
  if (endp) *endp = const_cast<char*>(cp);
  return result;
}

long long simple_strtoll(const char* cp, char** endp, unsigned int base) {
  if (*cp == '-') return static_cast<long long>(0ULL - simple_strtoull(cp + 1, endp, base));
  return static_cast<long long>(simple_strtoull(cp, endp, base));
}

ssize_t simple_read_from_buffer(user_ptr_t to, size_t count, loff_t* ppos, const void* from, size_t available) {
  const loff_t pos = *ppos;
  if (pos < 0) return -EINVAL;
  if (static_cast<size_t>(pos) >= available || !count) return 0;
  if (count > available - static_cast<size_t>(pos)) count = available - static_cast<size_t>(pos);
  const unsigned long ret = copy_to_user(to, static_cast<const char*>(from) + pos, count);
  if (ret == count) return -EFAULT;
  count -= ret;
  *ppos = pos + static_cast<loff_t>(count);
  return static_cast<ssize_t>(count);
}

int simple_attr_open(struct inode* inode, struct file* file, int (*get)(void*, unsigned long long*),
                     int (*set)(void*, unsigned long long), const char* fmt) {
  struct simple_attr* attr = kzalloc<struct simple_attr>(GFP_KERNEL);
  if (!attr) return -ENOMEM;
  attr->get = get;
  attr->set = set;
  attr->data = inode->i_private;
  attr->fmt = fmt;
  mutex_init(&attr->mutex, "simple_attr.mutex");
  file->private_data = attr;
  // nonseekable_open() upstream: the file has no FMODE_LSEEK.
  file->f_mode &= ~FMODE_LSEEK;
  return 0;
}

int simple_attr_release(struct inode* /*inode*/, struct file* file) {
  kfree(static_cast<struct simple_attr*>(file->private_data));
  return 0;
}

ssize_t simple_attr_read(struct file* file, user_ptr_t buf, size_t len, loff_t* ppos) {
  struct simple_attr* attr = static_cast<struct simple_attr*>(file->private_data);
  if (!attr->get) return -EACCES;
  // mutex_lock_interruptible upstream: the model has no signals, so it never fails.
  mutex_lock(&attr->mutex);
  ssize_t ret;
  size_t size;
  if (*ppos) {  // a continued read: the text saved at the first read
    size = std::strlen(attr->get_buf);
  } else {  // a first read
    unsigned long long val = 0;
    ret = attr->get(attr->data, &val);
    if (ret) {
      mutex_unlock(&attr->mutex);
      return ret;
    }
    // scnprintf: the length actually stored.
    const int n = std::snprintf(attr->get_buf, sizeof(attr->get_buf), attr->fmt, val);
    size = std::min(static_cast<size_t>(n < 0 ? 0 : n), sizeof(attr->get_buf) - 1);
  }
  ret = simple_read_from_buffer(buf, len, ppos, attr->get_buf, size);
  mutex_unlock(&attr->mutex);
  return ret;
}

ssize_t simple_attr_write(struct file* file, user_ptr_t buf, size_t len, loff_t* /*ppos*/) {
  struct simple_attr* attr = static_cast<struct simple_attr*>(file->private_data);
  if (!attr->set) return -EACCES;
  mutex_lock(&attr->mutex);
  ssize_t ret = -EFAULT;
  const size_t size = std::min(sizeof(attr->set_buf) - 1, len);
  if (copy_from_user(attr->set_buf, buf, size) == 0) {
    attr->set_buf[size] = '\0';
    const unsigned long long val = static_cast<unsigned long long>(simple_strtoll(attr->set_buf, nullptr, 0));
    ret = attr->set(attr->data, val);
    if (ret == 0) ret = static_cast<ssize_t>(len);  // on success, the whole input is claimed
  }
  mutex_unlock(&attr->mutex);
  return ret;
}

}  // namespace ionsim::kernel
