"""A search's run folder, written through the run contract: the refitted best model, run.json
(with its ``search`` section), ``search.json`` (every candidate's scores) and the figures."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np

from .._files import MAX_JSON_BYTES, read_input_bytes
from .._json import plain
from ..exceptions import DataError, InputMissingError, ParameterError
from ..runs import MODEL_FILE, SEARCH_FILE, Metrics, Run, SearchInfo, write_description
from .space import describe_space, short_key


def results_table(cv_results: dict) -> dict:
    """``cv_results_`` as plain JSON columns (masked entries → ``None``, names shortened)."""
    out = {}
    for key, col in cv_results.items():
        if key == "params":
            out[key] = [{short_key(k): plain(v) for k, v in p.items()} for p in col]
            continue
        name = f"param_{short_key(key[6:])}" if key.startswith("param_") else key
        mask = np.ma.getmaskarray(col) if np.ma.isMaskedArray(col) else None
        values = list(np.ma.getdata(col)) if mask is not None else list(col)
        out[name] = [None if (mask is not None and mask[i]) else plain(v) for i, v in enumerate(values)]
    return out


def result_rows(table: dict) -> list[dict]:
    """One dict per candidate, best first (what ``--json`` prints)."""
    n = len(table["params"])
    extra = [k for k in ("iter", "n_resources") if k in table]
    rows = []
    for i in range(n):
        row = {"rank": table["rank_test_score"][i], "params": table["params"][i],
               "mean_test_score": table["mean_test_score"][i], "std_test_score": table["std_test_score"][i],
               "mean_fit_time": table["mean_fit_time"][i]}
        row.update({k: table[k][i] for k in extra})
        rows.append(row)
    if extra:  # halving: the last rung first, then by rank
        rows.sort(key=lambda r: (-r["iter"], r["rank"]))
    else:
        rows.sort(key=lambda r: r["rank"])
    return rows


def write_search_run(w, searcher, pipe, space, split, X, y, ds, task, *, dataset, model, kind, scoring, cv,
                     seed, fixed, raw_pixels, test_size, limit, stratify, n_iter, factor, seconds,
                     backend_info, evaluate) -> Run:
    """Refit the best candidate on the whole training set and write the run into *w*'s folder."""
    from sklearn.base import clone

    from ..fitting import fit_model, library_versions
    from ..persist import save_model
    from ..training import describe_run

    table = results_table(searcher.cv_results_)
    best_i = int(searcher.best_index_)
    best_params_full = searcher.best_params_
    best_params = {short_key(k): plain(v) for k, v in best_params_full.items()}
    best_score = plain(float(searcher.best_score_))
    best_std = table["std_test_score"][best_i]
    failed = int(sum(1 for v in table["mean_test_score"] if v is None))
    n_cands = len(table["params"])
    if failed == n_cands:
        raise ParameterError("search: every candidate failed to fit; check the parameter values")

    best = clone(pipe).set_params(**best_params_full)
    fit = fit_model(best, X, y, label="refitting the best candidate")
    record = {
        "kind": kind, "model": model, "scoring": scoring, "cv": cv, "seed": seed,
        "space": describe_space(space), "n_candidates": n_cands, "failed_candidates": failed,
        "best_params": best_params, "best_score": best_score, "best_std": best_std, "best_index": best_i,
        "seconds": round(seconds, 3), **backend_info,
        **({"n_iter": n_iter} if n_iter is not None else {}),
        **({"factor": factor, "n_iterations": int(searcher.n_iterations_),
            "n_resources": [int(r) for r in searcher.n_resources_]} if kind.startswith("halving") else {}),
        "results": result_rows(table),
        "cv_results": table,
    }
    summary = msgspec.convert({k: plain(record[k]) for k in SearchInfo.__struct_fields__ if k in record},
                              SearchInfo, strict=False)
    info = describe_run(dataset, ds, split, task, model=model, params={**fixed, **best_params},
                        raw_pixels=raw_pixels, estimator=best[-1], fit=fit, test_size=test_size, seed=seed,
                        limit=limit, stratify=stratify, augment=False,
                        sha256=save_model(best, w.path / MODEL_FILE),
                        versions={**library_versions(), **_dask_versions(backend_info)}, search=summary)
    w.write_json(SEARCH_FILE, record)
    w.write_description(info)
    run = Run(w.path, info)
    ours = {"cv_mean": best_score, "cv_std": best_std, "search_best_score": best_score}
    if evaluate:
        from ..evaluation import evaluate_run
        from ..plots.figure_set import drawer

        # no folds of its own (cv=0): the search's CV score fills those fields
        evaluate_run(run, split=split, model=best, cv=0, figures=drawer(split.test.images, best))
        metrics = {**msgspec.to_builtins(run.info.metrics),
                   **{k: v for k, v in ours.items() if getattr(run.info.metrics, k) is None}}
    else:
        metrics = ours
    info = msgspec.structs.replace(run.info, metrics=msgspec.convert(metrics, Metrics, strict=False))
    write_description(w.path, info)
    _save_figures(w.path, table, space, scoring)  # beside the evaluation's figures
    return Run(w.path, info)


def _dask_versions(backend_info) -> dict:
    if backend_info.get("backend") != "dask":
        return {}
    import dask
    import distributed

    return {"dask": dask.__version__, "distributed": distributed.__version__}


def _save_figures(folder: Path, table: dict, space: dict, scoring: str) -> list[Path]:
    """One :class:`~digitlab.plots.SearchParamDisplay` per searched parameter, in ``figures/``."""
    import re

    from ..plots import SearchParamDisplay, save_figure
    from ..runs import FIGURES_DIR

    out = []
    for key in space:
        name = short_key(key)
        disp = SearchParamDisplay.from_results(table, name, scoring=scoring)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        out.append(save_figure(disp.figure_, Path(folder) / FIGURES_DIR / f"search_{safe}.png"))
    return out


def load_search(run) -> dict:
    """The ``search.json`` of a run made by :func:`~digitlab.searching.search`."""
    p = Path(run.path) / SEARCH_FILE
    if not p.exists():
        raise InputMissingError(f"{p}: not a search run (no {SEARCH_FILE})")
    data = read_input_bytes(p, max_bytes=MAX_JSON_BYTES, what="search results")
    try:
        record = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{p}: unreadable search results ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("results", []), list):
        raise DataError(f"{p}: unreadable search results (not a search record)")
    return record
