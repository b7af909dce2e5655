/* suite_runs.c - experiment suites: the runs on disk.  The run directory
 * OUT/runs/ID, the state of a run (lock, DONE, FAILED, config.ini compared
 * with the suite, summary.json progress, the input files of a states run
 * compared with inputs.tsv), the configuration a runner writes (config.ini,
 * the argv of a theory or states run, inputs.tsv), the markers
 * (steps/NAME.done, DONE, FAILED) and the locks with their holder records
 * (host, pid, Slurm job).  See suite.h for the run-directory layout; the
 * backends (suite_local.c, suite_slurm.c, suite_shard.c) run the steps.
 */
#include "suite_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- runs */

mg_status cli_suite_run_dir(const cli_suite *s, const cli_suite_run *r, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/runs/%s", s->out, r->id);
    if (n < 0 || (size_t)n >= len)
        return mg_fail(MG_ERR_CONFIG, "path too long: %s/runs/%s", s->out, r->id);
    return MG_OK;
}

void cli_suite_run_describe(const cli_suite *s, const cli_suite_run *r, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int a = 0; a < s->n_axes && used < len; a++) {
        int w = snprintf(buf + used, len - used, "%s%s=%s", a ? " " : "", s->axes[a].key,
                         s->axes[a].values[r->vi[a]]);
        if (w > 0) used += (size_t)w;
    }
}

int cli_suite_run_matches(const cli_suite_run *r, const char *id)
{
    if (!strcmp(r->id, id)) return 1;
    size_t n = strlen(r->id), k = strlen(id);
    if (n > 9 && k == n - 9 && !strncmp(r->id, id, k)) return 1; /* the slug */
    if (k == 8 && n > 9 && !strcmp(r->id + n - 8, id)) return 1; /* the hash */
    return 0;
}

const char *cli_run_state_name(cli_run_state st)
{
    static const char *const names[CLI_RUN_N_STATES] = {"missing", "partial", "running",
                                                        "failed",  "stale",   "done"};
    return (int)st >= 0 && st < CLI_RUN_N_STATES ? names[st] : "?";
}

/* ---------------------------------------------------------------- locks */

/* This process as a lock holder: host, and the Slurm job it runs in. */
static void self_record(cli_suite_lock_record *me)
{
    memset(me, 0, sizeof *me);
    if (gethostname(me->host, sizeof me->host - 1) != 0) snprintf(me->host, sizeof me->host, "?");
    me->pid = (long)getpid();
    const char *job = getenv("SLURM_JOB_ID");
    const char *aj = getenv("SLURM_ARRAY_JOB_ID"), *at = getenv("SLURM_ARRAY_TASK_ID");
    if (job && *job) snprintf(me->job, sizeof me->job, "%s", job);
    if (aj && *aj && at && *at) snprintf(me->task, sizeof me->task, "%s_%s", aj, at);
}

/* The record of an open lock file (0 if it is empty: nobody's). */
static int record_parse(const char *text, cli_suite_lock_record *rec)
{
    memset(rec, 0, sizeof *rec);
    int any = 0;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = '\0';
            char *k = trim(line), *v = trim(eq + 1);
            any = 1;
            if (!strcmp(k, "host")) snprintf(rec->host, sizeof rec->host, "%s", v);
            if (!strcmp(k, "pid")) rec->pid = strtol(v, NULL, 10);
            if (!strcmp(k, "job")) snprintf(rec->job, sizeof rec->job, "%s", v);
            if (!strcmp(k, "task")) snprintf(rec->task, sizeof rec->task, "%s", v);
            if (!strcmp(k, "since")) snprintf(rec->since, sizeof rec->since, "%s", v);
        } else if (!any && n) { /* a lock of an older mixgeo: the pid alone */
            rec->pid = strtol(line, NULL, 10);
            any = rec->pid > 0;
        }
        p = e ? e + 1 : p + n;
    }
    return any;
}

static int fd_record(int fd, cli_suite_lock_record *rec)
{
    char buf[2048];
    ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
    buf[k > 0 ? k : 0] = '\0';
    return record_parse(buf, rec);
}

int cli_suite_lock_read(const char *dir, cli_suite_lock_record *rec)
{
    char path[4096];
    memset(rec, 0, sizeof *rec);
    if (cli_path(path, sizeof path, dir, "lock") != MG_OK) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int any = fd_record(fd, rec);
    close(fd);
    return any;
}

