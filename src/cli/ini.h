/*
 * ini.h - the one INI reader of the mixgeo program (src/cli/): run
 * configurations (RUN/config.ini and --config files, read by config.c's
 * cli_ini_load) and suite files (suite_file.c) go through cli_ini_read, so
 * both accept the same syntax and report problems the same way, with the
 * line numbers.
 *
 * Syntax: "key = value" lines under "[kind]" or "[kind name]" headers;
 * blanks around keys, values and header words are ignored; '#' or ';' at
 * the start of a line or after a blank start a comment (so a value cannot
 * contain " #" or " ;"); a UTF-8 byte-order mark is skipped; lines may be
 * of any length.  Keys before the first header go into a section with
 * kind "" (line 0), the first of the list when present; what they mean is
 * up to the caller (config.ini: the keys of the command; a suite file
 * refuses them).  Problems (each counted, and printed as "mixgeo:
 * FILE:LINE: ..." unless quiet): a header without ']' or empty, a line
 * that is neither a header, "key = value" nor a comment, an empty key, a
 * duplicate section (the same kind and name twice: its keys are ignored)
 * and a duplicate key within a section ("FILE:LINE: KEY: duplicate key
 * (first at line N)": both line numbers).
 *
 * Ownership: cli_ini_read allocates the sections, their entries and every
 * string; cli_ini_free releases them.  The find functions return pointers
 * into that storage.
 */
#ifndef MIXGEO_CLI_INI_H
#define MIXGEO_CLI_INI_H

typedef struct {
    char *key, *value;
    int line;
} cli_ini_entry;

typedef struct {
    char *kind; /* "suite", "train", ...; "" for the keys before any header */
    char *name; /* [method NAME]: NAME; "" for one-word headers */
    int line;   /* of the header; 0 for kind "" */
    cli_ini_entry *e;
    int n, cap;
} cli_ini_section;

/* Read path into *out (n_out sections, in file order).  Returns the number
 * of problems (printed unless quiet), or -1 if the file cannot be read
 * (printed unless quiet; *out is then NULL). */
int cli_ini_read(const char *path, int quiet, cli_ini_section **out, int *n_out);
void cli_ini_free(cli_ini_section *sec, int n);

/* The first section of that kind and name (name NULL: any name), NULL if none. */
const cli_ini_section *cli_ini_find_section(const cli_ini_section *sec, int n, const char *kind,
                                            const char *name);
/* The entry of key in sec (sec may be NULL), NULL if absent. */
const cli_ini_entry *cli_ini_find_entry(const cli_ini_section *sec, const char *key);

/* 1 if value can be written as "key = value" and read back unchanged: no
 * line break, no blank at either end, no comment start (a leading '#' or
 * ';', or one after a blank). */
int cli_ini_value_ok(const char *value);

#endif /* MIXGEO_CLI_INI_H */
