"""The live training curves: the epoch scores and every batch's loss, drawn from a job's progress events."""

from __future__ import annotations

from typing import Any

from .results import history_figure

__all__ = ["live_figure"]


def live_figure(snapshot: Any):
    """Loss and accuracy per epoch (as :func:`audioclf.ui.history_figure`) plus the training loss after each batch.

    Parameters
    ----------
    snapshot : audioclf.service.jobs.JobSnapshot
        Its ``history`` (one row per ``'epoch'`` event) and ``batches`` (``(epoch position, loss)`` per ``'batch'``
        event); batch losses are placed on the epoch axis (epoch 2, batch 3 of 4 is at 1.75), so the curve moves
        before the first epoch ends.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces named ``loss``, ``val loss``, ``accuracy``, ... (those with a finite value) and ``batch loss``.
    """
    import plotly.graph_objects as go

    fig = history_figure(snapshot.history)
    if snapshot.batches:
        xs, ys = zip(*snapshot.batches, strict=True)
        fig.add_trace(go.Scatter(x=list(xs), y=list(ys), mode="lines", name="batch loss", opacity=0.45,
                                 line={"width": 1}), row=1, col=1)
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    return fig
