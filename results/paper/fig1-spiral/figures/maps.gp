# maps.gp - Figure 1 (a, b, d, e), seed 1: input space (standardised), and the bottleneck with uniform box inputs (+)
# mixgeo 0.1.0 suite=fig1-spiral git=6b67fa7 file=experiments/fig1-spiral.suite
# Render: gnuplot maps.gp  (in this directory: the data files are read by relative
# path; `mixgeo plot DIR` does this for every script below DIR).  Writes
# maps.png (pngcairo) and maps.pdf (pdfcairo).

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
    set terminal pngcairo size 1240,1480 enhanced font "Sans,11"
} else {
    set terminal pdfcairo size 7.75in,9.25in enhanced font "Sans,10"
}
set output 'maps.' . gp_fmt
set multiplot layout 3,2 title 'Figure 1 (a, b, d, e), seed 1: input space (standardised), and the bottleneck with uniform box inputs (+)' font ',13'
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
cd '../runs/none_seed1-f0b39ae6/analysis/test-L3'
array cls_name[2] = ['class 0', 'class 1']

set title 'No mixup: input space, class and confidence'
set xrange [-2.30101852:2.25731974]
set yrange [-2.48953409:2.44268007]
set size ratio -1
set xlabel 'x_1'
set ylabel 'x_2'
set key outside right top
unset grid
set style fill solid 1 noborder
plot 'map-input.tsv' using 1:2:5:6:7 with rgbimage notitle, \
     for [c=0:1] 'points-input.tsv' using 1:($3 == c ? $2 : NaN) with points ls (11 + c % 10) pt 7 ps 0.45 title cls_name[c+1] noenhanced
set size noratio
set grid
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
cd '../runs/none_seed1-f0b39ae6/analysis/test-L3'
array cls_name[2] = ['class 0', 'class 1']

set title 'No mixup: bottleneck (layer 3), confidence'
set xrange [-1.19010692:2.06957644]
set yrange [-1.63485643:5.10078808]
set cbrange [0.5:1]
set cblabel 'max softmax'
set xlabel 'h_1'
set ylabel 'h_2'
set key outside right top
unset grid
set style fill solid 1 noborder
plot 'map-hidden.tsv' using 1:2:4 with image notitle, \
     'uniform-hidden.tsv' using 1:2 with points pt 1 ps 0.4 lc rgb '#000000' title 'uniform box inputs', \
     for [c=0:1] 'points-hidden.tsv' using 1:($3 == c ? $2 : NaN) with points ls (11 + c % 10) pt 7 ps 0.45 title cls_name[c+1] noenhanced
set grid
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
cd '../runs/input_seed1-0ab65c0c/analysis/test-L3'
array cls_name[2] = ['class 0', 'class 1']

set title 'Input mixup: input space, class and confidence'
set xrange [-2.30101852:2.25731974]
set yrange [-2.48953409:2.44268007]
set size ratio -1
set xlabel 'x_1'
set ylabel 'x_2'
set key outside right top
unset grid
set style fill solid 1 noborder
plot 'map-input.tsv' using 1:2:5:6:7 with rgbimage notitle, \
     for [c=0:1] 'points-input.tsv' using 1:($3 == c ? $2 : NaN) with points ls (11 + c % 10) pt 7 ps 0.45 title cls_name[c+1] noenhanced
set size noratio
set grid
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
cd '../runs/input_seed1-0ab65c0c/analysis/test-L3'
array cls_name[2] = ['class 0', 'class 1']

set title 'Input mixup: bottleneck (layer 3), confidence'
set xrange [-1.12167334:0.0510974879]
set yrange [-1.2367585:0.052965602]
set cbrange [0.5:1]
set cblabel 'max softmax'
set xlabel 'h_1'
set ylabel 'h_2'
set key outside right top
unset grid
set style fill solid 1 noborder
plot 'map-hidden.tsv' using 1:2:4 with image notitle, \
     'uniform-hidden.tsv' using 1:2 with points pt 1 ps 0.4 lc rgb '#000000' title 'uniform box inputs', \
     for [c=0:1] 'points-hidden.tsv' using 1:($3 == c ? $2 : NaN) with points ls (11 + c % 10) pt 7 ps 0.45 title cls_name[c+1] noenhanced
set grid
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
cd '../runs/manifold_seed1-c6d512cb/analysis/test-L3'
array cls_name[2] = ['class 0', 'class 1']

set title 'Manifold Mixup: input space, class and confidence'
set xrange [-2.30101852:2.25731974]
set yrange [-2.48953409:2.44268007]
set size ratio -1
set xlabel 'x_1'
set ylabel 'x_2'
set key outside right top
unset grid
set style fill solid 1 noborder
plot 'map-input.tsv' using 1:2:5:6:7 with rgbimage notitle, \
     for [c=0:1] 'points-input.tsv' using 1:($3 == c ? $2 : NaN) with points ls (11 + c % 10) pt 7 ps 0.45 title cls_name[c+1] noenhanced
set size noratio
set grid
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
cd '../runs/manifold_seed1-c6d512cb/analysis/test-L3'
array cls_name[2] = ['class 0', 'class 1']

set title 'Manifold Mixup: bottleneck (layer 3), confidence'
set xrange [-1.62044367:0.0670809565]
set yrange [-0.731030903:0.0301844305]
set cbrange [0.5:1]
set cblabel 'max softmax'
set xlabel 'h_1'
set ylabel 'h_2'
set key outside right top
unset grid
set style fill solid 1 noborder
plot 'map-hidden.tsv' using 1:2:4 with image notitle, \
     'uniform-hidden.tsv' using 1:2 with points pt 1 ps 0.4 lc rgb '#000000' title 'uniform box inputs', \
     for [c=0:1] 'points-hidden.tsv' using 1:($3 == c ? $2 : NaN) with points ls (11 + c % 10) pt 7 ps 0.45 title cls_name[c+1] noenhanced
set grid
cd gp_home
unset multiplot
unset multiplot
set output
}
