/* A run folder's life, shared by vkn-cgan and vkn-da (issue 14, items 7-11):
 *
 *   - a folder that holds an earlier run (checkpoint, logs, run.json) is refused unless --resume
 *     continues it or --overwrite replaces it (its files removed first);
 *   - the run's options: every option in DIR/run.json (with the commit, the device line and a history
 *     of starts and resumes) and the options that define the run in each checkpoint's metadata
 *     ("option:--seed" = "1", ...); --resume takes them from the checkpoint, refuses a changed one
 *     and lets --override OPT change it deliberately (recorded in run.json's history);
 *   - on --resume the CSV/JSONL logs are cut back to the checkpoint's step (no duplicate rows) and a
 *     damaged CSV header is an error at start;
 *   - temporary files that a killed writer left behind are removed at start;
 *   - the summary lists the files that exist, not the ones that were meant to.
 *
 * No Vulkan, no window: the apps' option parsers and the da training core link it. */
#ifndef VKN_RUNFOLDER_H
#define VKN_RUNFOLDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkn/status.h"

#define VKN_RUN_MAX_OPTS 48
#define VKN_RUN_NAME 32
#define VKN_RUN_VALUE 160

/* How an option may change when a run is resumed. */
typedef enum vkn_runopt_kind {
    VKN_RUNOPT_FIXED = 0,   /* defines the run (model, data, seed, lr, batch, ...): taken from the run; a
                             * different value on the command line is refused unless --override OPT */
    VKN_RUNOPT_FREE,        /* may change freely (--steps, intervals): taken from the run when not given,
                             * a new value is used and recorded */
    VKN_RUNOPT_LOCAL,       /* this invocation only (--out, --headless, display): in run.json, not in
                             * checkpoints, never compared */
} vkn_runopt_kind;

typedef struct vkn_runopt {
    char name[VKN_RUN_NAME];     /* as on the command line: "--seed" */
    char value[VKN_RUN_VALUE];   /* canonical text (reads back to the same value); "" = not set */
    vkn_runopt_kind kind;
} vkn_runopt;

typedef struct vkn_runopts {
    int n;
    vkn_runopt v[VKN_RUN_MAX_OPTS];
} vkn_runopts;

