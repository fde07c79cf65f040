/* A run folder's life (runfolder.h). */
#include "runfolder.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vkn/io.h"

/* ---- option lists and the command line ---- */

void vkn_runopts_add(vkn_runopts *l, const char *name, vkn_runopt_kind kind, const char *fmt, ...)
{
    if (l->n >= VKN_RUN_MAX_OPTS) return;
    vkn_runopt *o = &l->v[l->n++];
    snprintf(o->name, sizeof o->name, "%s", name);
    o->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->value, sizeof o->value, fmt, ap);
    va_end(ap);
}

const vkn_runopt *vkn_runopts_find(const vkn_runopts *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].name, name)) return &l->v[i];
    return NULL;
}

void vkn_run_cli_given(vkn_run_cli *c, const char *name)
{
    if (vkn_run_cli_was_given(c, name) || c->ngiven >= (int)(sizeof c->given / sizeof *c->given)) return;
    snprintf(c->given[c->ngiven++], VKN_RUN_NAME, "%s", name);
}

bool vkn_run_cli_was_given(const vkn_run_cli *c, const char *name)
{
    for (int i = 0; i < c->ngiven; i++)
        if (!strcmp(c->given[i], name)) return true;
    return false;
}

bool vkn_run_cli_add_override(vkn_run_cli *c, const char *opt)
{
    if (c->noverride >= (int)(sizeof c->override / sizeof *c->override)) return false;
    snprintf(c->override[c->noverride++], VKN_RUN_NAME, "%s%s", strncmp(opt, "--", 2) ? "--" : "", opt);
    return true;
}

bool vkn_run_cli_overrides(const vkn_run_cli *c, const char *name)
{
    for (int i = 0; i < c->noverride; i++)
        if (!strcmp(c->override[i], name)) return true;
    return false;
}

/* ---- walking the folder: the files that match a list of patterns ---- */

typedef void (*visit_fn)(void *user, const char *path, const char *rel);

static bool is_regular(const char *path, bool nonempty)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (!nonempty || st.st_size > 0);
}

/* Files under dir whose relative path matches pat (components matched one by one). */
static void walk(const char *dir, const char *rel, const char *pat, visit_fn fn, void *user)
{
    const char *slash = strchr(pat, '/');
    char comp[256];
    snprintf(comp, sizeof comp, "%.*s", slash ? (int)(slash - pat) : (int)strlen(pat), pat);
    DIR *d = opendir(dir);
    if (!d) return;
    /* sorted, so "the first checkpoint" is well defined */
    char **names = NULL;
    int nn = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || fnmatch(comp, e->d_name, FNM_PERIOD)) continue;
        char **g = realloc(names, (size_t)(nn + 1) * sizeof *g);
        if (!g) break;
        names = g;
        if ((names[nn] = strdup(e->d_name))) nn++;
    }
    closedir(d);
    for (int i = 0; i < nn; i++)
        for (int j = i + 1; j < nn; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char *t = names[i];
                names[i] = names[j], names[j] = t;
            }
    for (int i = 0; i < nn; i++) {
        char path[1200], r[600];
        int lp = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        int lr = snprintf(r, sizeof r, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
        struct stat st;
        if (lp >= (int)sizeof path || lr >= (int)sizeof r) { /* too long to be one of ours */
        } else if (slash) {
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) walk(path, r, slash + 1, fn, user);
        } else fn(user, path, r);
        free(names[i]);
    }
    free(names);
}

static void walk_all(const char *dir, const char *const *pats, visit_fn fn, void *user)
{
    for (int i = 0; pats && pats[i]; i++) walk(dir, "", pats[i], fn, user);
}

typedef struct found {
    int n;
    char text[400];
    bool nonempty;
} found;

static void note_found(void *user, const char *path, const char *rel)
{
    found *f = user;
    if (!is_regular(path, f->nonempty)) return;
    size_t len = strlen(f->text);
    if (f->n < 4) snprintf(f->text + len, sizeof f->text - len, "%s%s", f->n ? ", " : "", rel);
    else if (f->n == 4) snprintf(f->text + len, sizeof f->text - len, ", ...");
    f->n++;
}

