"""Training and inference throughput of AutoencoderTransformer against references.

Training: the same 784-256-128-30 network (mirrored decoder), the same Adam
settings, batch size and data (MNIST-5k train split, float32) trained by

* skae's ``AutoencoderTransformer.fit`` (no noise, no validation split),
* skorch's ``NeuralNet`` (``train_split=None``),
* a plain hand-written PyTorch loop,

measured alternately for several rounds in one run; the table reports the
median samples/s of each and the ratios.  Inference: ``transform`` against a
bare ``torch.inference_mode`` forward pass of the same encoder on a float32
tensor.  Latency: ``transform`` of one row (and of 10 rows) against
``PCA(30).transform`` of the same rows, median of many calls, alternating.
``--conv``: the default convolutional network (``input_shape=(1, 28, 28)``,
``loss="bce"``, batch 32, no noise) trained by ``fit`` against a plain loop
over a copy of the very modules skae built (same batches, Adam).
``--small-maps``: the default convolutional network on the 8x8 digits
(``n_components=10``, the package defaults, ``early_stopping=False``, no
``linear_shortcut``), whose
layers on small feature maps are computed as dense matrix products, against
the same fits with every layer a torch convolution; alternating rounds,
median samples/s, and both models' test errors.
``--subnormal``: the network of ``recipes/hinton_mlp.json`` with ReLU units
and without its linear path (784-1000-500-250-30, ``loss="bce"``, Gaussian noise 0.4, batch 128; a
constant rate of 0.002, no validation split) on the MNIST-5k train split,
with the training loop's flush of subnormal optimizer moments (every
``skae._training.FLUSH_STEPS`` steps) against the same fits without it;
alternating rounds, the median samples/s over the second half of the epochs
(once dead units' moments have decayed), the subnormal entries the optimizer
holds at the end without the flush, and whether both give the same codes.

    python benchmarks/bench_speed.py [--epochs 3] [--rounds 5] [--inference-only] [--conv]
    python benchmarks/bench_speed.py --small-maps --epochs 20 --rounds 3
    python benchmarks/bench_speed.py --subnormal --epochs 60 --rounds 2
"""

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

import skae._training
from skae import AutoencoderTransformer
from skae.datasets import load_mnist5k_split
from skae.nn import _conv as conv_layers

HIDDEN = (256, 128)
K = 30
BATCH = 128
LR = 1e-3


