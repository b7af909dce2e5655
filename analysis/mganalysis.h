/*
 * mganalysis.h - the public header of the analysis library (libmganalysis).
 *
 * Include this one header; it gathers the library's parts, each documented in
 * its own header (ownership and shapes stated per function there):
 *   spectra.h  streaming per-class singular-value spectra and their summaries
 *   theory.h   Theorem 1 / Corollary 1 on learned states; the idealised J(P_D)
 *   metrics.h  calibration, margins, confidence, AUROC, neural collapse
 *   probe.h    analyses that drive a model: hidden states, DeepFool, segment
 *              crossings, interpolation paths, off-manifold samples, FGSM, maps
 *   npy.h      .npy reading (streamed, validated) and writing
 *   analyze.h  every analysis in one call: the registry, the driver
 *   compare.h  CKA between representations, TwoNN intrinsic dimension,
 *              adaptive ECE
 *   report.h   TSV / JSON / gnuplot writers (gp.h)
 * Everything is in double precision through LAPACKE unless a name says f32.
 * Like libmixgeo, it never calls exit() and prints nothing.
 */
#ifndef MGANALYSIS_H
#define MGANALYSIS_H

#include "mixgeo.h"
#include "spectra.h"
#include "theory.h"
#include "metrics.h"
#include "probe.h"
#include "npy.h"
#include "analyze.h"
#include "compare.h"
#include "report.h"

#endif