typedef struct removed {
    int n, failed;
    char first_err[300];
} removed;

static void remove_file(void *user, const char *path, const char *rel)
{
    removed *r = user;
    (void)rel;
    if (!is_regular(path, false)) return;
    if (unlink(path) == 0) r->n++;
    else if (!r->failed++) snprintf(r->first_err, sizeof r->first_err, "%s: %s", path, strerror(errno));
}

/* ---- item 7: an existing run is not replaced by accident ---- */

vkn_status vkn_run_folder_prepare(const vkn_run_folder *f, const vkn_run_cli *c, char *note, size_t n)
{
    if (note && n) note[0] = 0;
    if (c->resume && c->overwrite)
        return vkn_status_set(VKN_ERR_ARG, "%s: --resume and --overwrite contradict each other: --resume continues the "
                              "run in %s, --overwrite replaces it", f->app, f->dir);
    found ev = {.nonempty = true};
    static const char *const run_json[] = {"run.json", NULL};
    walk_all(f->dir, f->ckpt, note_found, &ev);
    walk_all(f->dir, f->logs, note_found, &ev);
    walk_all(f->dir, run_json, note_found, &ev);
    if (!ev.n || c->resume) return VKN_OK;
    if (!c->overwrite)
        return vkn_status_set(VKN_ERR_ARG, "%s: the run folder %s already holds a run (%s); continue it with --resume, "
                              "or replace it with --overwrite (its checkpoints, logs and images are deleted), or give "
                              "another --out", f->app, f->dir, ev.text);
    removed r = {0};
    walk_all(f->dir, f->ckpt, remove_file, &r);
    walk_all(f->dir, f->files, remove_file, &r);
    if (r.failed)
        return vkn_status_set(VKN_ERR_IO, "%s: --overwrite: cannot remove %d file(s) of the earlier run (%s)", f->app,
                              r.failed, r.first_err);
    if (note) snprintf(note, n, "--overwrite: removed %d file(s) of the earlier run in %s", r.n, f->dir);
    return VKN_OK;
}

/* ---- item 10: temporary files of interrupted writes ---- */

typedef struct temps {
    const vkn_run_folder *f;
    int n, kept, failed;
    char text[300];
} temps;

/* "NAME.tmp-PID-N": the PID; 0 when name is not of that form. */
static long tmp_pid(const char *name)
{
    const char *t = strstr(name, ".tmp-");
    while (t && strstr(t + 1, ".tmp-")) t = strstr(t + 1, ".tmp-");
    if (!t) return 0;
    char *end;
    errno = 0;
    long pid = strtol(t + 5, &end, 10);
    if (errno || end == t + 5 || *end != '-' || pid <= 0) return 0;
    const char *k = end + 1;
    if (!*k) return 0;
    for (; *k; k++)
        if (*k < '0' || *k > '9') return 0;
    return pid;
}

static bool ours(const vkn_run_folder *f, const char *base)
{
    const char *const *lists[2] = {f->ckpt, f->files};
    for (int l = 0; l < 2; l++)
        for (int i = 0; lists[l] && lists[l][i]; i++) {
            const char *p = strrchr(lists[l][i], '/');
            if (!fnmatch(p ? p + 1 : lists[l][i], base, FNM_PERIOD)) return true;
        }
    return false;
}

static void clean_one(temps *t, const char *dir, const char *name)
{
    long pid = tmp_pid(name);
    size_t len = strlen(name);
    bool stale = false;
    if (pid > 0) {
        /* a live writer (another process, or this one) keeps its file; a dead one's is garbage */
        stale = pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        if (!stale) t->kept++;
    } else if (len > 4 && !strcmp(name + len - 4, ".tmp")) {
        char base[256];
        snprintf(base, sizeof base, "%.*s", (int)(len - 4), name);
        stale = ours(t->f, base);
    }
    if (!stale) return;
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!is_regular(path, false)) return;
    if (unlink(path) != 0) {
        t->failed++;
        return;
    }
    size_t tl = strlen(t->text);
    if (t->n < 3) snprintf(t->text + tl, sizeof t->text - tl, "%s%s", t->n ? ", " : "", name);
    else if (t->n == 3) snprintf(t->text + tl, sizeof t->text - tl, ", ...");
    t->n++;
}