void cli_suite_lock_describe(const cli_suite_lock_record *rec, char *buf, size_t len)
{
    int w = snprintf(buf, len, "host %s pid %ld", *rec->host ? rec->host : "?", rec->pid);
    if (w > 0 && (size_t)w < len && *rec->job)
        snprintf(buf + w, len - (size_t)w, ", Slurm job %s", *rec->task ? rec->task : rec->job);
}

/* Judge a record whose flock is free (the flock holder, if any, is gone from
 * this host): 1 if it still counts as held, with the reason in why. */
static int record_alive(const cli_suite_lock_record *rec, char *why, size_t len)
{
    cli_suite_lock_record me;
    self_record(&me);
    char who[512];
    cli_suite_lock_describe(rec, who, sizeof who);
    why[0] = '\0';
    if (!*rec->job) {
        if (!*rec->host || !strcmp(rec->host, me.host)) return 0; /* flock() decides here */
        snprintf(why, len,
                 "%s: another host and no Slurm job to ask (remove RUN/lock if that runner is "
                 "gone)",
                 who);
        return 1;
    }
    if (*me.job && !strcmp(me.job, rec->job)) return 0; /* this job before a requeue */
    char state[64], reason[128];
    int q = cli_suite_slurm_job_state(rec->job, state, sizeof state, reason, sizeof reason);
    if (q < 0) {
        if (!strcmp(rec->host, me.host)) return 0;
        snprintf(why, len, "%s (squeue cannot tell whether it still runs)", who);
        return 1;
    }
    if (q == 1 && cli_suite_slurm_state_alive(state)) {
        snprintf(why, len, "%s, %s", who, state);
        return 1;
    }
    return 0; /* the job ended: a stale lock */
}

int cli_suite_lock_claim(int fd, char *why, size_t len)
{
    cli_suite_lock_record rec, me;
    why[0] = '\0';
    if (fd_record(fd, &rec) && record_alive(&rec, why, len)) return 0;
    self_record(&me);
    sx_iso_time(me.since, sizeof me.since);
    char text[1024];
    int n = snprintf(text, sizeof text, "host = %s\npid = %ld\n", me.host, me.pid);
    if (*me.job) n += snprintf(text + n, sizeof text - (size_t)n, "job = %s\n", me.job);
    if (*me.task) n += snprintf(text + n, sizeof text - (size_t)n, "task = %s\n", me.task);
    n += snprintf(text + n, sizeof text - (size_t)n, "since = %s\n", me.since);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        /* the record only informs; flock() is the lock */
    }
    return 1;
}

void cli_suite_lock_clear(int fd)
{
    if (fd >= 0 && ftruncate(fd, 0) != 0) {
        /* a record left behind is judged stale by the next taker */
    }
}

/* 1 if DIR/lock is held: its flock by a live process of this host, or its
 * record by a Slurm job that is still pending or running (or by another host
 * without a job, which cannot be judged from here).  who: the holder. */
static int lock_held(const char *dir, char *who, size_t len)
{
    char path[4096];
    who[0] = '\0';
    if (cli_path(path, sizeof path, dir, "lock") != MG_OK) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int held = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0)
        held = errno == EWOULDBLOCK;
    else
        flock(fd, LOCK_UN);
    cli_suite_lock_record rec;
    int any = fd_record(fd, &rec);
    close(fd);
    if (held) {
        if (any) cli_suite_lock_describe(&rec, who, len);
        return 1;
    }
    return any && record_alive(&rec, who, len);
}

/* The value of "key = value" in a small marker file, "" if absent. */
static void marker_value(const char *path, const char *key, char *buf, size_t len)
{
    buf[0] = '\0';
    char *text = sx_read_text(path, 1 << 16);
    if (!text) return;
    size_t kl = strlen(key);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, key, kl) != 0) continue;
        char *p = line + kl;
        while (*p == ' ') p++;
        if (*p != '=') continue;
        snprintf(buf, len, "%s", trim(p + 1));
        break;
    }
    free(text);
}

