#!/usr/bin/python3
"""bench_torch.py - mixgeo beside a plain PyTorch CPU training loop of the same
models, in one run (optional: needs python3-torch; without it this script
prints "skipped: torch not installed" and exits 0).

Workloads (Fashion-MNIST, batch 128, Manifold Mixup S = {0,1,2}, alpha 2,
SGD lr 0.1 Nesterov momentum 0.9, weight decay 1e-4, BCE of softmax(logits)
against the mixed targets (the authors' loss, bench_train's), N threads):

  mlp  784-512-512-10 ReLU.  PyTorch: one epoch of the training loop only
       (60,000 examples, 469 steps; data already in tensors), median of
       --repeats.  mixgeo: `mixgeo train` for one epoch as a whole process
       (wall time: loading the IDX files, training, the test pass, writing
       the run directory; --clean-eval 0), median of --repeats.
       Target: mixgeo >= 4.5x PyTorch.
  cnn  PreActResNet 16-32-64x2 (preact:16-32-64x2: 3x3 stem, two pre-act
       blocks per stage, stride 2 at the start of stages 2-3, 1x1 projection
       shortcuts, head BN-ReLU, global average pooling, dense) with crop4+flip
       augmentation of 28x28 inputs.  PyTorch: median step time of
       --cnn-steps steps after --cnn-warmup warm-up steps.  mixgeo: `mixgeo
       train --n-train (warmup + steps) * 128` for one epoch, images/s of its
       training steps (summary.json train_seconds, warm-up steps included),
       median of --repeats; its data is `idx:DIR` with the training files and
       only the first 256 test examples (the test pass is not timed and would
       take longer than the steps).  Target: mixgeo >= 1.5x PyTorch.

The mixgeo binary: --mixgeo, else $MIXGEO, else build/mixgeo.  The data:
--data DIR, else the files of the Debian package dataset-fashion-mnist.
Both sides run one after the other (interleaved repeat by repeat), never at
the same time.  Run by `make bench` (MIXGEO set there); never by `make check`.
"""
import argparse
import gzip
import json
import math
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("skipped: torch not installed")
    sys.exit(0)

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
BATCH = 128
TARGETS = {"mlp": 4.5, "cnn": 1.5}


# ------------------------------------------------------------------ data

def find_data_dir():
    """The directory of dataset-fashion-mnist's train-images-idx3-ubyte.gz."""
    try:
        out = subprocess.run(["dpkg", "-L", "dataset-fashion-mnist"], capture_output=True,
                             text=True, check=False).stdout
        for line in out.splitlines():
            if line.endswith("/train-images-idx3-ubyte.gz"):
                return os.path.dirname(line)
    except OSError:
        pass
    return DEFAULT_DATA


def read_idx(path):
    """A gzip (or raw) IDX file as a uint8 tensor of its dimensions."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    body = bytearray(raw[4 + 4 * ndim:])
    return torch.frombuffer(body, dtype=torch.uint8).reshape(dims).clone()


def load_split(d, split):
    """Images as float32 N x 1 x 28 x 28 in [0, 1] (v / 255, as mixgeo), labels int64."""
    x = read_idx(os.path.join(d, "%s-images-idx3-ubyte.gz" % split))
    y = read_idx(os.path.join(d, "%s-labels-idx1-ubyte.gz" % split))
    return x.float().div_(255.0).unsqueeze(1).contiguous(), y.long()


# ------------------------------------------------------------------ models

def he_(w, gain2):
    """mixgeo's He init: normal, std = sqrt(gain2 / fan_in)."""
    fan_in = w[0].numel()
    with torch.no_grad():
        w.normal_(0.0, math.sqrt(gain2 / fan_in))


class MLP(nn.Module):
    """784-512-512-10: blocks k = 1, 2 dense + ReLU, block 3 dense (logits)."""

    def __init__(self, widths=(784, 512, 512, 10)):
        super().__init__()
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        for i, fc in enumerate(self.fcs):
            he_(fc.weight, 1.0 if i == len(self.fcs) - 1 else 2.0)
            nn.init.zeros_(fc.bias)

    def forward(self, x, k=-1, lam=1.0, perm=None):
        h = x.flatten(1)
        for i, fc in enumerate(self.fcs):
            if i == k:
                h = lam * h + (1.0 - lam) * h[perm]
            h = fc(h)
            if i < len(self.fcs) - 1:
                h = F.relu(h)
        return h


