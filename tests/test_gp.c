/* test_gp.c - the gnuplot script helpers of the program (analysis/gp.c).
 *
 * gp.c depends only on libmixgeo, so it is compiled into this test directly.
 * Checks: the embedded house style equals plots/style.gp (run from the
 * source tree, as `make check` does); quoting of strings and enhanced text;
 * the growable buffer; the script layout (header, style, setup, output loop
 * writing NAME.png and NAME.pdf); and, when gnuplot is installed, that a
 * generated script renders both files (PNG magic, PDF magic). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "gp.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whole file into a malloc'ed string (NULL if unreadable). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    size_t r;
    while (s && (r = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) {
            char *t = realloc(s, cap * 2);
            if (!t) {
                free(s);
                s = NULL;
                break;
            }
            s = t;
            cap *= 2;
        }
    }
    fclose(f);
    if (!s) return NULL;
    s[n] = '\0';
    if (len) *len = n;
    return s;
}

static char *make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    char *t = malloc(strlen(base) + 32);
    assert_non_null(t);
    sprintf(t, "%s/mg-test-gp.XXXXXX", base);
    assert_non_null(mkdtemp(t));
    return t;
}

static void test_style_file_matches(void **state)
{
    (void)state;
    char *s = slurp("plots/style.gp", NULL);
    if (!s) fail_msg("cannot read plots/style.gp (run the test from the source tree)");
    assert_string_equal(s, gp_style_text());
    free(s);
    /* the method and class styles the figures rely on */
    const char *st = gp_style_text();
    assert_non_null(strstr(st, "set style line 1 lc rgb \"#303030\""));
    assert_non_null(strstr(st, "set style line 2 lc rgb \"#1f5fbf\""));
    assert_non_null(strstr(st, "set style line 3 lc rgb \"#e0501b\""));
    for (int c = 0; c < 10; c++) {
        char want[64];
        snprintf(want, sizeof want, "set style line %d lc rgb \"%s\"", gp_class_ls(c),
                 gp_class_rgb(c));
        assert_non_null(strstr(st, want));
    }
}

static void test_styles(void **state)
{
    (void)state;
    assert_int_equal(gp_method_ls(MG_MIX_NONE), 1);
    assert_int_equal(gp_method_ls(MG_MIX_INPUT), 2);
    assert_int_equal(gp_method_ls(MG_MIX_MANIFOLD), 3);
    assert_int_equal(gp_class_ls(0), 11);
    assert_int_equal(gp_class_ls(9), 20);
    assert_int_equal(gp_class_ls(13), 14);
    unsigned char rgb[3];
    gp_class_rgb_bytes(0, rgb); /* #4e79a7 */
    assert_int_equal(rgb[0], 0x4e);
    assert_int_equal(rgb[1], 0x79);
    assert_int_equal(rgb[2], 0xa7);
    gp_class_rgb_bytes(11, rgb); /* #f28e2b */
    assert_int_equal(rgb[0], 0xf2);
    assert_int_equal(rgb[2], 0x2b);
}

static void test_quote(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(gp_quote(b, sizeof b, "plain"), "'plain'");
    assert_string_equal(gp_quote(b, sizeof b, "it's"), "'it''s'");
    assert_string_equal(gp_quote(b, sizeof b, "a\tb\nc"), "'a b c'");
    assert_string_equal(gp_quote(b, sizeof b, "runs/fm_mm"), "'runs/fm_mm'");
    assert_string_equal(gp_quote_text(b, sizeof b, "runs/fm_mm"), "'runs/fm\\_mm'");
    assert_string_equal(gp_quote_text(b, sizeof b, "x^2{a}"), "'x\\^2\\{a\\}'");
    /* truncation keeps a closed literal */
    char s[8];
    assert_string_equal(gp_quote(s, sizeof s, "abcdefghij"), "'abcde'");
    assert_string_equal(gp_quote(s, sizeof s, "abcd'"), "'abcd'");
    assert_string_equal(gp_quote(s, sizeof s, ""), "''");
}