int cli_suite_config_matches(const cli_suite *s, const cli_suite_run *r, const char *dir, char *why,
                             size_t len)
{
    char path[4096];
    why[0] = '\0';
    if (cli_path(path, sizeof path, dir, "config.ini") != MG_OK) return 0;
    cli_ini_section *sec = NULL;
    int n = 0;
    if (cli_ini_read(path, 1, &sec, &n) < 0) {
        snprintf(why, len, "no config.ini");
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < s->n_opts && ok; i++) {
        const cli_opt *o = &s->opts[i];
        if (!(o->flags & CLI_SAVE) || sx_key_excluded(o->name)) continue;
        const char *cur = r->config[i];
        if (!strcmp(cur, "auto")) continue; /* resolved from the data by train */
        const char *stored = NULL;
        for (int k = 0; k < n && !stored; k++) {
            const cli_ini_entry *e = cli_ini_find_entry(&sec[k], o->name);
            if (e) stored = e->value;
        }
        const char *def = o->def ? o->def : "";
        if (stored ? strcmp(stored, cur) != 0 : strcmp(cur, def) != 0) {
            snprintf(why, len, "%s: %s -> %s", o->name, stored ? stored : "(unset)", cur);
            ok = 0;
        }
    }
    cli_ini_free(sec, n);
    return ok;
}

/* ---------------------------------------------------------------- inputs of states runs */

#define MAX_INPUTS 5

/* The input files of a states run: role and path (states, labels, logits,
 * readout_W, readout_b; the empty ones left out).  Returns their number. */
static int run_inputs(const cli_suite *s, const cli_suite_run *r, const char *role[MAX_INPUTS],
                      char path[MAX_INPUTS][4096])
{
    static const char *const keys[] = {"states", "labels", "logits", NULL};
    int n = 0;
    for (int k = 0; keys[k]; k++) {
        int i = sx_suite_opt(s, keys[k]);
        if (i < 0 || !r->config[i] || !*r->config[i]) continue;
        role[n] = keys[k];
        snprintf(path[n++], 4096, "%s", r->config[i]);
    }
    int i = sx_suite_opt(s, "readout");
    const char *ro = i >= 0 && r->config[i] ? r->config[i] : "";
    if (*ro) {
        const char *comma = strchr(ro, ',');
        role[n] = "readout_W";
        snprintf(path[n++], 4096, "%.*s", comma ? (int)(comma - ro) : (int)strlen(ro), ro);
        if (comma && comma[1]) {
            role[n] = "readout_b";
            snprintf(path[n++], 4096, "%s", comma + 1);
        }
    }
    return n;
}

/* "SIZE\tMTIME" of path now (mtime as seconds.nanoseconds); "-1\t-1" if it
 * cannot be stat()ed.  Returns 1 if it could. */
static int file_identity(const char *path, char *buf, size_t len)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(buf, len, "-1\t-1");
        return 0;
    }
    snprintf(buf, len, "%lld\t%lld.%09ld", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
             (long)st.st_mtim.tv_nsec);
    return 1;
}

mg_status cli_suite_record_inputs(const cli_suite *s, const cli_suite_run *r, const char *dir)
{
    char path[4096], when[64];
    mg_status e = cli_path(path, sizeof path, dir, "inputs.tsv");
    if (e != MG_OK) return e;
    const char *role[MAX_INPUTS];
    char files[MAX_INPUTS][4096];
    int n = run_inputs(s, r, role, files);
    sx_iso_time(when, sizeof when);
    sx_membuf m;
    sx_mb_open(&m);
    fprintf(m.f,
            "# mixgeo suite %s: the input files of this run when its analysis started (%s);\n"
            "# a size or modification time (seconds.nanoseconds) that differs now makes the\n"
            "# finished run stale (-1: the file could not be read then).\n"
            "# columns: role size mtime path\n",
            s->name, when);
    for (int k = 0; k < n; k++) {
        char id[96];
        file_identity(files[k], id, sizeof id);
        fprintf(m.f, "%s\t%s\t%s\n", role[k], id, files[k]);
    }
    return sx_mb_write(&m, path);
}

/* Compare the input files of states run r with DIR/inputs.tsv: 0 the same,
 * 1 changed (stale; why says which), 2 the same but one is gone now (why
 * says which: the results are kept). */
