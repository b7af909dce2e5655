# per-d.gp - Theorem 1 and Corollary 1 per class count d (squared loss)
# mixgeo 0.1.0 suite=theory git=6b67fa7 file=experiments/theory.suite
# Render: gnuplot per-d.gp  (in this directory: the data files are read by relative
# path; `mixgeo plot DIR` does this for every script below DIR).  Writes
# per-d.png (pngcairo) and per-d.pdf (pdfcairo).

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
gp_home = GPVAL_PWD

do for [gp_fmt in "png pdf"] {
if (gp_fmt eq "png") {
    set terminal pngcairo size 1120,1180 enhanced font "Sans,11"
} else {
    set terminal pdfcairo size 7in,7.375in enhanced font "Sans,10"
}
set output 'per-d.' . gp_fmt
set multiplot layout 3,2 title 'Theorem 1 and Corollary 1 per class count d (squared loss)' font ',13'
reset
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
cd '../runs/sq_classes3-0da9dd5d'

set title 'classes=3: J at the optimum vs dim(H)'
set xlabel 'dim(H)'
set ylabel 'J'
set logscale y
set format y '10^{%T}'
set xrange [0.5:5.5]
set xtics 1
set arrow 1 from 2, graph 0 to 2, graph 1 nohead ls 8
set label 1 'dim = d - 1' at 2, graph 0.95 offset 0.5,0 left textcolor rgb '#606060'
set key bottom left
plot 'theory.tsv' using 1:($5 > 0 ? $5 : NaN) with linespoints ls 3 title 'J at the optimum', \
     '' using 1:6 with lines ls 4 title 'J of the best constant readout'
unset arrow 1
unset label 1
unset logscale y
set format y '%g'
cd gp_home
reset
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
cd '../runs/sq_classes3-0da9dd5d'

set title 'classes=3: per-class rank vs dim(H)'
set xlabel 'dim(H)'
set ylabel 'centred rank per class'
set xrange [0.5:5.5]
set yrange [-0.3:*]
set xtics 1
set ytics 1
set arrow 1 from 2, graph 0 to 2, graph 1 nohead ls 8
set key top left
plot 'theory.tsv' using 1:11 with lines lw 8 lc rgb '#d0d0d0' title 'max(0, dim - d + 1)', \
     '' using 1:9 with points ls 3 pt 7 ps 1.2 title 'max over classes', \
     '' using 1:10 with linespoints ls 6 title 'mean over classes'
unset arrow 1
set ytics autofreq
cd gp_home
reset
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
cd '../runs/sq_classes4-d975dd11'

set title 'classes=4: J at the optimum vs dim(H)'
set xlabel 'dim(H)'
set ylabel 'J'
set logscale y
set format y '10^{%T}'
set xrange [0.5:6.5]
set xtics 1
set arrow 1 from 3, graph 0 to 3, graph 1 nohead ls 8
set label 1 'dim = d - 1' at 3, graph 0.95 offset 0.5,0 left textcolor rgb '#606060'
set key bottom left
plot 'theory.tsv' using 1:($5 > 0 ? $5 : NaN) with linespoints ls 3 title 'J at the optimum', \
     '' using 1:6 with lines ls 4 title 'J of the best constant readout'
unset arrow 1
unset label 1
unset logscale y
set format y '%g'
cd gp_home
reset
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
cd '../runs/sq_classes4-d975dd11'

set title 'classes=4: per-class rank vs dim(H)'
set xlabel 'dim(H)'
set ylabel 'centred rank per class'
set xrange [0.5:6.5]
set yrange [-0.3:*]
set xtics 1
set ytics 1
set arrow 1 from 3, graph 0 to 3, graph 1 nohead ls 8
set key top left
plot 'theory.tsv' using 1:11 with lines lw 8 lc rgb '#d0d0d0' title 'max(0, dim - d + 1)', \
     '' using 1:9 with points ls 3 pt 7 ps 1.2 title 'max over classes', \
     '' using 1:10 with linespoints ls 6 title 'mean over classes'
unset arrow 1
set ytics autofreq
cd gp_home
reset
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
cd '../runs/sq_classes10-2516353c'

set title 'classes=10: J at the optimum vs dim(H)'
set xlabel 'dim(H)'
set ylabel 'J'
set logscale y
set format y '10^{%T}'
set xrange [0.5:12.5]
set xtics 1
set arrow 1 from 9, graph 0 to 9, graph 1 nohead ls 8
set label 1 'dim = d - 1' at 9, graph 0.95 offset 0.5,0 left textcolor rgb '#606060'
set key bottom left
plot 'theory.tsv' using 1:($5 > 0 ? $5 : NaN) with linespoints ls 3 title 'J at the optimum', \
     '' using 1:6 with lines ls 4 title 'J of the best constant readout'
unset arrow 1
unset label 1
unset logscale y
set format y '%g'
cd gp_home
reset
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
cd '../runs/sq_classes10-2516353c'

set title 'classes=10: per-class rank vs dim(H)'
set xlabel 'dim(H)'
set ylabel 'centred rank per class'
set xrange [0.5:12.5]
set yrange [-0.3:*]
set xtics 1
set ytics 1
set arrow 1 from 9, graph 0 to 9, graph 1 nohead ls 8
set key top left
plot 'theory.tsv' using 1:11 with lines lw 8 lc rgb '#d0d0d0' title 'max(0, dim - d + 1)', \
     '' using 1:9 with points ls 3 pt 7 ps 1.2 title 'max over classes', \
     '' using 1:10 with linespoints ls 6 title 'mean over classes'
unset arrow 1
set ytics autofreq
cd gp_home
unset multiplot
unset multiplot
set output
}
