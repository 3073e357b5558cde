/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Search-space geometry for the Bayesian optimizer (internal to bo.c):
 * validation, scaling to the unit box the GP works in, snapping to the
 * levels of stepped and listed dimensions, grid enumeration and the
 * Latin-hypercube initial design.
 *
 * Listed values are scaled by value, not by index: 1.2 and 2.4 GHz are
 * twice as far apart as 1.2 and 1.8 GHz, which is what a smooth GP over
 * frequency should see. All functions are O(dims) except space_lhs.
 */
#ifndef KOPT_OPTIMIZER_SPACE_H
#define KOPT_OPTIMIZER_SPACE_H

#include <stddef.h>

#include "bo.h"
#include "gp.h"

/* 0 or -EINVAL with a message naming the dimension. */
int space_check(const struct bo_space *sp, char *err, size_t errlen);
/* Deep copy with listed values sorted; undo with space_release(). */
int space_copy(struct bo_space *dst, const struct bo_space *src);
void space_release(struct bo_space *sp);

/* Levels of a stepped or listed dim; 0 for a continuous one. */
size_t space_levels(const struct bo_dim *d);
/* Points of the full grid; INFINITY if any dim is continuous. */
double space_grid_size(const struct bo_space *sp);

/* -ERANGE (with a message) if x is outside the box. */
int space_in_bounds(const struct bo_space *sp, const double *x, char *err,
		    size_t errlen);
/* Caller's units to the unit box, snapped to the levels. */
void space_to_unit(const struct bo_space *sp, const double *x, double *u);
/* Unit box to the caller's units, snapped to the levels. */
void space_from_unit(const struct bo_space *sp, const double *u, double *x);
/* Moves discrete coordinates of u to their nearest level. */
void space_snap(const struct bo_space *sp, double *u);

/* Grid point idx (dim 0 varies fastest) in unit coordinates. */
void space_grid_point(const struct bo_space *sp, size_t idx, double *u);
/* Index of the grid point nearest to u (every dim discrete). */
size_t space_grid_index(const struct bo_space *sp, const double *u);

/* n Latin-hypercube points in the unit box (n x ndims), snapped. */
int space_lhs(const struct bo_space *sp, struct gp_rng *r, size_t n, double *u);

#endif /* KOPT_OPTIMIZER_SPACE_H */
