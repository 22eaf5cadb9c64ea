"""The subscription share is worded as an allocation everywhere (issue 14, item 20)."""

from __future__ import annotations

from pathlib import Path

from lgp_lab.observability.cost import allocation


def test_allocation_words_the_subscription_share() -> None:
    share = allocation(
        {
            "cost_model": "fixed_subscription",
            "monthly_cost": 20.0,
            "workflow_invocations": 4,
            "cost_per_invocation": 5.0,
        }
    )
    assert share is not None
    assert share.short == "$20/mo ÷ 4"
    assert share.long == (
        "$5.0000 = $20/month ÷ 4 runs this month "
        "(an allocation of the subscription, not a per-run price)"
    )
    odd = allocation(
        {"cost_model": "fixed_subscription", "monthly_cost": 19.99, "workflow_invocations": 1}
    )
    assert odd is not None and odd.short == "$19.99/mo ÷ 1" and "1 run this month" in odd.long
    assert allocation({"cost_model": "none", "workflow_invocations": 3}) is None
    assert allocation({"cost_model": "per_token", "workflow_invocations": 3}) is None
    assert allocation({}) is None


def test_trace_viewer_shows_a_share_not_a_price(lab, project: Path) -> None:
    from lgp_lab.widgets.traces import TraceViewer

    for text in ("one", "two"):
        lab.run("basic_workflow", text)
    viewer = TraceViewer(lab)
    try:
        labels = [label for label, _ in viewer.traces.options]
        assert any(label.endswith("$20/mo ÷ 2") for label in labels), labels
        assert any(label.endswith("$20/mo ÷ 1") for label in labels), labels
        assert not any("/run" in label for label in labels)
        viewer.select(viewer.trace_ids[0])
        assert "$20/month ÷ 2 runs this month" in viewer.detail.value
        assert "not a per-run price" in viewer.detail.value
    finally:
        viewer.close()
