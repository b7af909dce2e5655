/* gp.c - gnuplot scripts for the figures of mixgeo (gp.h).
 * Depends only on mixgeo.h (mg_write_atomic, mg_fail), so that the tests can
 * compile it on its own. */
#include "gp.h"

#include <stdlib.h>
#include <string.h>

/* Keep in sync with plots/style.gp (tests/test_gp.c compares them). */
static const char k_style[] =
    "# style.gp - the mixgeo house style for gnuplot figures.\n"
    "# Use: load 'style.gp' (before the plot commands; any terminal).\n"
    "# The scripts that `mixgeo analyze` and `mixgeo theory` write carry a copy.\n"
    "set encoding utf8\n"
    "set termoption enhanced\n"
    "set border 3 lw 1 lc rgb \"#404040\"\n"
    "set tics nomirror out scale 0.6\n"
    "set xtics textcolor rgb \"#202020\"\n"
    "set ytics textcolor rgb \"#202020\"\n"
    "set style line 9 lc rgb \"#dcdcdc\" lw 0.6 dt 1\n"
    "set grid back ls 9\n"
    "set key top right nobox noopaque samplen 2.5 spacing 1.15\n"
    "set style fill solid 0.6 noborder\n"
    "# methods: 1 baseline (no mixup) grey-black, 2 input mixup blue, 3 Manifold Mixup "
    "red-orange\n"
    "set style line 1 lc rgb \"#303030\" lw 2 pt 7 ps 0.6\n"
    "set style line 2 lc rgb \"#1f5fbf\" lw 2 pt 5 ps 0.6\n"
    "set style line 3 lc rgb \"#e0501b\" lw 2 pt 9 ps 0.6\n"
    "# the same colours dashed (a second curve of one method)\n"
    "set style line 4 lc rgb \"#303030\" lw 2 dt 2 pt 6 ps 0.6\n"
    "set style line 5 lc rgb \"#1f5fbf\" lw 2 dt 2 pt 4 ps 0.6\n"
    "set style line 6 lc rgb \"#e0501b\" lw 2 dt 2 pt 8 ps 0.6\n"
    "# reference lines (thresholds, diagonals)\n"
    "set style line 8 lc rgb \"#808080\" lw 1.2 dt 3\n"
    "# classes: class c uses ls 11 + c % 10\n"
    "set style line 11 lc rgb \"#4e79a7\" lw 1.5 pt 7 ps 0.4\n"
    "set style line 12 lc rgb \"#f28e2b\" lw 1.5 pt 7 ps 0.4\n"
    "set style line 13 lc rgb \"#e15759\" lw 1.5 pt 7 ps 0.4\n"
    "set style line 14 lc rgb \"#76b7b2\" lw 1.5 pt 7 ps 0.4\n"
    "set style line 15 lc rgb \"#59a14f\" lw 1.5 pt 7 ps 0.4\n"
    "set style line 16 lc rgb \"#edc948\" lw 1.5 pt 7 ps 0.4\n"
    "set style line 17 lc rgb \"#b07aa1\" lw 1.5 pt 7 ps 0.4\n"
    "set style line 18 lc rgb \"#ff9da7\" lw 1.5 pt 7 ps 0.4\n"
    "set style line 19 lc rgb \"#9c755f\" lw 1.5 pt 7 ps 0.4\n"
    "set style line 20 lc rgb \"#bab0ac\" lw 1.5 pt 7 ps 0.4\n"
    "# confidence heat maps: white (low) to dark grey (high), neutral beside the class "
    "colours\n"
    "set palette defined (0 \"#ffffff\", 0.5 \"#bdbdbd\", 1 \"#4a4a4a\")\n";

static const char *const k_class_rgb[10] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                                            "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                                            "#9c755f", "#bab0ac"};

const char *gp_style_text(void)
{
    return k_style;
}

int gp_method_ls(mg_mix_mode mode)
{
    switch (mode) {
    case MG_MIX_NONE: return 1;
    case MG_MIX_INPUT: return 2;
    case MG_MIX_MANIFOLD: return 3;
    }
    return 1;
}

int gp_class_ls(int c)
{
    if (c < 0) c = -c;
    return 11 + c % 10;
}

const char *gp_class_rgb(int c)
{
    if (c < 0) c = -c;
    return k_class_rgb[c % 10];
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return 0;
}

void gp_class_rgb_bytes(int c, unsigned char rgb[3])
{
    const char *h = gp_class_rgb(c) + 1;
    for (int i = 0; i < 3; i++)
        rgb[i] = (unsigned char)(16 * hexval(h[2 * i]) + hexval(h[2 * i + 1]));
}