class PreActBlock(nn.Module):
    """a = relu(bn1(x)); y = conv2(relu(bn2(conv1(a)))) + (proj(a) or x)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=1e-5, momentum=0.1)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Conv2d(cin, cout, 1, stride, 0, bias=False)
        he_(self.conv1.weight, 2.0)
        he_(self.conv2.weight, 2.0)
        if self.proj is not None:
            he_(self.proj.weight, 1.0)

    def forward(self, x):
        a = F.relu(self.bn1(x))
        y = self.conv2(F.relu(self.bn2(self.conv1(a))))
        return y + (self.proj(a) if self.proj is not None else x)


class PreActResNet(nn.Module):
    """preact:16-32-64x2 on 1 x 28 x 28: block 1 = stem + stage 1, blocks 2, 3 =
    stages 2, 3, block 4 = BN-ReLU, global average pooling, dense; the state
    after block k (k = 0: the input) is where Manifold Mixup mixes."""

    def __init__(self, widths=(16, 32, 64), per=2, in_c=1, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(in_c, widths[0], 3, 1, 1, bias=False)
        he_(self.stem.weight, 2.0)
        stages, c = [], widths[0]
        for s, w in enumerate(widths):
            blocks = []
            for j in range(per):
                blocks.append(PreActBlock(c, w, 2 if (s > 0 and j == 0) else 1))
                c = w
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.bn = nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)
        self.fc = nn.Linear(c, classes)
        he_(self.fc.weight, 1.0)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x, k=-1, lam=1.0, perm=None):
        h = x
        for i, stage in enumerate(self.stages):
            if i == k:
                h = lam * h + (1.0 - lam) * h[perm]
            if i == 0:
                h = self.stem(h)
            h = stage(h)
        if k == len(self.stages):
            h = lam * h + (1.0 - lam) * h[perm]
        h = F.relu(self.bn(h))
        return self.fc(h.mean((2, 3)))


# ------------------------------------------------------------------ training step

def augment(x, pad, flip, gen):
    """mixgeo's mg_augment on a batch: out[i][j] = x[i + dy][(flip ? W-1-j : j) + dx],
    zero outside; dy, dx uniform in -pad..pad, flip with p = 1/2, per example."""
    n, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(-pad, pad + 1, (n,), generator=gen)
    dx = torch.randint(-pad, pad + 1, (n,), generator=gen)
    fl = (torch.randint(0, 2, (n,), generator=gen).bool() if flip
          else torch.zeros(n, dtype=torch.bool))
    ar_h, ar_w = torch.arange(h), torch.arange(w)
    rows = ar_h[None, :] + dy[:, None] + pad                        # n x h
    cols = torch.where(fl[:, None], (w - 1) - ar_w[None, :], ar_w[None, :]) + dx[:, None] + pad
    idx_n = torch.arange(n)[:, None, None]
    out = xp[idx_n, :, rows[:, :, None], cols[:, None, :]]           # n x h x w x c
    return out.permute(0, 3, 1, 2).contiguous()


class Step:
    """One Manifold Mixup training step, as mixgeo's train_step: k uniform in S,
    lambda ~ Beta(alpha, alpha), a permutation of the batch, mixed state and
    mixed one-hot targets, loss, backward, SGD (Nesterov, L2 weight decay)."""

    def __init__(self, model, loss, layers=(0, 1, 2), alpha=2.0, pad=0, flip=False, seed=1,
                 classes=10):
        self.model, self.loss, self.layers, self.alpha = model, loss, layers, alpha
        self.pad, self.flip, self.classes = pad, flip, classes
        self.rnd = random.Random(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4,
                                   nesterov=True)

    def __call__(self, x, y):
        n = x.shape[0]
        if self.pad or self.flip:
            x = augment(x, self.pad, self.flip, self.gen)
        k = self.layers[self.rnd.randrange(len(self.layers))]
        lam = self.rnd.betavariate(self.alpha, self.alpha)
        perm = torch.randperm(n, generator=self.gen)
        t1 = F.one_hot(y, self.classes).float()
        t = lam * t1 + (1.0 - lam) * t1[perm]
        z = self.model(x, k, lam, perm)
        if self.loss == "bce":
            loss = F.binary_cross_entropy(F.softmax(z, 1), t)
        else:
            loss = torch.sum(-t * F.log_softmax(z, 1), 1).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.item()


def torch_mlp_epoch(step, x, y):
    """Seconds of one training epoch (shuffle, gather, steps; last batch short)."""
    n = x.shape[0]
    xf = x.reshape(n, -1)
    t0 = time.perf_counter()
    order = torch.randperm(n, generator=step.gen)
    for i in range(0, n, BATCH):
        idx = order[i:i + BATCH]
        step(xf[idx], y[idx])
    return time.perf_counter() - t0


def torch_cnn_steps(step, x, y, warmup, steps):
    """Per-step seconds of warmup + steps consecutive batches of a shuffle."""
    order = torch.randperm(x.shape[0], generator=step.gen)
    secs = []
    for s in range(warmup + steps):
        idx = order[s * BATCH:(s + 1) * BATCH]
        t0 = time.perf_counter()
        step(x[idx], y[idx])
        secs.append(time.perf_counter() - t0)
    return secs[warmup:]


# ------------------------------------------------------------------ mixgeo

def small_test_dir(data, tmp, n_test=256):
    """A directory for `--data idx:DIR`: the training files (links) and the first
    n_test test examples, so that a short PreActResNet run does not spend most of
    its time in the test pass (which its train_seconds excludes anyway)."""
    d = os.path.join(tmp, "idx-small-test")
    os.makedirs(d, exist_ok=True)
    for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        os.symlink(os.path.join(os.path.abspath(data), f), os.path.join(d, f))
    for f, dims in (("t10k-images-idx3-ubyte.gz", (n_test, 28, 28)),
                    ("t10k-labels-idx1-ubyte.gz", (n_test,))):
        t = read_idx(os.path.join(data, f))[:n_test].contiguous()
        with gzip.open(os.path.join(d, f), "wb") as g:
            g.write(struct.pack(">HBB", 0, 0x08, len(dims)))
            g.write(struct.pack(">" + "I" * len(dims), *dims))
            g.write(bytes(t.flatten().tolist()))
    return d


def mixgeo_train(binary, args, tmp, extra, data=None):
    """Run `mixgeo train` once; (wall seconds, summary.json)."""
    out = os.path.join(tmp, "run")
    src = ["--data", "fashion-mnist", "--data-dir", args.data] if data is None else \
          ["--data", "idx:" + data, "--classes", "10"]
    cmd = [binary, "train", "-q", "--force", "--out", out] + src + [
           "--mix", "manifold", "--mix-layers", "0,1,2",
           "--alpha", "2", "--loss", args.loss, "--optim", "sgd", "--lr", "0.1",
           "--momentum", "0.9", "--nesterov", "--wd", "1e-4", "--sched", "constant",
           "--epochs", "1", "--batch", str(BATCH), "--threads", str(args.threads),
           "--seed", "1", "--clean-eval", "0"] + extra
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit("bench_torch: %s failed (status %d):\n%s" % (" ".join(cmd), r.returncode,
                                                               r.stderr.strip()))
    with open(os.path.join(out, "summary.json")) as f:
        return wall, json.load(f)


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="threads of both sides [2]")
    ap.add_argument("--repeats", type=int, default=3,
                    help="MLP epochs / mixgeo runs per side, median reported [3]")
    ap.add_argument("--cnn-steps", type=int, default=30, help="timed PreActResNet steps [30]")
    ap.add_argument("--cnn-warmup", type=int, default=3, help="untimed warm-up steps [3]")
    ap.add_argument("--net", choices=("mlp", "cnn", "both"), default="both")
    ap.add_argument("--loss", choices=("bce", "ce"), default="bce",
                    help="bce: the authors' BCE of softmax (bench_train's) [bce]")
    ap.add_argument("--data", default=None, help="directory of the Fashion-MNIST IDX files")
    ap.add_argument("--mixgeo", default=os.environ.get("MIXGEO", "build/mixgeo"),
                    help="the mixgeo program [$MIXGEO or build/mixgeo]")
    ap.add_argument("--torch-only", action="store_true", help="do not run mixgeo")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = ap.parse_args()
    if args.threads < 1 or args.repeats < 1 or args.cnn_steps < 1 or args.cnn_warmup < 0:
        ap.error("--threads, --repeats, --cnn-steps >= 1, --cnn-warmup >= 0")
    args.data = args.data or find_data_dir()
    if not os.path.exists(os.path.join(args.data, "train-images-idx3-ubyte.gz")):
        print("skipped: Fashion-MNIST not found in %s (dataset-fashion-mnist)" % args.data)
        return 0
    run_mixgeo = not args.torch_only
    if run_mixgeo and not os.access(args.mixgeo, os.X_OK):
        sys.exit("bench_torch: no mixgeo program at %s (set MIXGEO, --mixgeo or --torch-only)"
                 % args.mixgeo)
    args.mixgeo = os.path.abspath(args.mixgeo)

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x, y = load_split(args.data, "train")  # once, not timed
    n = x.shape[0]
    rows = []
    info = {"torch": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available(),
            "threads": args.threads, "batch": BATCH, "loss": args.loss,
            "mixgeo": args.mixgeo if run_mixgeo else None}

    with tempfile.TemporaryDirectory() as tmp:
        if args.net in ("mlp", "both"):
            step = Step(MLP(), args.loss)
            torch_mlp_epoch(step, x[:20 * BATCH], y[:20 * BATCH])  # warm-up, not counted
            t_torch, t_wall, t_steps = [], [], []
            for _ in range(args.repeats):  # interleaved: both sides see the same load
                t_torch.append(torch_mlp_epoch(step, x, y))
                if run_mixgeo:
                    wall, summ = mixgeo_train(args.mixgeo, args, tmp, ["--arch", "784-512-512-10"])
                    t_wall.append(wall)
                    t_steps.append(summ["train_seconds"])
            r_torch = n / statistics.median(t_torch)
            row = {"workload": "MLP 784-512-512-10, one epoch", "unit": "samples/s",
                   "torch": r_torch, "torch_seconds": t_torch,
                   "torch_measure": "training loop only",
                   "mixgeo_measure": "whole `mixgeo train` process (load, train, test pass)",
                   "target": TARGETS["mlp"]}
            if run_mixgeo:
                row.update(mixgeo=n / statistics.median(t_wall), mixgeo_seconds=t_wall)
            rows.append(row)
            if run_mixgeo:
                rows.append({"workload": "  (info) MLP, mixgeo training steps only",
                             "unit": "samples/s", "torch": r_torch,
                             "mixgeo": n / statistics.median(t_steps), "mixgeo_seconds": t_steps,
                             "torch_measure": "training loop only",
                             "mixgeo_measure": "summary.json train_seconds",
                             "target": None})
        if args.net in ("cnn", "both"):
            m_train = (args.cnn_warmup + args.cnn_steps) * BATCH
            if m_train > n:
                sys.exit("bench_torch: (--cnn-warmup + --cnn-steps) * %d > %d" % (BATCH, n))
            step = Step(PreActResNet(), args.loss, pad=4, flip=True)
            small = small_test_dir(args.data, tmp) if run_mixgeo else None
            step_secs, c_mix = [], []
            for _ in range(args.repeats):
                step_secs += torch_cnn_steps(step, x, y, args.cnn_warmup, args.cnn_steps)
                if run_mixgeo:
                    _, summ = mixgeo_train(args.mixgeo, args, tmp,
                                           ["--arch", "preact:16-32-64x2", "--augment",
                                            "crop4,flip", "--n-train", str(m_train)], small)
                    c_mix.append(summ["train_seconds"])
            row = {"workload": "PreActResNet 16-32-64x2, crop4+flip", "unit": "images/s",
                   "torch": BATCH / statistics.median(step_secs),
                   "torch_step_seconds_median": statistics.median(step_secs),
                   "torch_measure": "median step after %d warm-up steps (x %d runs)"
                                    % (args.cnn_warmup, args.repeats),
                   "mixgeo_measure": "%d training steps incl. warm-up, median of %d runs"
                                     % (m_train // BATCH, args.repeats),
                   "target": TARGETS["cnn"]}
            if run_mixgeo:
                row.update(mixgeo=m_train / statistics.median(c_mix), mixgeo_seconds=c_mix)
            rows.append(row)

    for r in rows:
        if "mixgeo" in r:
            r["ratio"] = r["mixgeo"] / r["torch"]
            r["verdict"] = ("-" if r["target"] is None
                            else "met" if r["ratio"] >= r["target"] else "MISSED")
    if args.json:
        print(json.dumps({"info": info, "rows": rows}, indent=1))
        return 0
    print("# bench_torch: PyTorch %s (mkldnn %s) beside mixgeo, %d threads, batch %d, "
          "Fashion-MNIST,"
          % (info["torch"], "on" if info["mkldnn"] else "off", args.threads, BATCH))
    print("# Manifold Mixup S={0,1,2} alpha 2, SGD Nesterov, %s loss; medians of %d"
          % (args.loss.upper(), args.repeats))
    print("# MLP: PyTorch = its training loop only, mixgeo = the whole `mixgeo train` process")
    print("# CNN: PyTorch = median step time, mixgeo = training steps of a --n-train run")
    hdr = "%-42s %12s %12s %7s %7s  %s" % ("workload", "PyTorch", "mixgeo", "ratio", "target",
                                          "verdict")
    print(hdr)
    for r in rows:
        mg = "%12.0f" % r["mixgeo"] if "mixgeo" in r else "%12s" % "-"
        ratio = "%6.2fx" % r["ratio"] if "ratio" in r else "%7s" % "-"
        target = ">=%.1fx" % r["target"] if r["target"] else "-"
        print("%-42s %12.0f %s %s %7s  %s   (%s)" % (r["workload"], r["torch"], mg, ratio, target,
                                                   r.get("verdict", "-"), r["unit"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