static int inputs_changed(const cli_suite *s, const cli_suite_run *r, const char *dir, char *why,
                          size_t len)
{
    char path[4096];
    why[0] = '\0';
    if (cli_path(path, sizeof path, dir, "inputs.tsv") != MG_OK) return 1;
    char *text = sx_read_text(path, 1 << 20);
    if (!text) {
        snprintf(why, len, "no inputs.tsv (the record of its input files)");
        return 1;
    }
    const char *role[MAX_INPUTS];
    char files[MAX_INPUTS][4096];
    int n = run_inputs(s, r, role, files), result = 0;
    for (int k = 0; k < n && result != 1; k++) {
        /* the line "ROLE\tSIZE\tMTIME\tPATH" of this role */
        char want[96], rec[96] = "";
        size_t rl = strlen(role[k]);
        for (const char *p = text; *p;) {
            const char *e = strchr(p, '\n');
            size_t ll = e ? (size_t)(e - p) : strlen(p);
            if (ll > rl && !strncmp(p, role[k], rl) && p[rl] == '\t') {
                const char *f = p + rl + 1, *t2 = memchr(f, '\t', ll - rl - 1);
                const char *t3 = t2 ? memchr(t2 + 1, '\t', (size_t)(p + ll - t2 - 1)) : NULL;
                if (t3 && (size_t)(t3 - f) < sizeof rec)
                    snprintf(rec, sizeof rec, "%.*s", (int)(t3 - f), f);
                break;
            }
            p = e ? e + 1 : p + ll;
        }
        int exists = file_identity(files[k], want, sizeof want);
        if (!*rec) {
            snprintf(why, len, "input %s %.300s is not in inputs.tsv", role[k], files[k]);
            result = 1;
        } else if (!exists && strcmp(rec, "-1\t-1") != 0) {
            snprintf(why, len, "input gone: %s %.300s (the results are kept)", role[k], files[k]);
            result = 2;
        } else if (strcmp(rec, want) != 0) {
            char *tab1 = strchr(rec, '\t'), *tab2 = strchr(want, '\t');
            if (tab1) *tab1 = '\0';
            if (tab2) *tab2 = '\0';
            if (strcmp(rec, want) != 0)
                snprintf(why, len, "input changed: %s %.300s (size %.32s -> %.32s)", role[k],
                         files[k], rec, want);
            else
                snprintf(why, len, "input changed: %s %.300s (modified after the analysis started)",
                         role[k], files[k]);
            result = 1;
        }
    }
    free(text);
    return result;
}

void cli_suite_clear_states_out(const char *dir)
{
    char path[4096];
    if (cli_path(path, sizeof path, dir, CLI_SUITE_STATES_OUT) != MG_OK) return;
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        char p[4096 + 256];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        if (lstat(p, &st) == 0 && !S_ISDIR(st.st_mode)) remove(p);
    }
    closedir(d);
}

/* ---------------------------------------------------------------- state */

/* What is left of a trained run: "next: analyze-test-L1", "compare-base
 * waits: ID is not trained yet". */
static void todo_detail(const cli_suite *s, int run, const char *dir, const char *prefix,
                        char *detail, size_t len)
{
    int blocked;
    int next = cli_suite_next_step(s, run, dir, &blocked);
    if (next < s->n_steps) {
        snprintf(detail, len, "%snext %s", prefix, s->steps[next].name);
    } else if (blocked >= 0) {
        char why[512];
        const cli_suite_step *st = &s->steps[blocked];
        cli_suite_ref_ready(s, cli_suite_step_ref(s, run, st), why, sizeof why);
        snprintf(detail, len, "%s%s waits: %s", prefix, st->name, why);
    } else {
        snprintf(detail, len, "%severy step done, DONE not written yet", prefix);
    }
}

/* A training run's progress after its lock holder in detail: "; epoch
 * 137/300, 7.6 s an epoch, about 21 min left" (the mean time of its last 5
 * epochs in metrics.tsv) while it trains, "; trained" after. */
