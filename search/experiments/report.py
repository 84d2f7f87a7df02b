"""An experiment's report: metrics per variant with intervals, lift, p-values and SRM.

Shape (strict JSON, no NaN; undefined numbers are null)::

    {"experiment": {...definition and status...}, "generated_at": "<UTC ISO time>",
     "alpha": 0.05, "unit": "user (else session)",
     "overall": {"variants": [VARIANT, ...]},
     "by_locale": [{"locale": "de", "variants": [...]}, ...],   # sorted; no locale: "unknown"
     "by_day": [{"day": "2026-11-25", "variants": [...]}, ...],  # UTC days, sorted
     "srm": {"p_value", "warning", "expected", "observed", "observed_share", "message"},
     "warnings": ["..."]}

with VARIANT = {"variant", "is_control", "impressions" (searches shown), "users" (distinct
units), "clicks", "add_to_carts", "purchases", "revenue", "metrics": {"ctr",
"clicks_per_search", "conversion_rate", "revenue_per_search", "mrr": {"value", "ci_low",
"ci_high", "lift", "lift_ci_low", "lift_ci_high", "p_value", "significant", "note"} plus
"p_value_two_proportion" for ctr and conversion_rate}}.

Statistics (``search.experiments.stats``): every metric is a ratio over searches, analysed at
the level of the randomisation unit (the user, else the session) with the delta method, so a
user's many searches are not counted as independent; 95% intervals, lift over control with its
delta-method interval, and a two-sided z-test p-value (significant when p < alpha). The pooled
search-level two-proportion test is shown beside it for rates and overstates significance when
users search repeatedly. The sample-ratio-mismatch check is a chi-square test of users per
variant against the weights, warning when p < 0.001.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, Literal

from search.events.definitions import Experiment
from search.events.log import EventLog
from search.experiments.stats import srm_check, summarise

ALPHA = 0.05
UNKNOWN_LOCALE = "unknown"
SRM_WARNING = "sample ratio mismatch: "  # the prefix of the SRM message among the warnings


def experiment_report(event_log: EventLog, experiment: Experiment) -> dict[str, Any]:
    """The whole report as JSON-ready data (three streamed passes over the experiment's data)."""
    overall = summarise(
        experiment, (tally for _, tally in event_log.unit_tallies(experiment.id)), alpha=ALPHA
    )
    by_locale = _sliced(event_log, experiment, "locale")
    by_day = _sliced(event_log, experiment, "day")
    srm = srm_check(experiment, {v["variant"]: v["users"] for v in overall})
    return {
        "experiment": experiment.model_dump(mode="json"),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "alpha": ALPHA,
        "unit": "user (else session)",
        "overall": {"variants": overall},
        "by_locale": by_locale,
        "by_day": by_day,
        "srm": srm,
        "warnings": _warnings(experiment, overall, srm),
    }


def _sliced(
    event_log: EventLog, experiment: Experiment, by: Literal["locale", "day"]
) -> list[dict[str, Any]]:
    """One summary per locale or day; the store sends each slice's rows together."""
    slices = []
    stream = event_log.unit_tallies(experiment.id, by=by)
    for key, rows in itertools.groupby(stream, key=lambda row: row[0]):
        label = key if key is not None else UNKNOWN_LOCALE
        variants = summarise(experiment, (tally for _, tally in rows), alpha=ALPHA)
        slices.append({by: label, "variants": variants})
    return sorted(slices, key=lambda entry: str(entry[by]))


def _warnings(
    experiment: Experiment, overall: list[dict[str, Any]], srm: dict[str, Any]
) -> list[str]:
    """What a reader must know before trusting the numbers."""
    if not any(v["impressions"] for v in overall):
        return ["no data yet: no search has been assigned to this experiment"]
    warnings = []
    if srm["warning"]:
        warnings.append(SRM_WARNING + srm["message"])
    for variant in overall:
        if variant["impressions"] == 0:
            role = "the control" if variant["is_control"] else "variant"
            warnings.append(
                f"{role} {variant['variant']!r} has no data: nothing can be compared with it"
            )
    return warnings