static void clean_dir(temps *t, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (depth == 0 && lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) clean_dir(t, path, 1);
        else if (strstr(e->d_name, ".tmp")) clean_one(t, dir, e->d_name);
    }
    closedir(d);
}

vkn_status vkn_run_clean_temps(const vkn_run_folder *f, char *note, size_t n)
{
    temps t = {.f = f};
    clean_dir(&t, f->dir, 0);
    if (note && n) {
        note[0] = 0;
        if (t.n)
            snprintf(note, n, "removed %d temporary file(s) of interrupted writes in %s (%s)", t.n, f->dir, t.text);
        if (t.failed) {
            size_t l = strlen(note);
            snprintf(note + l, n - l, "%s%d stale temporary file(s) in %s could not be removed", l ? "; " : "", t.failed,
                     f->dir);
        }
    }
    return VKN_OK;
}

/* ---- item 9: the run's options ---- */

#define META_PREFIX "option:"

typedef struct first_path {
    char path[1200];
} first_path;

static void take_first(void *user, const char *path, const char *rel)
{
    first_path *fp = user;
    (void)rel;
    if (!fp->path[0] && is_regular(path, true)) snprintf(fp->path, sizeof fp->path, "%s", path);
}

vkn_status vkn_run_recorded(const vkn_run_folder *f, vkn_runopts *rec, char *from, size_t n, bool *found_out)
{
    rec->n = 0;
    *found_out = false;
    first_path fp = {{0}};
    walk_all(f->dir, f->ckpt, take_first, &fp);
    if (from && n) snprintf(from, n, "%s", fp.path);
    if (!fp.path[0]) return VKN_OK;
    *found_out = true;
    vkn_io_safetensors *st;
    VKN_TRY(vkn_io_safetensors_open(fp.path, &st));
    for (int i = 0; i < vkn_io_safetensors_meta_count(st); i++) {
        const char *k, *v;
        vkn_io_safetensors_meta_at(st, i, &k, &v);
        if (strncmp(k, META_PREFIX, strlen(META_PREFIX))) continue;
        if (strlen(k + strlen(META_PREFIX)) >= VKN_RUN_NAME || strlen(v) >= VKN_RUN_VALUE) continue;
        vkn_runopts_add(rec, k + strlen(META_PREFIX), VKN_RUNOPT_FIXED, "%s", v);
    }
    vkn_io_safetensors_close(st);
    return VKN_OK;
}

vkn_status vkn_run_resume_argv(const vkn_runopts *rec, const vkn_runopts *known, const vkn_run_cli *c, int argc,
                               char **argv, int *out_argc, char ***out)
{
    size_t bytes = (size_t)(argc + rec->n + 1) * sizeof(char *);
    for (int i = 0; i < rec->n; i++) bytes += strlen(rec->v[i].name) + strlen(rec->v[i].value) + 2;
    char **a = malloc(bytes);
    if (!a) return vkn_status_set(VKN_ERR_HOST_OOM, "--resume: out of memory");
    char *s = (char *)(a + argc + rec->n + 1);
    int k = 0;
    a[k++] = argv[0];
    for (int i = 0; i < rec->n; i++) {
        const vkn_runopt *o = &rec->v[i], *kn = vkn_runopts_find(known, o->name);
        /* an option this version does not have, or no longer records, stays out; "" is "not set" */
        if (!kn || kn->kind == VKN_RUNOPT_LOCAL || !o->value[0] || vkn_run_cli_was_given(c, o->name)) continue;
        a[k++] = s;
        s += sprintf(s, "%s=%s", o->name, o->value) + 1;
    }
    for (int i = 1; i < argc; i++) a[k++] = argv[i];
    a[k] = NULL;
    *out_argc = k;
    *out = a;
    return VKN_OK;
}