static void append_progress(const char *dir, char *detail, size_t len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    cJSON *j = cli_json_load(path);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    const cJSON *ed = cJSON_GetObjectItemCaseSensitive(j, "epochs_done");
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(j, "epochs");
    size_t used = strlen(detail);
    if (cJSON_IsString(st) && !strcmp(st->valuestring, "finished")) {
        snprintf(detail + used, len - used, "; trained");
    } else if (cJSON_IsNumber(ed) && cJSON_IsNumber(ep)) {
        int done = ed->valueint, all = ep->valueint;
        int w = snprintf(detail + used, len - used, "; epoch %d/%d", done, all);
        used += w > 0 && (size_t)w < len - used ? (size_t)w : 0;
        snprintf(path, sizeof path, "%s/metrics.tsv", dir);
        char *text = sx_read_text(path, (size_t)16 << 20);
        double sum = 0.0;
        int n = 0;
        for (char *e = text ? text + strlen(text) : NULL; e && e > text && n < 5;) {
            char *b = e; /* the line [b, e) before e */
            while (b > text && b[-1] != '\n') b--;
            if (e > b && *b != '#') {
                char *tab = b, *end;
                for (char *q = b; q < e; q++)
                    if (*q == '\t') tab = q + 1;
                double x = strtod(tab, &end);
                if (end > tab && isfinite(x) && x >= 0) sum += x, n++;
            }
            e = b > text ? b - 1 : text;
        }
        free(text);
        if (n) {
            double left = (all - done) * sum / n / 60.0;
            if (left >= 90)
                snprintf(detail + used, len - used, ", %.1f s an epoch, about %.1f h left", sum / n,
                         left / 60.0);
            else
                snprintf(detail + used, len - used, ", %.1f s an epoch, about %.0f min left",
                         sum / n, left);
        }
    }
    cJSON_Delete(j);
}

static cli_run_state run_state(const cli_suite *s, const cli_suite_run *r, int check_lock,
                               char *detail, size_t len)
{
    char dir[4096], path[4096], why[512];
    detail[0] = '\0';
    if (cli_suite_run_dir(s, r, dir, sizeof dir) != MG_OK || !cli_dir_exists(dir))
        return CLI_RUN_MISSING;
    if (check_lock && lock_held(dir, detail, len)) {
        if (s->command == CLI_SUITE_TRAIN) append_progress(dir, detail, len);
        return CLI_RUN_RUNNING;
    }
    cli_path(path, sizeof path, dir, "DONE");
    if (cli_file_exists(path)) {
        char steps[64];
        marker_value(path, "steps", steps, sizeof steps);
        if (!cli_suite_config_matches(s, r, dir, why, sizeof why)) {
            snprintf(detail, len, "configuration changed (%s)", why);
            return CLI_RUN_STALE;
        }
        if (s->command == CLI_SUITE_STATES && strcmp(steps, s->steps_sig) == 0) {
            int c = inputs_changed(s, r, dir, why, sizeof why);
            if (c == 1) {
                snprintf(detail, len, "%s", why);
                return CLI_RUN_STALE;
            }
            snprintf(detail, len, "%s", why); /* "" or an input that is gone */
        }
        int run = (int)(r - s->runs);
        if (!strcmp(steps, s->steps_sig)) {
            if (!s->n_compares || cli_suite_compares_current(s, run, dir, why, sizeof why))
                return CLI_RUN_DONE;
            snprintf(detail, len, "trained; %s", why);
            return CLI_RUN_PARTIAL;
        }
        todo_detail(s, run, dir,
                    s->n_compares ? "trained; [analyze] or [compare] changed: "
                                  : "trained; [analyze] changed: ",
                    detail, len);
        return CLI_RUN_PARTIAL;
    }
    cli_path(path, sizeof path, dir, "FAILED");
    if (cli_file_exists(path)) {
        char step[64], status[128], msg[512];
        marker_value(path, "step", step, sizeof step);
        marker_value(path, "status", status, sizeof status);
        marker_value(path, "message", msg, sizeof msg);
        snprintf(detail, len, "%s %s%s%s", step, status, *msg ? ": " : "", msg);
        return CLI_RUN_FAILED;
    }
    cli_path(path, sizeof path, dir, "config.ini");
    if (!cli_file_exists(path)) return CLI_RUN_MISSING;
    if (!cli_suite_config_matches(s, r, dir, why, sizeof why)) {
        snprintf(detail, len, "configuration changed (%s)", why);
        return CLI_RUN_STALE;
    }
    if (s->command == CLI_SUITE_TRAIN && s->n_steps > 1 &&
        cli_suite_step_done(s, (int)(r - s->runs), &s->steps[0], dir)) {
        todo_detail(s, (int)(r - s->runs), dir, "trained; ", detail, len);
        return CLI_RUN_PARTIAL;
    }
    cli_path(path, sizeof path, dir, "summary.json");
    cJSON *j = s->command == CLI_SUITE_TRAIN ? cli_json_load(path) : NULL;
    if (j) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
        const cJSON *ed = cJSON_GetObjectItemCaseSensitive(j, "epochs_done");
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(j, "epochs");
        snprintf(detail, len, "epoch %d/%d, %s", cJSON_IsNumber(ed) ? ed->valueint : 0,
                 cJSON_IsNumber(ep) ? ep->valueint : 0, cJSON_IsString(st) ? st->valuestring : "?");
        cJSON_Delete(j);
    } else {
        snprintf(detail, len, "started");
    }
    return CLI_RUN_PARTIAL;
}

