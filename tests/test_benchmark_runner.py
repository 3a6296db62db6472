"""Tests of the benchmark runner ``python -m skae.benchmark`` (quick mode only)."""

import json
import math
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.image import imread  # noqa: E402

from skae.benchmark import _methods  # noqa: E402
from skae.benchmark.__main__ import main  # noqa: E402
from skae.benchmark._metrics import PeakRSS, read_rss  # noqa: E402
from skae.benchmark._runner import resolve_components  # noqa: E402

HEADER = ("| method | k | recon error | MSE/feature | R² | LogReg acc | 5-NN acc | fit s | "
          "transform samples/s | peak MB |")
METRICS = ("recon_error", "mse_per_feature", "r2", "logreg_acc", "knn_acc", "fit_s",
           "transform_samples_per_s")


def _run(tmp_path, capsys, *args):
    # one job at a time unless asked: the tests' monkeypatches live in this process
    jobs = [] if "--jobs" in args else ["--jobs", "1"]
    out = tmp_path / "out"
    status = main([*args, *jobs, "--quick", "--output-dir", str(out)])
    stdout = capsys.readouterr().out
    report = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return status, stdout, report, out


def _check_records(report, methods, ks, labels=True):
    got = [(r["method"], r["k"]) for r in report["results"]]
    assert got == [(m, k) for m in methods for k in ks]
    for rec in report["results"]:
        for key in METRICS:
            if key in ("logreg_acc", "knn_acc") and not labels:
                assert rec[key] is None
                continue
            assert isinstance(rec[key], float) and math.isfinite(rec[key]), (rec, key)
        assert rec["recon_error"] > 0
        assert rec["mse_per_feature"] == pytest.approx(
            rec["recon_error"] / report["dataset"]["n_features"])
        assert rec["r2"] < 1
        if labels:
            assert 0 <= rec["logreg_acc"] <= 1 and 0 <= rec["knn_acc"] <= 1
        assert rec["fit_s"] >= 0 and rec["transform_samples_per_s"] > 0
        assert rec["peak_mb"] is None or rec["peak_mb"] >= 0
        assert rec["params"]["random_state"] == 0
    pca = [r["r2"] for r in report["results"] if r["method"] == "pca"]
    assert pca == sorted(pca) and len(set(pca)) == len(pca)  # R² of PCA grows with k


def _check_pngs(out, names):
    for name in names:
        image = imread(out / name)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100, name


def test_digits_quick(tmp_path, capsys):
    # in two worker processes: the kept models and the ordered fit come back for the plots
    status, stdout, report, out = _run(
        tmp_path, capsys, "--dataset", "digits", "--max-kernel-pca-samples", "100",
        "--jobs", "2")
    assert status == 0
    methods = ["pca", "autoencoder", "autoencoder_conv", "umap_ae", "vae"]
    _check_records(report, methods, [2, 10, 30])
    assert set(report) >= {"dataset", "config", "environment", "metrics", "results",
                           "skipped", "failed", "notes", "plots"}
    assert report["dataset"]["n_train"] == 300 and report["dataset"]["image_shape"] == [1, 8, 8]
    assert report["config"]["quick"] and report["failed"] == []
    assert report["config"]["jobs"] == 2 and "2 jobs at once on 1 thread each" in stdout
    [skip] = [s for s in report["skipped"] if s["method"] == "kernel_pca"]
    assert "300 training samples exceed --max-kernel-pca-samples=100" in skip["reason"]
    assert "Skipping kernel_pca: 300 training samples exceed" in stdout
    vae = next(r for r in report["results"] if r["method"] == "vae")
    assert vae["params"]["likelihood"] == "bernoulli"
    conv = next(r for r in report["results"] if r["method"] == "autoencoder_conv")
    assert conv["params"]["input_shape"] == [1, 8, 8] and conv["n_iter"] <= 3
    assert HEADER in stdout and "[1/" in stdout and "pca k=2:" in stdout
    pngs = ["error_vs_components.png", "accuracy_vs_components.png", "reconstructions.png",
            "latent_2d.png", "vae_samples.png", "explained_variance.png"]
    _check_pngs(out, pngs)
    assert all(report["plots"][name] == str(out / name) for name in pngs)
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert HEADER in markdown and "![latent_2d.png](latent_2d.png)" in markdown
    assert str(out / "results.json") in stdout


