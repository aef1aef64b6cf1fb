"""Charts as PNG (matplotlib, Agg: no screen), shared by the DOCX and PDF renderers; Vietnamese labels
with the DejaVu font matplotlib ships (no system font needed)."""

from __future__ import annotations

import io

from campaign.reports.model import Chart


def chart_png(chart: Chart, *, width_in: float = 6.3, height_in: float = 2.8, dpi: int = 150) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = "DejaVu Sans"
    fig, ax = plt.subplots(figsize=(width_in, height_in), dpi=dpi)
    try:
        n = len(chart.labels)
        names = list(chart.series)
        if chart.kind == "line":
            for name in names:
                ax.plot(chart.labels, chart.series[name], marker="o", label=name)
        else:
            width = 0.8 / max(1, len(names))
            for i, name in enumerate(names):
                pos = [k + (i - (len(names) - 1) / 2) * width for k in range(n)]
                if chart.kind == "barh":
                    ax.barh(pos, chart.series[name], height=width, label=name)
                else:
                    ax.bar(pos, chart.series[name], width=width, label=name)
            if chart.kind == "barh":
                ax.set_yticks(range(n), chart.labels, fontsize=7)
                ax.invert_yaxis()
            else:
                ax.set_xticks(range(n), chart.labels, fontsize=7, rotation=45 if n > 8 else 0,
                              ha="right" if n > 8 else "center")
        ax.set_title(chart.title, fontsize=9)
        if chart.y_label:
            (ax.set_xlabel if chart.kind == "barh" else ax.set_ylabel)(chart.y_label, fontsize=8)
        ax.tick_params(labelsize=7)
        if len(names) > 1:
            ax.legend(fontsize=7)
        ax.grid(axis="x" if chart.kind == "barh" else "y", alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)