cli_run_state cli_suite_run_state(const cli_suite *s, const cli_suite_run *r, char *detail,
                                  size_t len)
{
    return run_state(s, r, 1, detail, len);
}

cli_run_state cli_suite_run_state_locked(const cli_suite *s, const cli_suite_run *r, char *detail,
                                         size_t len)
{
    return run_state(s, r, 0, detail, len);
}

mg_status cli_suite_write_config(const cli_suite *s, const cli_suite_run *r, const char *dir,
                                 int threads)
{
    cli_values v;
    cli_values_init(&v, s->opts, s->n_opts);
    for (int i = 0; i < s->n_opts; i++)
        if (r->config[i]) cli_set(&v, i, r->config[i], NULL);
    char t[32];
    snprintf(t, sizeof t, "%d", threads);
    char out[4200];
    snprintf(out, sizeof out, "%s%s%s", dir, s->command == CLI_SUITE_STATES ? "/" : "",
             s->command == CLI_SUITE_STATES ? CLI_SUITE_STATES_OUT : "");
    cli_set_by_name(&v, "out", out, NULL);
    cli_set_by_name(&v, "threads", t, NULL);
    mg_status st;
    if (s->command == CLI_SUITE_STATES) {
        char path[4096];
        st = cli_path(path, sizeof path, dir, "config.ini");
        if (st == MG_OK)
            st = cli_ini_write(path, &v, "analyze",
                               "mixgeo suite: the options this run gave to `mixgeo analyze "
                               "--states`\n(compared with the suite file to find changed runs; "
                               "the input files: inputs.tsv)");
    } else if (s->command == CLI_SUITE_THEORY) {
        char path[4096];
        st = cli_path(path, sizeof path, dir, "config.ini");
        if (st == MG_OK)
            st = cli_ini_write(path, &v, "theory",
                               "mixgeo suite: the options this run gave to `mixgeo theory`\n"
                               "(compared with the suite file to find changed runs)");
    } else {
        st = cli_run_config_save(&v, dir);
    }
    cli_values_free(&v);
    return st;
}

int cli_suite_command_argv(const cli_suite *s, const cli_suite_run *r, const char *exe,
                           const char *dir, int threads, char **argv, int max, char *buf,
                           size_t len)
{
    MG_ASSERT(s->command == CLI_SUITE_THEORY || s->command == CLI_SUITE_STATES);
    int states = s->command == CLI_SUITE_STATES;
    int n = 0;
    size_t used = 0;
#define ARG(text)                                                                                  \
    do {                                                                                           \
        size_t l_ = strlen(text) + 1;                                                              \
        if (n + 2 > max || used + l_ > len) return -1;                                             \
        memcpy(buf + used, text, l_);                                                              \
        argv[n++] = buf + used;                                                                    \
        used += l_;                                                                                \
    } while (0)
    char opt[300], th[32], out[4200];
    ARG(exe);
    ARG(states ? "analyze" : "theory");
    for (int i = 0; i < s->n_opts; i++) {
        if (!r->config[i] || !strcmp(s->opts[i].name, "out") || !strcmp(s->opts[i].name, "threads"))
            continue;
        if (states && !*r->config[i]) continue; /* logits, readout: none */
        snprintf(opt, sizeof opt, "--%s", s->opts[i].name);
        ARG(opt);
        ARG(r->config[i]);
    }
    snprintf(th, sizeof th, "%d", threads);
    snprintf(out, sizeof out, "%s%s%s", dir, states ? "/" : "", states ? CLI_SUITE_STATES_OUT : "");
    ARG("--out");
    ARG(out);
    ARG("--threads");
    ARG(th);
#undef ARG
    argv[n] = NULL;
    return n;
}

static mg_status step_path(const cli_suite_step *st, const char *dir, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/steps/%s.done", dir, st->name);
    if (n < 0 || (size_t)n >= len) return mg_fail(MG_ERR_CONFIG, "path too long: %s", dir);
    return MG_OK;
}

/* What steps/NAME.done holds: the step's args; a compare step adds the id
 * of the run's reference (another reference: another result). */
