/* Atomic file writes, one helper for every writer (checkpoints, caches, PNGs, summaries): the bytes go
 * to a temporary file beside the target with a name no other writer uses (PATH.tmp-PID-N, N counted
 * per process), which is flushed, fsync'ed, renamed over the target, and then the folder is fsync'ed.
 * A reader sees the old file or the new one, never a mix; concurrent writers never share a temporary
 * file; a failure removes the temporary file and leaves the target untouched. */
#include "io/io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vkn_io_atomic {
    FILE *f;
    char *path, *tmp, *what;
    int failed;   /* a write already failed: commit refuses */
};

/* Fail here when the tests ask for it, as the real call would (errno set). */
static int inject(int point, int err)
{
    if (vkn_io_fail_point != point) return 0;
    errno = err;
    return 1;
}

static void fsync_dir(const char *path)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    fsync(fd);   /* best effort: the rename is already done, and some filesystems refuse this */
    close(fd);
}

static void atomic_free(vkn_io_atomic *a)
{
    free(a->path), free(a->tmp), free(a->what), free(a);
}

vkn_status vkn_io_atomic_open(const char *path, const char *what, vkn_io_atomic **out)
{
    *out = NULL;
    if (!what) what = "write";
    if (!path || !path[0]) return vkn_status_set(VKN_ERR_ARG, "%s: empty file name", what);
    if (strlen(path) > 4096) return vkn_status_set(VKN_ERR_ARG, "%s: %.200s...: path too long", what, path);
    vkn_io_atomic *a = calloc(1, sizeof *a);
    size_t cap = strlen(path) + 48;
    if (a) a->path = strdup(path), a->what = strdup(what), a->tmp = malloc(cap);
    if (!a || !a->path || !a->what || !a->tmp) {
        if (a) atomic_free(a);
        return vkn_status_set(VKN_ERR_HOST_OOM, "%s: %s: out of memory", what, path);
    }
    static int counter;   /* with the pid: unique among this machine's writers */
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        snprintf(a->tmp, cap, "%s.tmp-%ld-%d", path, (long)getpid(), __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
        fd = inject(VKN_IO_FAIL_CREATE, EACCES) ? -1 : open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        vkn_status s = vkn_status_set(VKN_ERR_IO, "%s: %s: cannot create a temporary file beside it (%s) (check "
                                      "the folder exists and is writable)", what, path, strerror(errno));
        atomic_free(a);
        return s;
    }
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        vkn_status s = vkn_status_set(VKN_ERR_IO, "%s: %s: %s", what, a->tmp, strerror(errno));
        close(fd);
        unlink(a->tmp);
        atomic_free(a);
        return s;
    }
    *out = a;
    return VKN_OK;
}

FILE *vkn_io_atomic_file(vkn_io_atomic *a) { return a->f; }

vkn_status vkn_io_atomic_write(vkn_io_atomic *a, const void *data, size_t len)
{
    if (a->failed) return VKN_ERR_IO;
    if (len && fwrite(data, 1, len, a->f) != len) {
        a->failed = 1;
        return vkn_status_set(VKN_ERR_IO, "%s: %s: write failed (%s) (check free disk space); the previous file is "
                              "untouched", a->what, a->path, strerror(errno));
    }
    return VKN_OK;
}

void vkn_io_atomic_abort(vkn_io_atomic *a)
{
    if (!a) return;
    if (a->f) fclose(a->f);
    unlink(a->tmp);
    atomic_free(a);
}

vkn_status vkn_io_atomic_commit(vkn_io_atomic *a)
{
    vkn_status s = VKN_OK;
    int ok = !a->failed && !ferror(a->f) && !inject(VKN_IO_FAIL_WRITE, ENOSPC);
    if (ok) ok = fflush(a->f) == 0;
    if (!ok) {
        if (!a->failed)
            s = vkn_status_set(VKN_ERR_IO, "%s: %s: write failed (%s) (check free disk space); the previous file is "
                               "untouched", a->what, a->path, strerror(errno));
        else
            s = VKN_ERR_IO;   /* the detail of the failed write stands */
        goto fail;
    }
    if (inject(VKN_IO_FAIL_FSYNC, EIO) || fsync(fileno(a->f)) != 0) {
        s = vkn_status_set(VKN_ERR_IO, "%s: %s: fsync failed (%s); the previous file is untouched", a->what, a->path,
                           strerror(errno));
        goto fail;
    }
    FILE *f = a->f;
    a->f = NULL;
    if (fclose(f) != 0) {
        s = vkn_status_set(VKN_ERR_IO, "%s: %s: close failed (%s); the previous file is untouched", a->what, a->path,
                           strerror(errno));
        goto fail;
    }
    if (inject(VKN_IO_FAIL_RENAME, EXDEV) || rename(a->tmp, a->path) != 0) {
        s = vkn_status_set(VKN_ERR_IO, "%s: %s: cannot rename the temporary file over it (%s); the previous file "
                           "is untouched", a->what, a->path, strerror(errno));
        goto fail;
    }
    fsync_dir(a->path);
    atomic_free(a);
    return VKN_OK;
fail:
    vkn_io_atomic_abort(a);
    return s;
}

vkn_status vkn_io_write_file(const char *path, const void *data, size_t len, const char *what)
{
    vkn_io_atomic *a;
    VKN_TRY(vkn_io_atomic_open(path, what, &a));
    vkn_status s = vkn_io_atomic_write(a, data, len);
    if (s != VKN_OK) {
        vkn_io_atomic_abort(a);
        return s;
    }
    return vkn_io_atomic_commit(a);
}