vkn_status vkn_run_check(const char *app, const vkn_runopts *rec, const char *from, const vkn_runopts *now,
                         const vkn_run_cli *c, vkn_run_change *ch, int max, int *nch)
{
    *nch = 0;
    for (int i = 0; i < c->noverride; i++) {
        const vkn_runopt *o = vkn_runopts_find(now, c->override[i]);
        if (!o || o->kind == VKN_RUNOPT_LOCAL)
            return vkn_status_set(VKN_ERR_ARG, "%s: --override %s: not an option recorded with a run (those are: the "
                                  "options of --help's model, data and training sections)", app, c->override[i]);
    }
    for (int i = 0; i < now->n; i++) {
        const vkn_runopt *o = &now->v[i];
        if (o->kind == VKN_RUNOPT_LOCAL) continue;
        const vkn_runopt *r = vkn_runopts_find(rec, o->name);
        if (!r || !strcmp(r->value, o->value)) continue;
        bool over = o->kind == VKN_RUNOPT_FIXED;
        if (over && !vkn_run_cli_overrides(c, o->name))
            return vkn_status_set(VKN_ERR_ARG, "%s: --resume: %s is %s%s%s in the run (%s) but %s%s%s here; leave it out "
                                  "to continue with the run's value, or add --override %s to change it deliberately",
                                  app, o->name, r->value[0] ? "" : "(", r->value[0] ? r->value : "not set",
                                  r->value[0] ? "" : ")", from, o->value[0] ? "" : "(",
                                  o->value[0] ? o->value : "not set", o->value[0] ? "" : ")", o->name + 2);
        if (*nch < max) {
            vkn_run_change *x = &ch[(*nch)++];
            snprintf(x->name, sizeof x->name, "%s", o->name);
            snprintf(x->from, sizeof x->from, "%s", r->value);
            snprintf(x->to, sizeof x->to, "%s", o->value);
            x->overridden = over;
        }
    }
    return VKN_OK;
}

int vkn_run_begin(const vkn_run_folder *f, const vkn_run_cli *cli, const vkn_runopts *known, int argc, char **argv,
                  vkn_run_reparse_fn reparse, void *user, bool *reparsed, vkn_run_change *ch, int max, int *nch)
{
    *reparsed = false;
    *nch = 0;
    char note[600];
    vkn_status s = vkn_run_folder_prepare(f, cli, note, sizeof note);
    if (s != VKN_OK) {
        fprintf(stderr, "%s\n", vkn_status_detail());
        return s == VKN_ERR_ARG ? 2 : 1;
    }
    if (note[0]) fprintf(stderr, "%s: %s\n", f->app, note);
    if (cli->resume) {
        static vkn_runopts rec, now;   /* large; one run per process */
        char from[1200];
        bool found;
        if ((s = vkn_run_recorded(f, &rec, from, sizeof from, &found)) != VKN_OK) {
            fprintf(stderr, "%s: --resume: %s\n", f->app, vkn_status_detail());
            return 1;
        }
        if (!found) {
            fprintf(stderr, "%s: --resume: no checkpoint in %s (start without --resume, or give the run's --out folder)\n",
                    f->app, f->dir);
            return 1;
        }
        if (!rec.n)
            fprintf(stderr, "%s: note: %s records no options (written before vknorm recorded them): the options of this "
                    "command are used unchecked\n", f->app, from);
        else {
            /* the app's options may keep pointers into this command line: it lives as long as the process */
            static char **argv2;
            int argc2;
            const vkn_run_cli *cli2;
            if (vkn_run_resume_argv(&rec, known, cli, argc, argv, &argc2, &argv2) != VKN_OK) return 1;
            int rc = reparse(user, argc2, argv2, &now, &cli2);
            if (rc) {
                fprintf(stderr, "%s: --resume: the options recorded in %s do not parse (above)\n", f->app, from);
                return rc;
            }
            if ((s = vkn_run_check(f->app, &rec, from, &now, cli2, ch, max, nch)) != VKN_OK) {
                fprintf(stderr, "%s\n", vkn_status_detail());
                return 2;
            }
            *reparsed = true;
            for (int i = 0; i < *nch; i++)
                fprintf(stderr, "%s: --resume: %s %s -> %s%s\n", f->app, ch[i].name, ch[i].from[0] ? ch[i].from : "(not set)",
                        ch[i].to[0] ? ch[i].to : "(not set)", ch[i].overridden ? " (--override)" : "");
        }
    }
    vkn_run_clean_temps(f, note, sizeof note);
    if (note[0]) fprintf(stderr, "%s: %s\n", f->app, note);
    return 0;
}

