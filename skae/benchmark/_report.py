"""The benchmark's outputs: a Markdown table, ``results.md`` and ``results.json``."""

import json
import math
import platform
import sys

#: (header, record key, format) of each column of the results table.
COLUMNS = [
    ("method", "method", "{}"),
    ("k", "k", "{}"),
    ("recon error", "recon_error", "{:.4g}"),
    ("MSE/feature", "mse_per_feature", "{:.4g}"),
    ("R²", "r2", "{:.3f}"),
    ("LogReg acc", "logreg_acc", "{:.3f}"),
    ("5-NN acc", "knn_acc", "{:.3f}"),
    ("fit s", "fit_s", "{:.2f}"),
    ("transform samples/s", "transform_samples_per_s", "{:,.0f}"),
    ("peak MB", "peak_mb", "{:.1f}"),
]

#: What each figure means (written into both reports).
METRIC_NOTES = {
    "recon_error": "mean over test samples of the summed squared reconstruction error "
                   "||x - inverse_transform(transform(x))||²",
    "mse_per_feature": "recon_error / n_features",
    "r2": "1 - SSE/SST on the test split, SST around the training mean (variance kept)",
    "logreg_acc": "test accuracy of StandardScaler + LogisticRegression(max_iter=2000) "
                  "trained on the training codes",
    "knn_acc": "test accuracy of StandardScaler + KNeighborsClassifier(5) on the codes",
    "fit_s": "wall time of fit on the training split (seconds)",
    "transform_samples_per_s": "test samples encoded per second, best of 3 transform calls",
    "peak_mb": "peak resident memory during fit minus the resident memory before it (MiB), "
               "sampled from /proc/self/statm every 10 ms; a lower bound",
}


def _cell(value, fmt):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return fmt.format(value)


def markdown_table(records):
    """Format the job records as a GitHub Markdown table.

    Parameters
    ----------
    records : list of dict
        Job records (see :func:`skae.benchmark._runner.run_job`).

    Returns
    -------
    table : str
        Header, separator and one row per record; missing values are "—".
    """
    lines = ["| " + " | ".join(h for h, _, _ in COLUMNS) + " |",
             "|" + "|".join("---" if i < 1 else "---:" for i in range(len(COLUMNS))) + "|"]
    for rec in records:
        lines.append("| " + " | ".join(_cell(rec.get(key), fmt) for _, key, fmt in COLUMNS)
                     + " |")
    return "\n".join(lines)


def environment():
    """Versions of Python and the libraries, and the torch thread count.

    Returns
    -------
    env : dict
    """
    import numpy
    import sklearn

    env = {"python": sys.version.split()[0], "platform": platform.platform(),
           "numpy": numpy.__version__, "scikit-learn": sklearn.__version__}
    try:
        import torch

        env.update({"torch": torch.__version__, "torch_threads": torch.get_num_threads()})
    except ImportError:
        pass
    try:
        import skae

        env["skae"] = skae.__version__
    except (ImportError, AttributeError):
        pass
    return env


def _clean(obj):
    """Replace non-finite floats by None and numpy scalars by Python ones."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def build_report(dataset, config, run, notes, plots):
    """Gather everything of one benchmark into a JSON-serialisable dict.

    Parameters
    ----------
    dataset : skae.datasets.Dataset
        The benchmarked (possibly subsampled) data set.
    config : dict
        The command-line settings.
    run : skae.benchmark._runner.BenchmarkRun
    notes : list of str
        Remarks made while setting up (capped sizes, subsampling).
    plots : dict
        ``file name -> path`` of written plots, or ``-> "skipped: reason"``.

    Returns
    -------
    report : dict
    """
    return _clean({
        "dataset": {
            "name": dataset.name,
            "description": dataset.description,
            "n_train": dataset.X_train.shape[0],
            "n_test": dataset.X_test.shape[0],
            "n_features": dataset.X_train.shape[1],
            "image_shape": None if dataset.image_shape is None else list(dataset.image_shape),
            "unit_interval": bool(dataset.unit_interval),
            "has_labels": run.label_note is None,
        },
        "config": config,
        "environment": environment(),
        "metrics": METRIC_NOTES,
        "results": run.records,
        "skipped": run.skipped,
        "failed": run.failed,
        "notes": list(notes) + ([f"no accuracies: {run.label_note}"] if run.label_note else []),
        "interrupted": run.interrupted,
        "plots": plots,
    })


def write_json(report, path):
    """Write ``report`` to ``path`` as indented JSON (strict: no NaN)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, allow_nan=False, ensure_ascii=False)
        f.write("\n")


def markdown_report(report):
    """The whole report as a Markdown document (``results.md``).

    Parameters
    ----------
    report : dict
        From :func:`build_report`.

    Returns
    -------
    text : str
    """
    ds, cfg = report["dataset"], report["config"]
    shape = f", images {tuple(ds['image_shape'])}" if ds["image_shape"] else ""
    lines = [
        f"# skae benchmark: {ds['name']}",
        "",
        f"{ds['description']}: {ds['n_train']} training / {ds['n_test']} test samples, "
        f"{ds['n_features']} features{shape}.",
        "",
        f"Seed {cfg['seed']}, n_components {cfg['n_components']}"
        + (", **quick mode** (tiny epochs, subsampled data)" if cfg.get("quick") else "") + ".",
        "",
        markdown_table(report["results"]),
        "",
    ]
    extra = [f"- skipped {s['method']}" + (f" (k={s['k']})" if s["k"] is not None else "")
             + f": {s['reason']}" for s in report["skipped"]]
    extra += [f"- FAILED {f['method']} (k={f['k']}): {f['error']}" for f in report["failed"]]
    extra += [f"- {note}" for note in report["notes"]]
    extra += [f"- warning, {r['method']} k={r['k']}: {w}" for r in report["results"]
              for w in r["warnings"]]
    if report["interrupted"]:
        extra.append("- the run was interrupted: these results are partial")
    if extra:
        lines += ["## Notes", "", *extra, ""]
    lines += ["## Metrics", ""]
    lines += [f"- `{key}`: {text}" for key, text in report["metrics"].items()]
    images = [name for name, where in report["plots"].items()
              if not str(where).startswith("skipped")]
    if images:
        lines += ["", "## Plots", ""] + [f"![{name}]({name})" for name in images]
    env = ", ".join(f"{k} {v}" for k, v in report["environment"].items())
    lines += ["", f"Environment: {env}.", ""]
    return "\n".join(lines)
