// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The simple attribute files of fs/libfs.c (DEFINE_SIMPLE_ATTRIBUTE, the `_shrink` files of ION), the
// buffer helper they read through, and the number parser they write through (lib/vsprintf.c's simple_strtoll):
//   - a read at offset 0 formats the value into the open file's saved text; a read at any other offset continues
//     from that saved text, whatever the value is now;
//   - a write parses at most 23 bytes with simple_strtoll (base 0): no leading blanks and no '+', digits up to
//     the first character that is not one, and a value that does not fit wraps modulo 2^64 (no error);
//   - both run under the attribute's mutex, one per open file.
#ifndef MODEL_KERNEL_LIBFS_H_
#define MODEL_KERNEL_LIBFS_H_

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

#include "model/kernel/fs.h"
#include "model/kernel/lock.h"

namespace ionsim::kernel {

// Mirrors lib/vsprintf.c:simple_strtoull() @ v4.4 (lib/kstrtox.c's _parse_integer_fixup_radix() and
// _parse_integer()): base 0 picks 16 for "0x" followed by a hex digit, 8 for a leading 0, else 10; the result
// wraps on overflow.
unsigned long long simple_strtoull(const char* cp, char** endp, unsigned int base);
// Mirrors lib/vsprintf.c:simple_strtoll() @ v4.4: a leading '-' negates the unsigned parse of the rest.
long long simple_strtoll(const char* cp, char** endp, unsigned int base);

// Mirrors fs/libfs.c:simple_read_from_buffer() @ v4.4.
ssize_t simple_read_from_buffer(user_ptr_t to, size_t count, loff_t* ppos, const void* from, size_t available);

// Mirrors fs/libfs.c:struct simple_attr @ v4.4.
struct simple_attr {
  int (*get)(void*, unsigned long long*);
  int (*set)(void*, unsigned long long);
  char get_buf[24];  // enough for a u64 and "\n\0"
  char set_buf[24];
  void* data;
  const char* fmt;  // format of a read: one unsigned long long
  struct mutex mutex;  // protects the buffers
};

// Mirrors fs/libfs.c:simple_attr_open() @ v4.4.
int simple_attr_open(struct inode* inode, struct file* file, int (*get)(void*, unsigned long long*),
                     int (*set)(void*, unsigned long long), const char* fmt);
// Mirrors fs/libfs.c:simple_attr_release() @ v4.4.
int simple_attr_release(struct inode* inode, struct file* file);
// Mirrors fs/libfs.c:simple_attr_read() @ v4.4.
ssize_t simple_attr_read(struct file* file, user_ptr_t buf, size_t len, loff_t* ppos);
// Mirrors fs/libfs.c:simple_attr_write() @ v4.4.
ssize_t simple_attr_write(struct file* file, user_ptr_t buf, size_t len, loff_t* ppos);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_LIBFS_H_