void vkn_run_meta_fill(vkn_run_meta *m, const vkn_runopts *opts)
{
    int k = 0;
    for (int i = 0; i < opts->n && i < VKN_RUN_MAX_OPTS; i++) {
        if (opts->v[i].kind == VKN_RUNOPT_LOCAL) continue;
        snprintf(m->keys[i], sizeof m->keys[i], META_PREFIX "%s", opts->v[i].name);
        m->kv[k++] = m->keys[i];
        m->kv[k++] = opts->v[i].value;
    }
    m->kv[k] = NULL;
}

/* ---- run.json ---- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

void vkn_run_time_utc(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

#define HISTORY_ENTRY "    {\"event\": "

vkn_status vkn_run_json_write(const char *dir, const char *app, const char *commit, const char *device,
                              const vkn_runopts *opts, bool resume, int64_t step, const vkn_run_change *ch, int nch)
{
    char path[1100], when[40];
    snprintf(path, sizeof path, "%s/run.json", dir);
    vkn_run_time_utc(when, sizeof when);
    /* the earlier history: our own layout, one entry a line */
    char *old = NULL;
    if (resume) {
        FILE *in = fopen(path, "rb");
        if (in) {
            if (fseek(in, 0, SEEK_END) == 0) {
                long len = ftell(in);
                if (len > 0 && len < (64 << 20) && (old = malloc((size_t)len + 1))) {
                    rewind(in);
                    size_t got = fread(old, 1, (size_t)len, in);
                    old[got] = 0;
                }
            }
            fclose(in);
        }
    }
    vkn_io_atomic *a;   /* the one atomic writer (unique temporary name, fsync of file and folder) */
    vkn_status st = vkn_io_atomic_open(path, app, &a);
    if (st != VKN_OK) {
        free(old);
        return st;
    }
    FILE *f = vkn_io_atomic_file(a);
    fprintf(f, "{\n  \"app\": ");
    json_str(f, app);
    fprintf(f, ",\n  \"commit\": ");
    json_str(f, commit ? commit : "unknown");
    fprintf(f, ",\n  \"device\": ");
    json_str(f, device ? device : "unknown");
    fprintf(f, ",\n  \"options\": {\n");
    for (int i = 0; i < opts->n; i++) {
        fprintf(f, "    ");
        json_str(f, opts->v[i].name);
        fprintf(f, ": ");
        json_str(f, opts->v[i].value);
        fprintf(f, "%s\n", i + 1 < opts->n ? "," : "");
    }
    fprintf(f, "  },\n  \"options_fixed_on_resume\": [");
    for (int i = 0, k = 0; i < opts->n; i++)
        if (opts->v[i].kind == VKN_RUNOPT_FIXED) {
            fprintf(f, "%s", k++ ? ", " : "");
            json_str(f, opts->v[i].name);
        }
    fprintf(f, "],\n  \"history\": [\n");
    int entries = 0;
    for (char *line = old ? strstr(old, "\n" HISTORY_ENTRY) : NULL; line; line = strstr(line, "\n" HISTORY_ENTRY)) {
        line++;
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        while (len && (line[len - 1] == ',' || line[len - 1] == '\r')) len--;
        fprintf(f, "%s%.*s", entries++ ? ",\n" : "", (int)len, line);
        line += len;
    }
    fprintf(f, "%s" HISTORY_ENTRY, entries ? ",\n" : "");
    json_str(f, resume ? "resume" : "start");
    fprintf(f, ", \"step\": %lld, \"time\": ", (long long)step);
    json_str(f, when);
    fprintf(f, ", \"commit\": ");
    json_str(f, commit ? commit : "unknown");
    fprintf(f, ", \"device\": ");
    json_str(f, device ? device : "unknown");
    for (int pass = 0; pass < 2; pass++) {
        int k = 0;
        for (int i = 0; i < nch; i++) {
            if (ch[i].overridden != (pass == 1)) continue;
            if (!k++) fprintf(f, ", \"%s\": {", pass ? "overridden" : "changed");
            else fprintf(f, ", ");
            json_str(f, ch[i].name);
            fprintf(f, ": [");
            json_str(f, ch[i].from);
            fprintf(f, ", ");
            json_str(f, ch[i].to);
            fprintf(f, "]");
        }
        if (k) fprintf(f, "}");
    }
    fprintf(f, "}\n  ]\n}\n");
    free(old);
    return vkn_io_atomic_commit(a);
}