def skae_fit(X, epochs, seed):
    ae = AutoencoderTransformer(
        n_components=K, hidden_layer_sizes=HIDDEN, noise=None, weight_decay=0.0,
        early_stopping=False, batch_size=BATCH, learning_rate=LR,
        learning_rate_schedule="constant", max_iter=epochs, linear_shortcut=False,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae.fit(X)
    return ae


class PlainAE(nn.Module):
    """The same layers as skae's default network (without its scaling buffers)."""

    def __init__(self, n_features):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], HIDDEN[1]),
            nn.ReLU(), nn.Linear(HIDDEN[1], K),
        )
        self.decoder = nn.Sequential(
            nn.Linear(K, HIDDEN[1]), nn.ReLU(), nn.Linear(HIDDEN[1], HIDDEN[0]), nn.ReLU(),
            nn.Linear(HIDDEN[0], n_features),
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


def plain_fit(X, epochs, seed):
    gen = torch.Generator().manual_seed(seed)
    Xt = torch.from_numpy(X)
    net = PlainAE(X.shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    for _ in range(epochs):
        perm = torch.randperm(len(Xt), generator=gen)
        for i in range(0, len(Xt), BATCH):
            x = Xt[perm[i:i + BATCH]]
            loss = (net(x) - x).square().sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net


def skae_conv_fit(X, epochs, seed):
    ae = AutoencoderTransformer(
        n_components=K, input_shape=(1, 28, 28), loss="bce", noise=None, weight_decay=0.0,
        early_stopping=False, batch_size=32, learning_rate=LR,
        learning_rate_schedule="constant", max_iter=epochs, linear_shortcut=False,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae.fit(X)
    return ae


def plain_conv_fit(X, epochs, seed, modules):
    import copy

    gen = torch.Generator().manual_seed(seed)
    Xt = torch.from_numpy(X)
    net = copy.deepcopy(modules).train()
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    for _ in range(epochs):
        perm = torch.randperm(len(Xt), generator=gen)
        for i in range(0, len(Xt), 32):
            x = Xt[perm[i:i + 32]]
            h = net.encoder(((x - net.input_shift.float() - net.mean) / net.scale).reshape(-1, 1, 28, 28))
            out = net.decoder(net.head(h.flatten(1))).reshape(len(x), -1)
            loss = nn.functional.binary_cross_entropy_with_logits(
                out, x, reduction="none").sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net


def conv(X, epochs, rounds):
    modules = skae_conv_fit(X[:64], 1, 0).net_
    n = len(X) * epochs
    rates = {"skae conv fit": [], "plain loop, same modules": []}
    for r in range(rounds):
        rates["skae conv fit"].append(n / timed(skae_conv_fit, X, epochs, r)[0])
        rates["plain loop, same modules"].append(
            n / timed(plain_conv_fit, X, epochs, r, modules)[0])
    med = {name: float(np.median(v)) for name, v in rates.items()}
    print(f"\n| conv trainer ({epochs} epochs, batch 32) | median samples/s | skae / this |")
    print("|---|---|---|")
    for name, rate in med.items():
        print(f"| {name} | {rate:,.0f} | {med['skae conv fit'] / rate:.2f} |")


def small_map_fit(X, epochs, seed, dense_entries):
    """Fit the default conv net on 8x8 images, its layers dense up to ``dense_entries``."""
    saved = conv_layers.DENSE_ENTRIES
    conv_layers.DENSE_ENTRIES = dense_entries  # read when the layers are built
    try:
        ae = AutoencoderTransformer(n_components=10, input_shape=(1, 8, 8),
                                    early_stopping=False, max_iter=epochs,
                                    linear_shortcut=False, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ae.fit(X)
    finally:
        conv_layers.DENSE_ENTRIES = saved
    return ae


def small_maps(epochs, rounds):
    X = (load_digits().data / 16.0).astype(np.float32)
    Xtr, Xte = X[:1347], X[1347:]
    variants = {"small maps as matrix products": conv_layers.DENSE_ENTRIES,
                "every layer a torch convolution": -1}
    rates, errors = {name: [] for name in variants}, {}
    for r in range(rounds):
        for name, entries in variants.items():
            seconds, ae = timed(small_map_fit, Xtr, epochs, r, entries)
            rates[name].append(len(Xtr) * epochs / seconds)
            if r == 0:
                rec = ae.inverse_transform(ae.transform(Xte))
                errors[name] = float(((rec - Xte) ** 2).sum(1).mean())
    ratio_table(f"8x8 digits, default conv net ({epochs} epochs)", "median samples/s", rates,
                {"test error (seed 0)": {name: f"{e:.4f}" for name, e in errors.items()}})


def ratio_table(title, unit, rates, extra=None):
    """Print the median of each variant's ``rates`` and the first variant's ratio to it."""
    med = {name: float(np.median(v)) for name, v in rates.items()}
    first = next(iter(med))
    extra = extra or {}
    print(f"\n| {title} | {unit} | {first} / this |" + "".join(f" {c} |" for c in extra))
    print("|---|---|---|" + "---|" * len(extra))
    for name, rate in med.items():
        print(f"| {name} | {rate:,.0f} | {med[first] / rate:.2f} |"
              + "".join(f" {column[name]} |" for column in extra.values()))


def subnormal_fit(X, epochs, flush):
    """Fit the hinton_mlp network on ``X``, flushing subnormal optimizer moments or not."""
    saved = skae._training.flush_subnormal_state
    if not flush:
        skae._training.flush_subnormal_state = lambda optimizer: None
    try:
        ae = AutoencoderTransformer(
            n_components=30, hidden_layer_sizes=(1000, 500, 250), loss="bce",
            noise="gaussian", noise_level=0.4, weight_decay=0.0, batch_size=128,
            learning_rate=0.002, learning_rate_schedule="constant", early_stopping=False,
            max_iter=epochs, linear_shortcut=False, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ae.fit(X)
    finally:
        skae._training.flush_subnormal_state = saved
    return ae


def subnormal(X, Xte, epochs, rounds):
    variants = {"subnormal moments flushed": True, "not flushed": False}
    rates = {name: [] for name in variants}
    models = {}
    tiny = torch.finfo(torch.float32).tiny
    for _ in range(rounds):
        for name, flush in variants.items():
            ae = subnormal_fit(X, epochs, flush)
            late = sum(record["time"] for record in ae.history_[epochs // 2:])
            rates[name].append(len(X) * (epochs - epochs // 2) / late)
            models[name] = ae
    held = sum(int(((v != 0) & (v.abs() < tiny)).sum())
               for state in models["not flushed"]._optimizer_state["state"].values()
               for v in state.values() if v.dim() > 0)
    total = sum(p.numel() for p in models["not flushed"].net_.parameters())
    codes = [m.transform(Xte) for m in models.values()]
    ratio_table(f"hinton_mlp network, MNIST-5k, {epochs} epochs",
                f"median samples/s, epochs {epochs // 2 + 1}-{epochs}", rates)
    print(f"\nsubnormal optimizer moments at the end without the flush: {held:,} "
          f"(two per weight: {2 * total:,})")
    print(f"test codes bitwise the same: {np.array_equal(*codes)}; largest difference "
          f"{float(np.abs(codes[0] - codes[1]).max()):.3g}")


def skorch_fit(X, epochs, seed):
    from skorch import NeuralNet

    def criterion():
        return nn.MSELoss()

    net = NeuralNet(
        PlainAE, module__n_features=X.shape[1], criterion=criterion,
        optimizer=torch.optim.Adam, lr=LR, batch_size=BATCH, max_epochs=epochs,
        train_split=None, iterator_train__shuffle=True, verbose=0,
    )
    net.fit(X, X)
    return net


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--inference-only", action="store_true",
                        help="skip the training comparison")
    parser.add_argument("--conv", action="store_true",
                        help="only the convolutional training comparison")
    parser.add_argument("--small-maps", action="store_true",
                        help="only the 8x8 conv net: small maps as matrix products or not")
    parser.add_argument("--subnormal", action="store_true",
                        help="only the flush of subnormal optimizer moments, on or off")
    args = parser.parse_args(argv)
    if args.subnormal:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        Xtr, Xte, _, _ = load_mnist5k_split()
        subnormal(np.ascontiguousarray(Xtr, np.float32), np.ascontiguousarray(Xte, np.float32),
                  args.epochs, args.rounds)
        return
    if args.small_maps:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        small_maps(args.epochs, args.rounds)
        return
    Xtr, Xte, _, _ = load_mnist5k_split()
    X = np.ascontiguousarray(Xtr, dtype=np.float32)
    if args.conv:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        conv(X[:1000], args.epochs, args.rounds)
        return
    n = len(X) * args.epochs
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{len(X)} samples x {args.epochs} epochs per fit, {args.rounds} alternating rounds")
    runners = {} if args.inference_only else {"skae": skae_fit, "plain torch loop": plain_fit}
    try:
        import skorch  # noqa: F401

        runners["skorch NeuralNet"] = skorch_fit
    except ImportError:
        print("skorch is not installed: pip install skorch (the [speed] extra)")
    if args.inference_only:
        runners = {}
    rates = {name: [] for name in runners}
    for r in range(args.rounds):
        for name, fn in runners.items():
            seconds, _ = timed(fn, X, args.epochs, r)
            rates[name].append(n / seconds)
    med = {name: float(np.median(v)) for name, v in rates.items()}
    if med:
        print("\n| trainer | median samples/s | skae / this |")
        print("|---|---|---|")
        for name, rate in med.items():
            print(f"| {name} | {rate:,.0f} | {med['skae'] / rate:.2f} |")

    ae = skae_fit(X, 1, 0)
    Xq = np.ascontiguousarray(np.tile(Xte, (10, 1)), dtype=np.float32)
    enc = ae.net_
    Xt = torch.from_numpy(Xq)
    t_skae, t_bare = [], []
    for _ in range(args.rounds * 2):
        t_skae.append(timed(ae.transform, Xq)[0])
        with torch.inference_mode():
            t_bare.append(timed(enc.encode, Xt)[0])
    s, b = len(Xq) / np.median(t_skae), len(Xq) / np.median(t_bare)
    print(f"\n| inference on {len(Xq)} rows | samples/s |\n|---|---|")
    print(f"| skae transform (float32 input) | {s:,.0f} |")
    print(f"| bare inference_mode encoder forward | {b:,.0f} |")
    print(f"| ratio transform / bare | {s / b:.2f} |")
    latency(ae, Xtr, Xte)


def latency(ae, Xtr, Xte, calls=300):
    from sklearn.decomposition import PCA

    pca = PCA(K).fit(Xtr)
    print("\n| rows per call | skae transform ms | PCA transform ms | ratio |\n|---|---|---|---|")
    for n in (1, 10):
        rows = Xte[:n]
        t_ae, t_pca = [], []
        for _ in range(calls):
            t_ae.append(timed(ae.transform, rows)[0])
            t_pca.append(timed(pca.transform, rows)[0])
        a, p = np.median(t_ae) * 1e3, np.median(t_pca) * 1e3
        print(f"| {n} | {a:.3f} | {p:.3f} | {a / p:.1f} |")


if __name__ == "__main__":
    main()