def test_wine_quick_tabular(tmp_path, capsys):
    status, stdout, report, out = _run(tmp_path, capsys, "--dataset", "wine")
    assert status == 0
    methods = ["pca", "kernel_pca", "autoencoder", "umap_ae", "vae"]
    _check_records(report, methods, [2, 10, 12])  # 30 is capped at n_features - 1 = 12
    assert report["config"]["requested_n_components"] == [2, 10, 30]
    assert any("n_components=30 capped at 12" in note for note in report["notes"])
    assert report["skipped"] == [] and not report["dataset"]["unit_interval"]
    vae = next(r for r in report["results"] if r["method"] == "vae")
    assert vae["params"]["likelihood"] == "gaussian"
    kpca = next(r for r in report["results"] if r["method"] == "kernel_pca")
    assert kpca["params"]["alpha"] == _methods.KERNEL_PCA_ALPHA
    _check_pngs(out, ["error_vs_components.png", "accuracy_vs_components.png",
                      "latent_2d.png", "explained_variance.png"])
    for name in ("reconstructions.png", "vae_samples.png"):
        assert report["plots"][name] == "skipped: not image data"
        assert not (out / name).exists()


def test_user_npz_without_labels(tmp_path, capsys):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3)) @ rng.normal(size=(3, 6)) + 0.05 * rng.normal(size=(80, 6))
    path = tmp_path / "mine.npz"
    np.savez(path, X=X)
    status, stdout, report, out = _run(
        tmp_path, capsys, "--dataset", str(path), "--methods", "pca", "kernel_pca",
        "autoencoder", "--n-components", "1", "3", "3")
    assert status == 0
    _check_records(report, ["pca", "kernel_pca", "autoencoder"], [1, 3], labels=False)
    assert report["dataset"]["has_labels"] is False
    assert report["dataset"]["n_train"] == 60 and report["dataset"]["n_features"] == 6
    pca3 = next(r for r in report["results"] if r["method"] == "pca" and r["k"] == 3)
    assert pca3["r2"] > 0.99  # rank-3 data
    assert report["plots"]["accuracy_vs_components.png"].startswith("skipped: no accuracies")
    _check_pngs(out, ["error_vs_components.png", "latent_2d.png"])
    assert HEADER in stdout and "| pca | 1 |" in stdout and "| — | — |" in stdout


def test_labelled_npz_no_plots_and_default_output_dir(tmp_path, capsys, monkeypatch):
    rng = np.random.RandomState(1)
    y = np.repeat([0, 1, 2], 30)
    X = rng.normal(size=(90, 5)) + 3 * np.eye(5)[y]
    np.savez(tmp_path / "labelled.npz", X=X, target=y)
    monkeypatch.chdir(tmp_path)
    status = main(["--dataset", "labelled.npz", "--labels", "target", "--methods", "pca",
                   "--n-components", "2", "--no-plots", "--quick"])
    capsys.readouterr()
    assert status == 0
    out = tmp_path / "results" / "labelled"
    report = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert report["plots"] == {} and not list(out.glob("*.png"))
    assert report["results"][0]["knn_acc"] > 0.8


def test_fits_run_on_the_threads_asked_for_and_the_callers_setting_is_restored(
        tmp_path, capsys, monkeypatch):
    import torch
    from threadpoolctl import threadpool_info

    seen = []
    fit = _methods.METHODS["pca"].make

    def spy(*args):
        blas = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
        seen.append((torch.get_num_threads(), *blas))
        return fit(*args)

    monkeypatch.setitem(_methods.METHODS, "pca", _methods.Method(
        "pca", "spy", spy, _methods.METHODS["pca"].skip_reason))
    before = torch.get_num_threads()
    args = ["--methods", "pca", "--n-components", "2", "--no-plots", "--quick", "--jobs", "1"]
    for threads in (1, 2):
        assert main([*args, "--threads", str(threads), "--output-dir", str(tmp_path)]) == 0
        assert seen[-1] == (threads, threads) and torch.get_num_threads() == before
    assert json.loads((tmp_path / "results.json").read_text())["config"]["threads"] == 2
    capsys.readouterr()


def test_repeated_runs_give_the_same_figures(tmp_path, capsys):
    args = ["--dataset", "digits", "--methods", "pca", "autoencoder", "--n-components", "2",
            "--no-plots", "--quick", "--jobs", "1"]
    reports = []
    for name in ("a", "b"):
        assert main([*args, "--output-dir", str(tmp_path / name)]) == 0
        reports.append(json.loads((tmp_path / name / "results.json").read_text()))
    capsys.readouterr()
    for first, second in zip(reports[0]["results"], reports[1]["results"], strict=True):
        for key in ("recon_error", "r2", "logreg_acc", "knn_acc", "n_iter"):
            assert first[key] == second[key], key


