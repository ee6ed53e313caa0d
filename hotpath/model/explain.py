"""``hotpath explain module:function``: what the model saw, predicted and ordered, and what was measured.

Reads the state folder's model history (one record per tuning run, written by
``hotpath.model.guide.remember``), so it shows the ranking as the model made it at the time,
next to what the trials then measured, and why the search stopped where it did. Each run also
shows, from the store, the inputs it verified on by rule, the coverage they reached and the guards
its install carries. A function never tuned here is described by its source features alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
import logging
from pathlib import Path
from typing import Any

from hotpath.model import records
from hotpath.model.features import FunctionFeatures
from hotpath.model.records import RunRecord
from hotpath.store import names, queries
from hotpath.store.verification import Verification

log = logging.getLogger(__name__)

EXPLAIN_SCHEMA = "hotpath.explain/1"


def recorded_name(target: str, known: list[str]) -> str:
    """The recorded function ``target`` names (a script's by its path, or the end of it, or as
    ``__main__:name`` where one script defines it), else ``target`` itself. Raises
    ``names.AmbiguousName`` for a name several scripts define."""
    found = names.resolve(target, known)
    return found[0] if found else target


def _load(target: str) -> Any:
    module_name, attribute = names.split(target)
    value: Any
    if names.is_script(module_name):
        # Loaded under another name, so that its `if __name__ == "__main__":` block does not run.
        spec = importlib.util.spec_from_file_location(
            f"__hotpath_explain__.{re.sub(r'[^A-Za-z0-9_]', '_', module_name)}", module_name)
        if spec is None or spec.loader is None:
            raise ImportError(f"{module_name} cannot be loaded")
        value = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = value  # dataclasses look their module up by name
        spec.loader.exec_module(value)
    else:
        value = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return getattr(value, "original", value)


def _nonzero(features: FunctionFeatures) -> dict[str, float]:
    return {k: round(v, 3) for k, v in features.as_dict().items() if v != 0.0 and v != -1.0}


def _verified(state_dir: Path, target: str) -> list[tuple[str, float, Verification]]:
    """The store's record of what each run of ``target`` verified on: (signature, when, what)."""
    try:
        store = queries.open_existing(state_dir)
        if store is None:
            return []
        return [(signature, created, v) for (function, signature, created), v in queries.verifications(store).items()
                if function == target]
    except Exception:  # an unreadable store leaves the rest of the explanation standing
        log.warning("the store in %s could not be read; explaining without it", state_dir, exc_info=True)
        return []


def _legacy_runs(state_dir: Path, target: str) -> list[RunRecord]:
    """Model history a hotpath that named every script's function ``__main__:name`` recorded for
    ``target`` (a script's function): the runs whose nearest store record in time, of any script's
    function of that name, is ``target``'s."""
    qualname = names.split(target)[1]
    legacy = list(records.runs_of(state_dir, f"{names.MAIN}:{qualname}"))
    if not legacy:
        return []
    try:
        store = queries.open_existing(state_dir)
        stored = [] if store is None else [(function, signature, created) for function, signature, created
                                           in queries.verifications(store) if names.split(function)[1] == qualname]
    except Exception:
        log.warning("the store in %s could not be read; explaining without it", state_dir, exc_info=True)
        return []
    mine = []
    for run in legacy:
        near = [(abs(created - run.created), function) for function, signature, created in stored
                if signature == run.signature and abs(created - run.created) < 60.0]
        if near and min(near)[1] == target:
            mine.append(run)
    return mine


def _verification_of(recorded: list[tuple[str, float, Verification]], signature: str, created: float) -> dict[str, Any]:
    """The store's record nearest in time to the model's record of one run (written seconds apart)."""
    near = [(abs(when - created), v) for sig, when, v in recorded if sig == signature and abs(when - created) < 60.0]
    if not near:
        return {"inputs": None, "coverage_percent": None, "guards": None}
    v = min(near, key=lambda item: item[0])[1]
    return {"inputs": dict(v.inputs), "inputs_line": v.inputs_line(), "lines_run": v.lines_run,
            "lines_total": v.lines_total, "coverage_percent": v.coverage_percent,
            "guards": None if v.guards is None else list(v.guards)}