/* ---- item 10: logs cut back to the checkpoint ---- */

static char *slurp(const char *path, size_t *len, bool *missing)
{
    *missing = false;
    /* only a regular file is a log to cut: a symlink to a device (/dev/full, /dev/null) is left alone */
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        *missing = true;
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        *missing = errno == ENOENT;
        return NULL;
    }
    char *p = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? 2 * cap : 131072;
            char *q = realloc(p, cap);
            if (!q) {
                free(p), fclose(f);
                return NULL;
            }
            p = q;
        }
        size_t got = fread(p + n, 1, 65536, f);
        n += got;
        if (got < 65536) break;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(p);
        return NULL;
    }
    p[n] = 0;
    *len = n;
    return p;
}

static vkn_status replace_file(const char *path, const char *data, size_t len)
{
    return vkn_io_write_file(path, data, len, "cutting the log back");
}

/* The integer at s (up to a ',' or '}' or the end); false when it is not one. */
static bool step_at(const char *s, const char *stop, int64_t *v)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || end == s || (end < stop && *end != ',' && *end != '}' && *end != '\r') || d != (double)(int64_t)d)
        return false;
    *v = (int64_t)d;
    return true;
}

static vkn_status cut_csv(const char *path, const char *const *cols, int ncols, int64_t below, int *dropped)
{
    size_t len = 0;
    bool missing;
    char *t = slurp(path, &len, &missing);
    if (!t) return missing ? VKN_OK : vkn_status_set(VKN_ERR_IO, "%s: cannot read it: %s", path, strerror(errno));
    if (!len) {
        free(t);
        return VKN_OK;
    }
    char want[1024] = "";
    int step_col = -1;
    for (int i = 0; i < ncols; i++) {
        size_t l = strlen(want);
        snprintf(want + l, sizeof want - l, "%s%s", i ? "," : "", cols[i]);
        if (!strcmp(cols[i], "step")) step_col = i;
    }
    char *nl = strchr(t, '\n');
    size_t hl = nl ? (size_t)(nl - t) : len;
    if (hl && t[hl - 1] == '\r') hl--;
    if (hl != strlen(want) || memcmp(t, want, hl)) {
        vkn_status s = vkn_status_set(VKN_ERR_FORMAT, "%s: damaged header \"%.*s\" (expected \"%s\"): new rows cannot be "
                                      "appended to it. Repair the header, or remove the file (a new one is started; the "
                                      ".jsonl beside it holds the same rows), or start the run over with --overwrite",
                                      path, (int)(hl > 120 ? 120 : hl), t, want);
        free(t);
        return s;
    }
    char *out = malloc(len + 2);
    if (!out) {
        free(t);
        return vkn_status_set(VKN_ERR_HOST_OOM, "%s: out of memory", path);
    }
    size_t o = 0;
    memcpy(out, t, hl), o = hl, out[o++] = '\n';
    int drop = 0;
    for (char *line = nl ? nl + 1 : t + len; *line;) {
        char *e = strchr(line, '\n');
        size_t ll = e ? (size_t)(e - line) : strlen(line);
        /* a complete row: ends with a newline, has every column, and its step is before the cut */
        int fields = 1;
        for (size_t i = 0; i < ll; i++) fields += line[i] == ',';
        const char *f = line;
        for (int c = 0; c < step_col && f; c++) {
            f = memchr(f, ',', (size_t)(line + ll - f));
            if (f) f++;
        }
        int64_t st;
        bool keep = e && fields == ncols && f && step_col >= 0 && step_at(f, line + ll, &st) && st < below;
        if (keep) memcpy(out + o, line, ll), o += ll, out[o++] = '\n';
        else if (ll) drop++;
        line = e ? e + 1 : line + ll;
    }
    vkn_status s = VKN_OK;
    if (drop) s = replace_file(path, out, o);
    if (dropped) *dropped = drop;
    free(out), free(t);
    return s;
}

