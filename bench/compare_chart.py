"""The chart of bench/compare: its medians drawn as one PNG by gnuplot.

Six panels (requests/s, proxy CPU per request, p50, p99, p99.9, peak RSS), bars grouped
by workload (and worker count), one colour per target, the same in every panel. Used by
bench/compare only (installed beside it as share/ringway/compare/compare_chart.py);
standard library only.
"""

import os
import subprocess

# One colour per target, the same in every panel.
COLOURS = {"direct": "#9e9e9e", "ringway": "#1f5fbf", "ringway-epoll": "#8e5cc4",
           "ringway-before": "#0b2a5c", "ringway-tcp-relay": "#7fb2ff",
           "haproxy": "#d1492e", "nginx": "#2e9e4f"}
NAMES = {"direct": "direct (no proxy)", "ringway": "ringway", "ringway-epoll": "ringway (epoll)",
         "ringway-before": "ringway (before)", "ringway-tcp-relay": "ringway (tcp relay)",
         "haproxy": "HAProxy", "nginx": "NGINX"}
PANELS = (  # median key, title, scale, log y
    ("rps", "requests/s (higher is better)", 1.0, False),
    ("cpu_us_per_req", "proxy CPU time per request, µs (lower is better)", 1.0, False),
    ("p50_us", "p50 latency, ms (log scale)", 1e-3, True),
    ("p99_us", "p99 latency, ms (log scale)", 1e-3, True),
    ("p999_us", "p99.9 latency, ms (log scale)", 1e-3, True),
    ("peak_rss_kib", "proxy peak RSS (largest VmHWM), MiB", 1 / 1024, False),
)


def legend(rows, width, y):
    """gnuplot commands drawing one row of colour swatches and names across the top of
    the image, in screen coordinates (a key would wrap at the width of one panel)."""
    char, swatch, space = 8.5, 28, 36  # pixels at the legend's font size
    sizes = [swatch + 8 + char * len(NAMES[r]) for r in rows]
    x = (width - sum(sizes) - space * (len(rows) - 1)) / 2
    out = []
    for r, size in zip(rows, sizes):
        x0, x1 = x / width, (x + swatch) / width
        out.append(f"set object rect from screen {x0:.4f}, screen {y[0]:.4f} to screen "
                   f"{x1:.4f}, screen {y[1]:.4f} fc rgb '{COLOURS[r]}' fs solid 0.9 "
                   "border rgb '#404040'")
        out.append(f"set label \"{NAMES[r]}\" at screen {(x + swatch + 8) / width:.4f}, "
                   f"screen {(y[0] + y[1]) / 2:.4f} left font ',12'")
        x += size + space
    return out


def write_chart(path, summary, rows, groups, title, gnuplot, tmp):
    """Renders the medians as a PNG at `path` with gnuplot.

    summary: bench/compare's median entries (workers, workload, target, status and the
    PANELS keys); rows: the target ids, in bar order within a group; groups: (workers,
    workload name) pairs, in x order; title: lines above the legend. An entry without a
    value in a panel (direct has no proxy CPU) leaves no bar; one whose status is not
    "ok" (not measured, failed) is marked n/a. The gnuplot script is kept in `tmp` as
    chart.gp. Raises RuntimeError when gnuplot fails."""
    by_key = {(e["workers"], e["workload"], e["target"]): e for e in summary}
    multi = len({w for w, _ in groups}) > 1
    gap = 1.0
    # Up to 4 groups: panels in 3 rows of 2; more: 6 rows of 1, each as wide as needed.
    cols = 2 if len(groups) <= 4 else 1
    slot = 40  # pixels per bar
    width = max(1400, cols * (slot * (len(rows) + 1) * len(groups) + 150))
    height = 180 + (6 // cols) * 440
    top = 1 - 170 / height  # title (3 lines) and legend above the panels
    legend_y = (1 - 125 / height, 1 - 105 / height)
    title_text = "\\n".join(t.replace('"', "'") for t in title)  # gnuplot's newline
    script = [
        f"set terminal pngcairo size {width},{height} font 'DejaVu Sans,11' noenhanced",
        f"set output '{path}'",
        "set style fill solid 0.9 border rgb '#404040'",
        "set boxwidth 0.85",
        "set grid ytics lc rgb '#dddddd'",
        "set xtics nomirror scale 0 font ',10'",
        "set ytics nomirror",
        "set border 3",
        "set key off",
        "set bmargin 4",
        f"set multiplot layout {6 // cols},{cols} title \"{title_text}\" font ',13' "
        f"margins {90 / width:.4f},{1 - 30 / width:.4f},{50 / height:.4f},{top:.4f} "
        f"spacing {100 / width:.4f},{100 / height:.4f}",
    ]
    # x position of every bar, the same in every panel: clusters of len(rows) slots.
    tics, xs = [], {}
    for g, (w, name) in enumerate(groups):
        base = g * (len(rows) + gap)
        for j, r in enumerate(rows):
            xs[(w, name, r)] = base + j
        label = name + (f"\\n{w} worker(s)" if multi else "")
        tics.append(f"\"{label}\" {base + (len(rows) - 1) / 2:g}")
    xmax = len(groups) * (len(rows) + gap) - gap
    script.append(f"set xrange [-0.8:{xmax - 0.2:g}]")
    script.append("set xtics (" + ", ".join(tics) + ")")
    for i, (key, ylabel, scale, log_y) in enumerate(PANELS):
        script.append("unset label")
        script.append(f"set title \"{ylabel}\"")
        script.append("set logscale y; set yrange [*:*]" if log_y
                      else "unset logscale y; set yrange [0:*]")
        plots = []
        for r in rows:
            points = []
            for w, name in groups:
                e = by_key.get((w, name, r))
                x = xs[(w, name, r)]
                if e is None:
                    continue
                if e["status"] == "ok" and e.get(key) is not None:
                    points.append(f"{x:g} {e[key] * scale:.6g}")
                elif e["status"] != "ok":
                    script.append(f"set label \"n/a\" at first {x:g}, graph 0.03 left "
                                  "rotate by 90 font ',10' tc rgb '#505050' front")
            if not points:
                continue
            block = f"$p{i}_{r.replace('-', '_')}"
            script.append(f"{block} << EOD\n" + "\n".join(points) + "\nEOD")
            plots.append(f"{block} using 1:2 with boxes lc rgb '{COLOURS[r]}' "
                         f"title \"{NAMES[r]}\"")
        if i == 0:
            script.extend(legend(rows, width, legend_y))
        script.append("plot " + ", \\\n     ".join(plots) if plots else "plot NaN notitle")
        if i == 0:
            script.append("unset object; unset label")
    script.append("unset multiplot")
    gp = os.path.join(tmp, "chart.gp")
    with open(gp, "w") as f:
        f.write("\n".join(script) + "\n")
    r = subprocess.run([gnuplot, gp], capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or not os.path.exists(path) or os.path.getsize(path) == 0:
        raise RuntimeError(f"gnuplot failed ({gp}):\n{r.stderr.strip()}")