def explain(target: str, state_dir: Path, every: bool = False) -> dict[str, Any]:
    """The explanation of ``module:function`` (a script's own: ``path/to/script.py:function``, as
    ``recorded_name`` gives it) as a JSON-ready dict (schema ``hotpath.explain/1``).

    ``every``: all recorded runs, not only the latest per signature.
    """
    runs = list(records.runs_of(state_dir, target))
    if not runs and names.is_script(names.split(target)[0]):
        runs = _legacy_runs(state_dir, target)
    if not every:
        latest: dict[str, RunRecord] = {}
        for run in runs:
            latest[run.signature] = run
        runs = list(latest.values())
    out: dict[str, Any] = {"schema": EXPLAIN_SCHEMA, "function": target, "state_dir": str(state_dir), "runs": []}
    if not runs:
        out["note"] = f"no tuning of {target} is recorded in {records.history_path(state_dir)}"
        try:
            from hotpath.model.features import ast_features
            from hotpath.rewriter.source import extract

            fs = extract(_load(target))
            out["source_features"] = {k: v for k, v in ast_features(fs.walk(), set(fs.params)).items() if v}
        except Exception as exc:  # the explanation of a missing record must not fail on an import
            out["source_features_error"] = f"{type(exc).__name__}: {exc}"
        return out
    recorded = _verified(state_dir, target)
    for run in runs:
        measured = {t["name"]: t for t in run.trials}
        out["runs"].append({
            "verification": _verification_of(recorded, run.signature, run.created),
            "signature": run.signature, "created": run.created, "duration_s": round(run.duration_s, 3),
            "features": _nonzero(run.features), "model": run.model, "stopped": run.stopped,
            "ranking": [dict(p, rank=i + 1, measured=measured.get(p["name"])) for i, p in enumerate(run.ranking)],
            "trials": list(run.trials),
        })
    return out


def render(data: dict[str, Any]) -> str:
    """Plain text for a terminal."""
    lines = [f"{data['function']}  (state folder {data['state_dir']})"]
    if not data["runs"]:
        lines.append(data["note"])
        if data.get("source_features"):
            lines.append("features from the source: " + ", ".join(f"{k}={v:g}" for k, v in data["source_features"].items()))
        if data.get("source_features_error"):
            lines.append(f"(the source could not be read: {data['source_features_error']})")
        return "\n".join(lines) + "\n"
    for run in data["runs"]:
        lines += ["", f"signature {run['signature']}  (tuning took {run['duration_s']:.1f} s)",
                  "features: " + ", ".join(f"{k}={v:g}" for k, v in run["features"].items()),
                  f"model: {run['model']}"]
        verified = run.get("verification") or {}
        if verified.get("inputs_line"):
            lines.append(verified["inputs_line"])
        if verified.get("guards"):
            lines.append("install guards: " + "; ".join(verified["guards"]))
        if run["ranking"]:
            lines += ["", "  # candidate                        P(ok)  pred.speedup  pred.cost   measured"]
            for p in run["ranking"]:
                m = p.get("measured") or {}
                speed = f"{m['speedup']:.1f}x " if m.get("speedup") else ""
                if not m:
                    got = "-"
                elif m.get("status") == "skipped":
                    got = "not tried"
                else:
                    got = f"{m['status']} {speed}in {m.get('wall_s', 0):.1f}s"
                # Refinements are queued after a failure and predicted then, not in the first ranking.
                label = p["name"] + (" (refinement)" if "+" in p["name"] else "")
                lines.append(f"  {p['rank']:<2}{label:<33}{p['p_ok']:>5.0%}  {p['speedup']:>11.1f}x  "
                             f"{p['cost_s']:>8.1f}s   {got}")
        lines += ["", "  trials as run:"]
        for t in run["trials"]:
            speed = f"{t['speedup']:.1f}x" if t.get("speedup") else "-"
            lines.append(f"  {t['name']:<33}{t['status']:<10}{speed:>10} {t.get('wall_s', 0):>6.1f}s  {t['reason']}")
        if run["stopped"]:
            lines.append(f"  search stopped early: {run['stopped']}")
    return "\n".join(lines) + "\n"


def to_json(data: dict[str, Any]) -> str:
    """The explanation as JSON text."""
    return json.dumps(data, indent=1, default=str)