static void marker_text(const cli_suite *s, int run, const cli_suite_step *st, char *buf,
                        size_t len)
{
    int ref = cli_suite_step_ref(s, run, st);
    if (st->kind == CLI_STEP_COMPARE && ref >= 0)
        snprintf(buf, len, "%s\nreference = %s", st->args, s->runs[ref].id);
    else
        snprintf(buf, len, "%s", st->args);
}

int cli_suite_step_done(const cli_suite *s, int run, const cli_suite_step *st, const char *dir)
{
    char path[4096], want[800];
    if (step_path(st, dir, path, sizeof path) != MG_OK) return 0;
    char *text = sx_read_text(path, 4096);
    if (!text) return 0;
    marker_text(s, run, st, want, sizeof want);
    int ok = !strcmp(trim(text), want);
    free(text);
    return ok;
}

mg_status cli_suite_mark_step(const cli_suite *s, int run, const cli_suite_step *st,
                              const char *dir)
{
    char path[4096], sdir[4096], text[800];
    mg_status e = cli_path(sdir, sizeof sdir, dir, "steps");
    if (e == MG_OK) e = mg_mkdir_p(sdir);
    if (e == MG_OK) e = step_path(st, dir, path, sizeof path);
    if (e != MG_OK) return e;
    marker_text(s, run, st, text, sizeof text - 1);
    strcat(text, "\n");
    return sx_write_text_atomic(path, text);
}

mg_status cli_suite_mark_done(const cli_suite *s, const cli_suite_run *r, const char *dir)
{
    char path[4096], when[64];
    mg_status e = cli_path(path, sizeof path, dir, "DONE");
    if (e != MG_OK) return e;
    sx_iso_time(when, sizeof when);
    sx_membuf m;
    sx_mb_open(&m);
    fprintf(m.f,
            "# mixgeo suite %s: this run finished every step (listed below).\n"
            "# Removing this file makes `mixgeo suite run` check the run again.\n"
            "id = %s\n"
            "config = %016llx\n"
            "steps = %s\n"
            "git = %s\n"
            "finished = %s\n",
            s->name, r->id, (unsigned long long)r->hash, s->steps_sig, cli_git_revision(), when);
    for (int i = 0; i < s->n_steps; i++) fprintf(m.f, "# step: %s\n", s->steps[i].args);
    return sx_mb_write(&m, path);
}

void cli_suite_log_tail(const char *dir, char *buf, size_t len)
{
    char path[4096];
    buf[0] = '\0';
    if (cli_path(path, sizeof path, dir, "log.txt") != MG_OK) return;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char tail[8192];
    long size = 0;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    long off = size > (long)sizeof tail - 1 ? size - (long)sizeof tail + 1 : 0;
    fseek(f, off, SEEK_SET);
    size_t k = fread(tail, 1, sizeof tail - 1, f);
    fclose(f);
    tail[k] = '\0';
    char *save = NULL;
    for (char *line = strtok_r(tail, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *t = trim(line);
        if (!*t || !strncmp(t, "== ", 3)) continue;
        if (!strncmp(t, "mixgeo: ", 8)) t += 8;
        snprintf(buf, len, "%s", t);
    }
}

mg_status cli_suite_mark_failed(const char *dir, const char *step, const char *status_text)
{
    char path[4096], msg[512], when[64];
    mg_status e = cli_path(path, sizeof path, dir, "FAILED");
    if (e != MG_OK) return e;
    cli_suite_log_tail(dir, msg, sizeof msg);
    sx_iso_time(when, sizeof when);
    sx_membuf m;
    sx_mb_open(&m);
    fprintf(m.f,
            "# mixgeo suite: the last attempt of this run failed; see log.txt.\n"
            "step = %s\nstatus = %s\nmessage = %s\nlog = log.txt\ntime = %s\n",
            step, status_text, msg, when);
    return sx_mb_write(&m, path);
}

void cli_suite_clear_markers(const char *dir)
{
    char path[4096];
    if (cli_path(path, sizeof path, dir, "DONE") == MG_OK) remove(path);
    if (cli_path(path, sizeof path, dir, "FAILED") == MG_OK) remove(path);
    if (cli_path(path, sizeof path, dir, "steps") != MG_OK) return;
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n > 5 && !strcmp(de->d_name + n - 5, ".done")) {
            char p[4096 + 256];
            snprintf(p, sizeof p, "%s/%s", path, de->d_name);
            remove(p);
        }
    }
    closedir(d);
}