static void test_buf(void **state)
{
    (void)state;
    gp_buf b;
    gp_buf_init(&b);
    for (int i = 0; i < 2000; i++) gp_buf_printf(&b, "%d,", i % 10);
    assert_int_equal(b.failed, 0);
    assert_int_equal(b.len, 4000);
    assert_int_equal(strlen(b.s), 4000);
    assert_memory_equal(b.s, "0,1,2,", 6);
    assert_memory_equal(b.s + 3994, "7,8,9,", 6);
    gp_buf_free(&b);
    assert_null(b.s);
}

static void test_emit_layout(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    gp_buf body;
    gp_buf_init(&body);
    gp_buf_printf(&body, "plot 'data.tsv' using 1:2 with lines ls 3 title 'x'\n");
    gp_figure fig = {"fig-a", "a test figure", "# mixgeo 0.1.0 seed=1 git=abc config=x", 640,
                     480, "array nm[2] = ['a', 'b']"};
    assert_int_equal(gp_write(dir, &fig, &body), MG_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/fig-a.gp", dir);
    char *s = slurp(path, NULL);
    assert_non_null(s);
    const char *head = "# fig-a.gp - a test figure\n# mixgeo 0.1.0 seed=1 git=abc config=x\n";
    assert_memory_equal(s, head, strlen(head));
    const char *style = strstr(s, gp_style_text());
    const char *setup = strstr(s, "array nm[2] = ['a', 'b']\n");
    const char *loop = strstr(s, "do for [gp_fmt in \"png pdf\"] {\n");
    const char *png = strstr(s, "set terminal pngcairo size 640,480");
    const char *pdf = strstr(s, "set terminal pdfcairo size 4in,3in");
    const char *out = strstr(s, "set output 'fig-a.' . gp_fmt\n");
    const char *plot = strstr(s, "plot 'data.tsv'");
    const char *end = strstr(s, "unset multiplot\nset output\n}\n");
    assert_non_null(style);
    assert_non_null(setup);
    assert_non_null(loop);
    assert_non_null(png);
    assert_non_null(pdf);
    assert_non_null(out);
    assert_non_null(plot);
    assert_non_null(end);
    assert_true(style < setup && setup < loop && loop < png && png < pdf && pdf < out &&
                out < plot && plot < end);
    assert_null(strstr(s, dir)); /* nothing absolute: data by relative path */
    free(s);

    /* a failed buffer is reported, nothing is written */
    gp_buf bad;
    gp_buf_init(&bad);
    bad.failed = 1;
    gp_figure f2 = {"fig-b", NULL, NULL, 0, 0, NULL};
    assert_int_equal(gp_write(dir, &f2, &bad), MG_ERR_NOMEM);
    snprintf(path, sizeof path, "%s/fig-b.gp", dir);
    assert_int_not_equal(access(path, F_OK), 0);

    /* render it when gnuplot is around */
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        snprintf(path, sizeof path, "%s/data.tsv", dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("# columns: x y\n1\t2\n2\t3\n3\tnan\n4\t1\n", f);
        fclose(f);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot fig-a.gp 2>/dev/null", dir);
        assert_int_equal(system(cmd), 0);
        snprintf(path, sizeof path, "%s/fig-a.png", dir);
        size_t n = 0;
        char *png_data = slurp(path, &n);
        assert_non_null(png_data);
        assert_true(n > 8);
        assert_memory_equal(png_data, "\x89PNG\r\n\x1a\n", 8);
        free(png_data);
        snprintf(path, sizeof path, "%s/fig-a.pdf", dir);
        char *pdf_data = slurp(path, &n);
        assert_non_null(pdf_data);
        assert_memory_equal(pdf_data, "%PDF-", 5);
        free(pdf_data);
    }
    gp_buf_free(&body);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_style_file_matches), cmocka_unit_test(test_styles),
        cmocka_unit_test(test_quote),              cmocka_unit_test(test_buf),
        cmocka_unit_test(test_emit_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
