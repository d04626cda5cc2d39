"""Histogram bucket layouts, fitted to where each measure's values lie.

Prometheus's `histogram_quantile` interpolates linearly inside the bucket the quantile falls in, so a panel's
quantile can be off by up to that bucket's width. Coarse 1-2.5-5 buckets put 0.4 s values in (0.25, 0.5] and made
p95 read 0.49 whatever happened. Here the range where the values lie on a test network gets 16 buckets per decade
(neighbours 1.155x apart, rounded to three significant digits): on the real data every quantile a panel draws
from a histogram is then within 10% of the exact quantile of the same values (tests/test_quantile_precision.py);
ten per decade left the masterchain's slot end-to-end p95 12.9% off. The rest of the scale, which only an
outlier or a loaded devnet reaches, gets a few coarse buckets so that it still shows. Values that cluster around
one figure get a finer grid there:

* block and phase latencies cluster at the slot time (0.4 s): a basechain collation waits about a slot for
  external messages, and a slot's end-to-end time is about a slot when it waits for its collation;
* the interval between finalized slots *is* the slot time, give or take a few milliseconds.

Per-node panels do not use these histograms: they show the exact p50/p95/p99 of the window gauges
(aggregation/quantiles.py). The bounds are the layouts' whole contract: changing them splits a histogram's
history in Prometheus (a bucket that disappears stops; a new one starts at 0), so change them deliberately.
"""

PER_DECADE = 16


def decades(first: int, last: int) -> tuple[float, ...]:
    """PER_DECADE log-spaced bounds a decade from 10**first up to 10**last, both included (3 significant digits)."""
    steps = range((last - first) * PER_DECADE + 1)
    return tuple(float(f"{10.0 ** (first + k / PER_DECADE):.3g}") for k in steps)


def linear(start: float, stop: float, step: float) -> tuple[float, ...]:
    """start, start + step, ... up to stop included (rounded to the step's precision)."""
    n = round((stop - start) / step)
    return tuple(round(start + k * step, 9) for k in range(n + 1))


def layout(
    scale: tuple[float, ...], grid: tuple[float, ...] = (), *, above: tuple[float, ...] = ()
) -> tuple[float, ...]:
    """`scale`, with `grid` in place of its bounds within the grid's range, and the coarse bounds `above`."""
    kept = [b for b in scale if not (grid and grid[0] <= b <= grid[-1])]
    return tuple(sorted({*kept, *grid, *above}))


# 0.4 s +- 10%, in 10 ms steps: the slot time and what waits for it.
SLOT_TIME_GRID = linear(0.36, 0.44, 0.01)

# Block and consensus-phase latencies: 0.1 ms (an empty validation) to 1 s, then seconds.
LATENCY_BUCKETS = layout(decades(-4, 0), SLOT_TIME_GRID, above=(2.5, 5.0, 10.0))

# Between consecutive finalized slots: the slot time (0.4 s on the test network) in 10 ms steps from 0.3 to 0.5 s,
# the log grid elsewhere from 0.1 s.
INTERVAL_BUCKETS = layout(decades(-1, 0), linear(0.3, 0.5, 0.01), above=(2.5, 5.0, 10.0))

# Text-log timing lines (collation took, validation took): the same latencies.
TIMING_BUCKETS = LATENCY_BUCKETS

# Compressing and sending a broadcast: tens of microseconds to tens of milliseconds; a quarter second is an outlier.
BROADCAST_SECONDS_BUCKETS = layout(decades(-5, -1), above=(0.25, 0.5, 1.0))

# A block's broadcast over the network (LOG-05): first compression start to last decompression end, over every node:
# milliseconds on a healthy network, seconds when a node fetches the block late.
BROADCAST_BLOCK_BUCKETS = layout(decades(-3, 1), above=(30.0, 60.0))