static vkn_status cut_jsonl(const char *path, int64_t below)
{
    size_t len = 0;
    bool missing;
    char *t = slurp(path, &len, &missing);
    if (!t) return missing ? VKN_OK : vkn_status_set(VKN_ERR_IO, "%s: cannot read it: %s", path, strerror(errno));
    char *out = malloc(len + 1);
    if (!out) {
        free(t);
        return vkn_status_set(VKN_ERR_HOST_OOM, "%s: out of memory", path);
    }
    size_t o = 0;
    int drop = 0;
    for (char *line = t; *line;) {
        char *e = strchr(line, '\n');
        size_t ll = e ? (size_t)(e - line) : strlen(line);
        char *k = memmem(line, ll, "\"step\":", 7);
        int64_t st;
        bool keep = e && ll > 1 && line[ll - 1] == '}' && k && step_at(k + 7, line + ll, &st) && st < below;
        if (keep) memcpy(out + o, line, ll + 1), o += ll + 1;
        else if (ll) drop++;
        line = e ? e + 1 : line + ll;
    }
    vkn_status s = drop ? replace_file(path, out, o) : VKN_OK;
    free(out), free(t);
    return s;
}

vkn_status vkn_run_log_cut(const char *dir, const char *name, const char *const *cols, int ncols, int64_t below,
                           int *dropped)
{
    char p[1200];
    if (dropped) *dropped = 0;
    snprintf(p, sizeof p, "%s/%s.csv", dir, name);
    VKN_TRY(cut_csv(p, cols, ncols, below, dropped));
    snprintf(p, sizeof p, "%s/%s.jsonl", dir, name);
    return cut_jsonl(p, below);
}

/* ---- item 11: what exists ---- */

typedef struct listing {
    int n;
    char first[600];
} listing;

static void count_file(void *user, const char *path, const char *rel)
{
    listing *l = user;
    if (!is_regular(path, true)) return;
    if (!l->n++) snprintf(l->first, sizeof l->first, "%s", rel);
}

void vkn_run_files_list(const vkn_run_folder *f, char *buf, size_t n)
{
    if (!n) return;
    buf[0] = 0;
    const char *const *lists[2] = {f->ckpt, f->files};
    size_t len = 0;
    for (int k = 0; k < 2; k++)
        for (int i = 0; lists[k] && lists[k][i]; i++) {
            listing l = {0};
            walk(f->dir, "", lists[k][i], count_file, &l);
            if (!l.n || len >= n) continue;
            if (l.n == 1) len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", l.first);
            else {
                /* "grid-[0-9]*.png" reads "grid-*.png" */
                char shown[200];
                size_t o = 0;
                for (const char *p = lists[k][i]; *p && o + 1 < sizeof shown; p++) {
                    if (*p == '[') {
                        const char *e = strchr(p, ']');
                        if (e) { p = e; continue; }
                    }
                    shown[o++] = *p;
                }
                shown[o] = 0;
                len += (size_t)snprintf(buf + len, n - len, "%s%d %s", len ? ", " : "", l.n, shown);
            }
        }
}
