/* suite_shard.c - experiment suites: the shard backend.  `mixgeo suite run
 * FILE --shard I/N` runs a fixed slice of the grid, for any scheduler that
 * can start N copies of one command (a plain loop over hosts, a GNU parallel
 * line, another cluster's array jobs): run r (grid order) belongs to shard
 * (r mod N) + 1.  The slice depends only on the grid, never on the state of
 * the runs, so shards 1..N together hold every run exactly once; within a
 * shard the local runner does the work (locks, DONE markers: a shard run
 * twice, or beside `suite run` or a Slurm array on the same suite, skips
 * what is done).  Dealing round-robin spreads every axis over the shards
 * (the last axis varies fastest), so shards take about the same time.
 */
#include "suite_internal.h"

int cli_suite_shard_parse(const char *text, int *i, int *n)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    char *slash = strchr(buf, '/');
    if (!slash) return 0;
    *slash = '\0';
    long a, b;
    if (!sx_parse_long_text(trim(buf), 1, 1000000, &a) ||
        !sx_parse_long_text(trim(slash + 1), 1, 1000000, &b) || a > b)
        return 0;
    *i = (int)a;
    *n = (int)b;
    return 1;
}

int cli_suite_shard_has(const cli_suite *s, int run, int i, int n)
{
    (void)s;
    return run % n == i - 1;
}
