/*
 * gp.h - gnuplot scripts for the figures of mixgeo (part of libmganalysis;
 * used by the analyses, the suite report and the theory command).
 *
 * A figure is a data file (TSV) plus a script NAME.gp next to it that reads
 * the data by relative path and, run as `gnuplot NAME.gp` in its directory
 * (what `mixgeo plot` does), writes NAME.png (pngcairo) and NAME.pdf
 * (pdfcairo) from the same plot commands:
 *
 *   # NAME.gp - TITLE            (header comments: provenance, how to render)
 *   <house style>                (gp_style_text(), the same as plots/style.gp)
 *   <setup>                      (the caller's definitions, e.g. arrays of names)
 *   do for [gp_fmt in "png pdf"] {
 *       <terminal for gp_fmt>; set output "NAME." . gp_fmt
 *       <body>                   (the caller's plot commands)
 *       unset multiplot; set output
 *   }
 *
 * House style: sans font, left/bottom border, outward tics, light grid
 * behind the data, key at the top right without a box.  Line styles:
 *   ls 1 / 2 / 3   baseline (no mixup) grey-black / input mixup blue /
 *                  Manifold Mixup red-orange (solid, points 7 / 5 / 9)
 *   ls 4 / 5 / 6   the same colours dashed (a second curve of one method)
 *   ls 8           reference lines (thresholds, diagonals): grey, dotted
 *   ls 9           the grid
 *   ls 11..20      ten class colours: class c uses ls 11 + c % 10
 * and `set palette` for confidence heat maps (white = low, dark grey = high).
 * The library never runs gnuplot; nothing here needs it installed.
 *
 * Nothing here prints; writers return mg_status with mg_fail details.
 */
#ifndef MIXGEO_GP_H
#define MIXGEO_GP_H

#include "mixgeo.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* The house style as gnuplot commands (static text, ends with a newline);
 * plots/style.gp holds exactly this text. */
const char *gp_style_text(void);

/* Line style of a method's curves: 1 none, 2 input, 3 manifold (add 3 for
 * the dashed variant). */
int gp_method_ls(mg_mix_mode mode);
/* Line style of class c: 11 + c % 10. */
int gp_class_ls(int c);
/* The class colour as "#rrggbb" (same table as ls 11..20). */
const char *gp_class_rgb(int c);
void gp_class_rgb_bytes(int c, unsigned char rgb[3]);

/* s as a gnuplot string literal in single quotes (no escapes are
 * interpreted there; a quote is doubled), truncated to fit buf.  Control
 * characters become blanks. Returns buf. */
char *gp_quote(char *buf, size_t len, const char *s);
/* The same with enhanced-text specials (_ ^ @ & { } ~ \) escaped so that a
 * title such as "runs/fm_mm" prints as written. */
char *gp_quote_text(char *buf, size_t len, const char *s);

/* A growable text buffer for script bodies.  gp_buf_printf appends; on an
 * allocation failure the buffer remembers it (failed = 1) and later writes
 * report MG_ERR_NOMEM. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} gp_buf;

void gp_buf_init(gp_buf *b);
void gp_buf_free(gp_buf *b);
void gp_buf_printf(gp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gp_buf_vprintf(gp_buf *b, const char *fmt, va_list ap);

/* What a figure script needs besides its body. */
typedef struct {
    const char *name;       /* NAME: the script NAME.gp, outputs NAME.png/.pdf  */
    const char *title;      /* one line for the header comment (not plotted)    */
    const char *provenance; /* e.g. "# mixgeo 0.1.0 seed=0 git=..." or NULL     */
    int width, height;      /* PNG size in pixels (the PDF keeps the aspect at
                               160 px per inch); 0 = 800 x 600                  */
    const char *setup;      /* NULL or commands run once before the output loop */
} gp_figure;

/* Write the whole script (header, style, output loop around body) to f. */
mg_status gp_emit(FILE *f, const gp_figure *fig, const char *body);
/* Write DIR/NAME.gp atomically (mg_write_atomic).  MG_ERR_NOMEM if the body
 * buffer failed to grow, MG_ERR_CONFIG if the path does not fit. */
mg_status gp_write(const char *dir, const gp_figure *fig, const gp_buf *body);

#endif /* MIXGEO_GP_H */
