// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// seq_file as fs/seq_file.c @ v4.4 serves single_open() files: the show function renders the whole file into a
// buffer on the first read, and read() hands it out from the file position. show() is called with v == (void*)1,
// the token single_start() hands it, and reads its data from s->private_.
//
// Divergence: the buffer grows as show() writes, so show() runs once per rendering; upstream starts with a page
// and calls show() again with a buffer twice as large each time the output overflowed it.
#ifndef MODEL_KERNEL_SEQ_FILE_H_
#define MODEL_KERNEL_SEQ_FILE_H_

#include <string>

#include "model/kernel/fs.h"
#include "model/kernel/lock.h"

namespace ionsim::kernel {

// Mirrors include/linux/seq_file.h:struct seq_file @ v4.4.
struct seq_file {
  std::string buf;      // the rendered file
  bool rendered;        // show() has run for this open file
  void* private_;       // `private` upstream (a C++ keyword)
  int (*show)(struct seq_file* s, void* v);
  struct mutex lock;    // held by seq_read() and seq_lseek(), across show(), as upstream
};

// Mirrors fs/seq_file.c:seq_printf() @ v4.4.
void seq_printf(struct seq_file* s, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// Mirrors fs/seq_file.c:seq_puts() @ v4.4.
void seq_puts(struct seq_file* s, const char* str);
// Mirrors fs/seq_file.c:seq_putc() @ v4.4.
void seq_putc(struct seq_file* s, char c);

// Mirrors fs/seq_file.c:single_open() @ v4.4: file->private_data becomes a seq_file whose private_ is data;
// -ENOMEM when the allocation fails. WARNs when file->private_data is already set, as seq_open() does.
int single_open(struct file* file, int (*show)(struct seq_file* s, void* v), void* data);
// Mirrors fs/seq_file.c:single_release() @ v4.4.
int single_release(struct inode* inode, struct file* file);
// Mirrors fs/seq_file.c:seq_read() @ v4.4: renders on the first read, then copies from *pos with copy_to_user;
// a short copy is -EFAULT and consumes nothing (upstream counts only whole copies, and a single_open file takes
// one per read); the show function's negative return is the read's error, and the next read renders again.
ssize_t seq_read(struct file* file, user_ptr_t buf, size_t size, loff_t* pos);
// Mirrors fs/seq_file.c:seq_lseek() @ v4.4 (SEEK_SET and SEEK_CUR; -EINVAL otherwise or for a negative result).
// Moving to another position renders the file again: at once (traverse) for a non-zero offset, at the next read
// for offset 0; a show() error there resets the file to position 0 and is lseek's error.
loff_t seq_lseek(struct file* file, loff_t offset, int whence);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_SEQ_FILE_H_