/* Append an option (printf-style value). */
void vkn_runopts_add(vkn_runopts *l, const char *name, vkn_runopt_kind kind, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
const vkn_runopt *vkn_runopts_find(const vkn_runopts *l, const char *name);

/* What the command line says about the run folder: --resume, --overwrite, --override OPT (repeatable),
 * and the name of every option it gives (an option given with its default value counts as given). */
typedef struct vkn_run_cli {
    bool resume, overwrite;
    int ngiven, noverride;
    char given[64][VKN_RUN_NAME];
    char override[16][VKN_RUN_NAME];   /* normalized to "--name" */
} vkn_run_cli;

void vkn_run_cli_given(vkn_run_cli *c, const char *name);
bool vkn_run_cli_was_given(const vkn_run_cli *c, const char *name);
/* --override's value ("lr-g" or "--lr-g"); false when there are too many. */
bool vkn_run_cli_add_override(vkn_run_cli *c, const char *opt);
bool vkn_run_cli_overrides(const vkn_run_cli *c, const char *name);

/* One app's run folder. Patterns are relative to dir, fnmatch(3) per path component ("g-*\/x.csv"). */
typedef struct vkn_run_folder {
    const char *app;                  /* "vkn-cgan": the start of messages */
    const char *dir;
    const char *const *ckpt;          /* NULL-terminated: its checkpoints */
    const char *const *files;         /* NULL-terminated: every other file the app writes there (logs,
                                       * images, run.json, summary); the run's evidence is ckpt + logs */
    const char *const *logs;          /* NULL-terminated: the subset of files that are logs */
} vkn_run_folder;

/* Item 7, at start, before any work: with neither --resume nor --overwrite a folder that holds a
 * checkpoint, a log or run.json (regular, non-empty files) is refused: VKN_ERR_ARG naming the folder,
 * what it holds and the two options. With --overwrite those files (checkpoints, logs, images,
 * run.json, summary) are removed first; note gets a line saying so ("" when nothing was removed).
 * --resume with --overwrite is refused. */
vkn_status vkn_run_folder_prepare(const vkn_run_folder *f, const vkn_run_cli *c, char *note, size_t n);

/* Item 10: remove temporary files of interrupted writes in dir and its direct subfolders:
 * "NAME.tmp-PID-N" (the atomic writers' names) whose PID is not a live process, and the fixed
 * "NAME.tmp" of older writers where NAME is one of the run's files (the folder is ours: checked by
 * vkn_run_folder_prepare). note: what was removed ("" when nothing). */
vkn_status vkn_run_clean_temps(const vkn_run_folder *f, char *note, size_t n);

/* Item 9: the options recorded in the run's first checkpoint (sorted by path) as "option:NAME" metadata.
 * found: false when the folder holds no checkpoint; rec->n == 0 when it records no options (written
 * before vknorm recorded them). from: the checkpoint's path. */
vkn_status vkn_run_recorded(const vkn_run_folder *f, vkn_runopts *rec, char *from, size_t n, bool *found);

/* The command line for the re-parse on --resume: argv[0], then "NAME=VALUE" for each recorded option
 * (known to the app: in known, not LOCAL) that argv does not give, then argv[1..]. *out is one malloc'ed
 * block (pointers and strings); free(*out). */
vkn_status vkn_run_resume_argv(const vkn_runopts *rec, const vkn_runopts *known, const vkn_run_cli *c, int argc,
                               char **argv, int *out_argc, char ***out);

/* A difference between the run's recorded options and this invocation's. */
typedef struct vkn_run_change {
    char name[VKN_RUN_NAME], from[VKN_RUN_VALUE], to[VKN_RUN_VALUE];
    bool overridden;                  /* a FIXED option changed with --override */
} vkn_run_change;

/* Compare now (after the re-parse) with rec: a FIXED option that differs and is not overridden is
 * VKN_ERR_ARG naming it, both values and --override; the other differences land in ch (max entries). */
vkn_status vkn_run_check(const char *app, const vkn_runopts *rec, const char *from, const vkn_runopts *now,
                         const vkn_run_cli *c, vkn_run_change *ch, int max, int *nch);

/* The start of a run, before any work, messages on stderr: vkn_run_folder_prepare; on --resume the
 * options recorded in the run's checkpoint: vkn_run_resume_argv, then reparse (the app parses that
 * command line into its own scratch options, describes them in now and points cli at their
 * vkn_run_cli; returns 0 or its exit status), then vkn_run_check into ch; then vkn_run_clean_temps.
 * *reparsed: the app's scratch options are the run's now. Returns 0, or the exit status (2: refused,
 * 1: an error). known: the app's options as given (their names and kinds). */
typedef int (*vkn_run_reparse_fn)(void *user, int argc, char **argv, vkn_runopts *now, const vkn_run_cli **cli);
int vkn_run_begin(const vkn_run_folder *f, const vkn_run_cli *cli, const vkn_runopts *known, int argc, char **argv,
                  vkn_run_reparse_fn reparse, void *user, bool *reparsed, vkn_run_change *ch, int max, int *nch);

/* Checkpoint metadata of the FIXED and FREE options: meta[] = {"option:--seed", "1", ..., NULL}, the keys
 * in keys. meta needs 2 * VKN_RUN_MAX_OPTS + 1 entries. */
typedef struct vkn_run_meta {
    char keys[VKN_RUN_MAX_OPTS][VKN_RUN_NAME + 8];
    const char *kv[2 * VKN_RUN_MAX_OPTS + 1];
} vkn_run_meta;
void vkn_run_meta_fill(vkn_run_meta *m, const vkn_runopts *opts);

/* DIR/run.json (atomic): app, commit, device line, every option, and the history (earlier entries are
 * kept from the existing file): {"event": "start"|"resume", "step", "time", "commit", "device", and for
 * a resume the changed and overridden options with their old and new values}. */
vkn_status vkn_run_json_write(const char *dir, const char *app, const char *commit, const char *device,
                              const vkn_runopts *opts, bool resume, int64_t step, const vkn_run_change *ch, int nch);

/* Item 10: cut DIR/NAME.csv and DIR/NAME.jsonl back to the rows whose "step" is < below (rows of steps
 * after the checkpoint, and torn rows of a killed write, are dropped; the files are rewritten atomically
 * only when something is dropped). A CSV whose header is not cols is VKN_ERR_FORMAT naming the file,
 * both headers and what to do. Missing or empty files are fine. dropped: rows removed from the CSV. */
vkn_status vkn_run_log_cut(const char *dir, const char *name, const char *const *cols, int ncols, int64_t below,
                           int *dropped);

/* Item 11: the files of f that exist (regular, non-empty), for the summary: "ckpt.safetensors,
 * grid-final.png, 4 grid-*.png, train.csv, ..."; a pattern's subfolder part is kept. */
void vkn_run_files_list(const vkn_run_folder *f, char *buf, size_t n);

/* "2026-12-07T23:30:00Z" */
void vkn_run_time_utc(char *buf, size_t n);

#endif
