"""Issue 32's plot fixes: gene_profile's legend outside the bars, entries only for what is drawn,
true values at 0 visible; calibration's axis zoomed to the coverages."""

import geneimpute as ge

from .test_pl import KEY, _close_figures, imputed  # noqa: F401 (fixtures)


def _legend(ax):
    ax.figure.canvas.draw()
    legend = ax.get_legend()
    return legend, [t.get_text() for t in legend.get_texts()]


def test_gene_profile_legend_outside_and_only_drawn_entries(imputed):  # noqa: F811
    tpm, _, truth, held = imputed
    ax = ge.pl.gene_profile(tpm, tpm.var_names[held][0], truth=truth, key=KEY, show=False)
    legend, labels = _legend(ax)
    assert labels == ["imputed", "true (held out)", "90% interval"]  # nothing observed
    box, frame = legend.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= frame.x1 and not box.overlaps(frame)
    # true values of 0 sit above the x axis and are drawn over bars and error bars
    assert ax.get_ylim()[0] < 0
    (true_line,) = ax.lines[:1]
    assert true_line.get_zorder() > max(p.get_zorder() for p in ax.patches)
    assert true_line.get_zorder() > max(c.get_zorder() for c in ax.collections)
    # a measured gene: nothing imputed, no "imputed" entry
    ax = ge.pl.gene_profile(tpm, tpm.var_names[~held][0], key=KEY, show=False)
    assert _legend(ax)[1] == ["observed"]


def test_calibration_zooms_to_the_coverages(imputed):  # noqa: F811
    tpm, _, truth, _ = imputed
    ax = ge.pl.calibration(tpm, truth, key=KEY, show=False)
    left, right = ax.get_xlim()
    lowest = min(p.get_width() for p in ax.patches)
    assert 0.5 < left <= min(lowest, 0.9) - 0.05 + 1e-9 and right == 1