def test_jobs_in_worker_processes_give_the_figures_of_one_process(
        tmp_path, capsys, monkeypatch):
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    args = ["--dataset", "wine", "--methods", "pca", "kernel_pca", "autoencoder", "vae",
            "--n-components", "2", "5", "--no-plots"]
    _, _, serial, _ = _run(tmp_path / "serial", capsys, *args, "--jobs", "1")
    _, stdout, parallel, _ = _run(tmp_path / "parallel", capsys, *args, "--jobs", "2")
    assert "2 jobs at once" in stdout
    # the folder that handed the data set to the workers is gone
    assert not list(scratch.glob("skae-benchmark-*"))
    # the longest start first, but the records keep the order of the methods
    assert [(r["method"], r["k"]) for r in parallel["results"]] == [
        (m, k) for m in ("pca", "kernel_pca", "autoencoder", "vae") for k in (2, 5)]
    for first, second in zip(serial["results"], parallel["results"], strict=True):
        for key in ("recon_error", "r2", "logreg_acc", "knn_acc", "n_iter", "params"):
            assert first[key] == second[key], (first["method"], first["k"], key)


def test_failures_and_missing_estimators_are_recorded(tmp_path, capsys, monkeypatch):
    def broken(n, dataset, seed):
        raise RuntimeError("boom")

    monkeypatch.setitem(_methods.METHODS, "kernel_pca",
                        _methods.Method("kernel_pca", "broken", broken, lambda *a: None))
    vae = _methods.METHODS["vae"]
    monkeypatch.setitem(_methods.METHODS, "vae", _methods.Method(
        "vae", vae.description, vae.make, lambda *a: "skae.VAEGenerator is not available (test)"))
    status, stdout, report, _ = _run(
        tmp_path, capsys, "--dataset", "wine", "--methods", "pca", "kernel_pca", "vae",
        "--n-components", "2", "--no-plots")
    assert status == 1
    assert report["failed"] == [{"method": "kernel_pca", "k": 2, "error": "RuntimeError: boom"}]
    assert report["skipped"] == [{"method": "vae", "k": None,
                                  "reason": "skae.VAEGenerator is not available (test)"}]
    assert [r["method"] for r in report["results"]] == ["pca"]
    assert "FAILED kernel_pca k=2: RuntimeError: boom" in stdout


def test_plots_degrade_without_skae_plotting(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "skae.plotting", None)  # import raises ImportError
    status, stdout, report, out = _run(tmp_path, capsys, "--dataset", "digits", "--methods",
                                       "pca", "--n-components", "2", "5")
    assert status == 0
    assert "skae.plotting" in report["plots"]["latent_2d.png"]
    assert "No latent_2d.png: ModuleNotFoundError" in stdout
    _check_pngs(out, ["error_vs_components.png", "reconstructions.png"])


def test_conv_on_tabular_data_is_skipped(tmp_path, capsys):
    status, _, report, _ = _run(tmp_path, capsys, "--dataset", "wine", "--methods", "pca",
                                "autoencoder_conv", "--n-components", "2", "--no-plots")
    assert status == 0
    assert report["skipped"][0]["method"] == "autoencoder_conv"
    assert "not image data" in report["skipped"][0]["reason"]


def test_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--methods", "tsne"])
    with pytest.raises(SystemExit):
        main(["--n-components", "0"])
    assert main(["--dataset", str(tmp_path / "missing.npz")]) == 2
    assert "cannot load dataset" in capsys.readouterr().err


def test_resolve_components():
    assert resolve_components([30, 2, 10, 2], 64, 1000) == ([2, 10, 30], [])
    ks, notes = resolve_components([2, 10, 30], 13, 100)
    assert ks == [2, 10, 12] and notes == [
        "n_components=30 capped at 12 (n_features=13, n_train=100)"]
    assert resolve_components([5], 2, 50)[0] == [1]


@pytest.mark.skipif(read_rss() is None, reason="needs /proc/self/statm")
def test_peak_rss_sees_a_large_allocation():
    with PeakRSS() as memory:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        block.sum()
        import time

        time.sleep(0.05)
    del block
    assert memory.peak_mb > 40


def test_explained_variance_plot_needs_the_autoencoder(tmp_path, capsys):
    status, stdout, report, out = _run(
        tmp_path, capsys, "--dataset", "wine", "--methods", "pca", "--n-components", "2", "4")
    assert status == 0
    assert report["plots"]["explained_variance.png"] == (
        "skipped: the autoencoder method did not run")
    assert not (out / "explained_variance.png").exists()
    assert "No explained_variance.png: the autoencoder method did not run" in stdout