/* ---------------------------------------------------------------- quoting */

static char *quote_impl(char *buf, size_t len, const char *s, int enhanced)
{
    MG_ASSERT(buf && len >= 3 && s);
    size_t o = 0;
    buf[o++] = '\'';
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        char piece[4];
        size_t n = 0;
        if (ch < 0x20 || ch == 0x7f) {
            piece[n++] = ' ';
        } else if (ch == '\'') {
            piece[n++] = '\'';
            piece[n++] = '\'';
        } else if (enhanced && strchr("_^@&{}~\\", ch)) {
            /* In single quotes a backslash is literal, and enhanced text
             * takes "\_" ... as an escaped character. */
            piece[n++] = '\\';
            piece[n++] = (char)ch;
        } else {
            piece[n++] = (char)ch;
        }
        if (o + n + 2 > len) break; /* room for the closing quote and NUL */
        memcpy(buf + o, piece, n);
        o += n;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
    return buf;
}

char *gp_quote(char *buf, size_t len, const char *s)
{
    return quote_impl(buf, len, s, 0);
}

char *gp_quote_text(char *buf, size_t len, const char *s)
{
    return quote_impl(buf, len, s, 1);
}

/* ---------------------------------------------------------------- buffer */

void gp_buf_init(gp_buf *b)
{
    memset(b, 0, sizeof *b);
}

void gp_buf_free(gp_buf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

void gp_buf_vprintf(gp_buf *b, const char *fmt, va_list ap)
{
    if (b->failed) return;
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    size_t need = b->len + (size_t)n + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < need) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    b->len += (size_t)n;
}

void gp_buf_printf(gp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gp_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- scripts */

mg_status gp_emit(FILE *f, const gp_figure *fig, const char *body)
{
    MG_ASSERT(f && fig && fig->name);
    int w = fig->width > 0 ? fig->width : 800, h = fig->height > 0 ? fig->height : 600;
    char stem[1100], out[2300];
    snprintf(stem, sizeof stem, "%s.", fig->name);
    gp_quote(out, sizeof out, stem); /* 'NAME.' */
    fprintf(f, "# %s.gp - %s\n", fig->name, fig->title ? fig->title : fig->name);
    if (fig->provenance && *fig->provenance)
        fprintf(f, "%s%s\n", fig->provenance[0] == '#' ? "" : "# ", fig->provenance);
    fprintf(f,
            "# Render: gnuplot %s.gp  (in this directory: the data files are read by relative\n"
            "# path; `mixgeo plot DIR` does this for every script below DIR).  Writes\n"
            "# %s.png (pngcairo) and %s.pdf (pdfcairo).\n\n",
            fig->name, fig->name, fig->name);
    fputs(k_style, f);
    if (fig->setup && *fig->setup) {
        fputs(fig->setup, f);
        if (fig->setup[strlen(fig->setup) - 1] != '\n') fputc('\n', f);
    }
    fprintf(f,
            "\n"
            "do for [gp_fmt in \"png pdf\"] {\n"
            "if (gp_fmt eq \"png\") {\n"
            "    set terminal pngcairo size %d,%d enhanced font \"Sans,11\"\n"
            "} else {\n"
            "    set terminal pdfcairo size %.4gin,%.4gin enhanced font \"Sans,10\"\n"
            "}\n"
            "set output %s . gp_fmt\n",
            w, h, w / 160.0, h / 160.0, out);
    if (body) fputs(body, f);
    if (body && *body && body[strlen(body) - 1] != '\n') fputc('\n', f);
    fputs("unset multiplot\n"
          "set output\n"
          "}\n",
          f);
    if (ferror(f)) return mg_fail(MG_ERR_IO, "write error in %s.gp", fig->name);
    return MG_OK;
}

typedef struct {
    const gp_figure *fig;
    const char *body;
} gp_job;

static mg_status gp_emit_job(FILE *f, void *user)
{
    const gp_job *j = user;
    return gp_emit(f, j->fig, j->body);
}

mg_status gp_write(const char *dir, const gp_figure *fig, const gp_buf *body)
{
    MG_ASSERT(dir && fig && fig->name && body);
    if (body->failed) return mg_fail(MG_ERR_NOMEM, "out of memory writing %s.gp", fig->name);
    char path[4096];
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    int n = snprintf(path, sizeof path, "%.*s/%s.gp", (int)dl, dir, fig->name);
    if (n < 0 || (size_t)n >= sizeof path)
        return mg_fail(MG_ERR_CONFIG, "path too long: %s/%s.gp", dir, fig->name);
    gp_job j = {fig, body->s ? body->s : ""};
    return mg_write_atomic(path, gp_emit_job, &j);
}
