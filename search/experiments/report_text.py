"""An experiment report as text for a terminal (``shelf experiments report``)."""

from __future__ import annotations

from typing import Any

from search.experiments.report import SRM_WARNING


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def _interval(metric: dict[str, Any], prefix: str = "", signed: bool = False) -> str:
    """``value [low, high]`` of a metric (``prefix="lift"``: of its lift)."""
    value = metric.get(prefix or "value")
    low = metric.get(f"{prefix}_ci_low" if prefix else "ci_low")
    high = metric.get(f"{prefix}_ci_high" if prefix else "ci_high")
    if value is None or low is None or high is None:
        return _pct(value, signed)
    return f"{_pct(value, signed)} [{_pct(low, signed)}, {_pct(high, signed)}]"


def _p(value: float | None) -> str:
    return "-" if value is None else (f"{value:.4f}" if value >= 1e-4 else f"{value:.1e}")


def variant_rows(variants: list[dict[str, Any]]) -> list[str]:
    """One line per variant: searches, users, CTR with its interval, lift, p-value, others."""
    header = (
        f"{'variant':<14} {'searches':>9} {'users':>7}  {'CTR [95% CI]':<24} "
        f"{'lift [95% CI]':<27} {'p':>8}  {'conv':>6} {'rev/search':>10} {'MRR':>6}"
    )
    rows = [header]
    for row in variants:
        metrics = row["metrics"]
        ctr = metrics["ctr"]
        star = " *" if ctr.get("significant") else ""
        rows.append(
            f"{row['variant']:<14} {row['impressions']:>9} {row['users']:>7}  "
            f"{_interval(ctr):<24} {_interval(ctr, 'lift', signed=True):<27} "
            f"{_p(ctr.get('p_value')):>8}{star:<2}"
            f"{_pct(metrics['conversion_rate']['value']):>6} "
            f"{_number(metrics['revenue_per_search']['value']):>10} "
            f"{_number(metrics['mrr']['value']):>6}"
        )
    return rows


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_report(report: dict[str, Any]) -> str:
    """The overall table, the SRM verdict and the warnings (``--json`` has everything)."""
    experiment = report["experiment"]
    lines = [
        f"experiment {experiment['id']} ({experiment['status']}, traffic "
        f"{experiment['traffic']:.0%}), control {experiment['control']}; "
        f"* = p < {report.get('alpha', 0.05)} (user-level test)",
        "",
        *variant_rows(report["overall"]["variants"]),
        "",
    ]
    srm = report.get("srm") or {}
    verdict = "WARNING" if srm.get("warning") else "ok"
    lines.append(f"sample ratio: {verdict} (p={_p(srm.get('p_value'))}) {srm.get('message', '')}")
    for warning in report.get("warnings", []):
        if not warning.startswith(SRM_WARNING):  # said on the line above
            lines.append(f"warning: {warning}")
    if report.get("by_locale"):
        lines.append("")
        lines.append(
            "by locale (CTR): " + "; ".join(_slice(s, "locale") for s in report["by_locale"])
        )
    return "\n".join(line.rstrip() for line in lines)


def _slice(section: dict[str, Any], key: str) -> str:
    parts = [f"{v['variant']} {_pct(v['metrics']['ctr']['value'])}" for v in section["variants"]]
    return f"{section[key]}: " + ", ".join(parts)
