# idx.sh - idx FILE KIND N SEED: a small synthetic IDX file, sourced by the
# tests that need image data (e2e_analyze_cnn.sh, regress/make.sh; not a test
# itself).  KIND images: N 16 x 16 images of class i % 3 (horizontal bar,
# vertical bar, square; noisy, from awk's srand(SEED)); KIND labels: N labels
# i % 3.  Every byte is printed by printf from an octal escape (one line per
# image keeps each printf argument short).  POSIX sh + awk.
idx() {
    awk -v kind="$2" -v n="$3" -v seed="$4" '
        function oct(b) { return sprintf("\\%03o", b) }
        function be32(x,   s, k) {
            s = ""
            for (k = 3; k >= 0; k--) s = s oct(int(x / 256 ^ k) % 256)
            return s
        }
        BEGIN {
            srand(seed)
            if (kind == "labels") {
                print oct(0) oct(0) oct(8) oct(1) be32(n)
                s = ""
                for (i = 0; i < n; i++) s = s oct(i % 3)
                print s
                exit
            }
            print oct(0) oct(0) oct(8) oct(3) be32(n) be32(16) be32(16)
            for (i = 0; i < n; i++) {
                c = i % 3
                a = 3 + int(rand() * 8) # position of the bar / square
                s = ""
                for (y = 0; y < 16; y++)
                    for (x = 0; x < 16; x++) {
                        on = (c == 0 && (y == a || y == a + 1)) ||
                             (c == 1 && (x == a || x == a + 1)) ||
                             (c == 2 && x >= a - 2 && x <= a + 1 && y >= a - 2 && y <= a + 1 &&
                              (x == a - 2 || x == a + 1 || y == a - 2 || y == a + 1))
                        v = (on ? 200 : 20) + int(rand() * 50)
                        s = s oct(v)
                    }
                print s
            }
        }' | while IFS= read -r line; do printf "$line"; done >"$1"
}
