/*
 * plot.h - drawing with gnuplot (Debian's gnuplot-nox), for `bourse plot`
 * and `bourse sim --plot`: a gnuplot process started with its stdin on a
 * pipe, fed a script whose data travels inline in `$name << EOD` blocks,
 * writing one PNG (pngcairo) or SVG file. docs/dependencies.md says why
 * gnuplot.
 *
 * Ownership: a plot is the caller's from plot_open() until plot_close(),
 * which frees it whatever happens; the stream plot_stream() gives belongs
 * to it. Strings are borrowed for the call.
 */
#ifndef BOURSE_CLI_PLOT_H
#define BOURSE_CLI_PLOT_H

#include <stddef.h>
#include <stdio.h>

typedef enum plot_format {
	PLOT_PNG = 1,
	PLOT_SVG,
} plot_format;

/* "png" or "svg" (any case) from a file name's extension, or a --format
 * value. Returns 0, or -1 if it is neither. */
int plot_format_parse(const char *name, plot_format *out);
int plot_format_from_path(const char *path, plot_format *out);
const char *plot_format_name(plot_format f);

typedef struct plot plot;

/* Start gnuplot (found on $PATH; if it is not there the message names the
 * package to install) drawing a width x height picture into out_path in
 * format fmt; the terminal, font and output are set already. Returns 0,
 * or -1 with a message (nothing started). */
int plot_open(const char *out_path, plot_format fmt, int width, int height,
	      plot **out, char *err, size_t errlen);

/* Where to write the rest of the script. */
FILE *plot_stream(plot *p);

/* Write s as a gnuplot single-quoted string: quotes doubled, control
 * characters as '?'. */
void plot_quote(FILE *f, const char *s);

/* A time x axis over span_s seconds of Unix times (column values in
 * seconds): ticks as hours:minutes:seconds, hours:minutes, or dates, by the
 * span; label "<what> (UTC)". */
void plot_time_axis(FILE *f, double span_s, const char *what);

/* End the script, wait for gnuplot and free p (NULL is fine). Returns 0 if
 * gnuplot succeeded and wrote a non-empty file; else -1 with gnuplot's
 * first error line in err, and the partial file removed. */
int plot_close(plot *p, char *err, size_t errlen);

#endif
