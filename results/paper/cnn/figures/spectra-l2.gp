# spectra-l2.gp - Stage 2 (32x14x14, mixed into): s_k / s_1 per class (centred, mean of 10 classes, 300 per class)
# mixgeo 0.1.0 suite=cnn git=6b67fa7 file=experiments/cnn.suite
# Render: gnuplot spectra-l2.gp  (in this directory: the data files are read by relative
# path; `mixgeo plot DIR` does this for every script below DIR).  Writes
# spectra-l2.png (pngcairo) and spectra-l2.pdf (pdfcairo).

# style.gp - the mixgeo house style for gnuplot figures.
# Use: load 'style.gp' (before the plot commands; any terminal).
# The scripts that `mixgeo analyze` and `mixgeo theory` write carry a copy.
set encoding utf8
set termoption enhanced
set border 3 lw 1 lc rgb "#404040"
set tics nomirror out scale 0.6
set xtics textcolor rgb "#202020"
set ytics textcolor rgb "#202020"
set style line 9 lc rgb "#dcdcdc" lw 0.6 dt 1
set grid back ls 9
set key top right nobox noopaque samplen 2.5 spacing 1.15
set style fill solid 0.6 noborder
# methods: 1 baseline (no mixup) grey-black, 2 input mixup blue, 3 Manifold Mixup red-orange
set style line 1 lc rgb "#303030" lw 2 pt 7 ps 0.6
set style line 2 lc rgb "#1f5fbf" lw 2 pt 5 ps 0.6
set style line 3 lc rgb "#e0501b" lw 2 pt 9 ps 0.6
# the same colours dashed (a second curve of one method)
set style line 4 lc rgb "#303030" lw 2 dt 2 pt 6 ps 0.6
set style line 5 lc rgb "#1f5fbf" lw 2 dt 2 pt 4 ps 0.6
set style line 6 lc rgb "#e0501b" lw 2 dt 2 pt 8 ps 0.6
# reference lines (thresholds, diagonals)
set style line 8 lc rgb "#808080" lw 1.2 dt 3
# classes: class c uses ls 11 + c % 10
set style line 11 lc rgb "#4e79a7" lw 1.5 pt 7 ps 0.4
set style line 12 lc rgb "#f28e2b" lw 1.5 pt 7 ps 0.4
set style line 13 lc rgb "#e15759" lw 1.5 pt 7 ps 0.4
set style line 14 lc rgb "#76b7b2" lw 1.5 pt 7 ps 0.4
set style line 15 lc rgb "#59a14f" lw 1.5 pt 7 ps 0.4
set style line 16 lc rgb "#edc948" lw 1.5 pt 7 ps 0.4
set style line 17 lc rgb "#b07aa1" lw 1.5 pt 7 ps 0.4
set style line 18 lc rgb "#ff9da7" lw 1.5 pt 7 ps 0.4
set style line 19 lc rgb "#9c755f" lw 1.5 pt 7 ps 0.4
set style line 20 lc rgb "#bab0ac" lw 1.5 pt 7 ps 0.4
# confidence heat maps: white (low) to dark grey (high), neutral beside the class colours
set palette defined (0 "#ffffff", 0.5 "#bdbdbd", 1 "#4a4a4a")
set datafile separator "\t"
set title 'Stage 2 (32x14x14, mixed into): s\_k / s\_1 per class (centred, mean of 10 classes, 300 per class)'
set xlabel 'k (index of the singular value)'
set ylabel 's\_k / s\_1'
set logscale y
set format y '10^{%T}'
set xrange [1:100]
set key top right title 'shaded: ± 1 std over 3 seeds'

do for [gp_fmt in "png pdf"] {
if (gp_fmt eq "png") {
    set terminal pngcairo size 800,500 enhanced font "Sans,11"
} else {
    set terminal pdfcairo size 5in,3.125in enhanced font "Sans,10"
}
set output 'spectra-l2.' . gp_fmt
plot 'spectra-l2.tsv' index 0 using 1:($2-$5):($2+$5) with filledcurves ls 1 fs transparent solid 0.18 noborder notitle, \
  'spectra-l2.tsv' index 0 using 1:2 with lines ls 1 title 'No mixup', \
  'spectra-l2.tsv' index 1 using 1:($2-$5):($2+$5) with filledcurves ls 2 fs transparent solid 0.18 noborder notitle, \
  'spectra-l2.tsv' index 1 using 1:2 with lines ls 2 title 'Input mixup (alpha 1)', \
  'spectra-l2.tsv' index 2 using 1:($2-$5):($2+$5) with filledcurves ls 3 fs transparent solid 0.18 noborder notitle, \
  'spectra-l2.tsv' index 2 using 1:2 with lines ls 3 title 'Manifold Mixup (alpha 2)', \
  'spectra-l2.tsv' index 3 using 1:($2-$5):($2+$5) with filledcurves ls 6 fs transparent solid 0.18 noborder notitle, \
  'spectra-l2.tsv' index 3 using 1:2 with lines ls 6 title 'Manifold Mixup (alpha 0.2)', \
  'spectra-l2.tsv' index 4 using 1:($2-$5):($2+$5) with filledcurves ls 15 fs transparent solid 0.18 noborder notitle, \
  'spectra-l2.tsv' index 4 using 1:2 with lines ls 15 title 'Manifold Mixup (alpha 0.5)'
unset multiplot
set output
}
