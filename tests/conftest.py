import numpy as np
import pytest
from sklearn.datasets import load_digits


@pytest.fixture(scope="session")
def digits():
    """Digits pixels scaled to [0, 1] (float64) and labels."""
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="session")
def small_digits(digits):
    X, y = digits
    return X[:300], y[:300]


@pytest.fixture
def fast_params():
    """Parameters that make a fit take well under a second."""
    return dict(hidden_layer_sizes=(32,), max_iter=10, batch_size=32, random_state=0)


@pytest.fixture
def one_torch_thread():
    """Tiny nets train fastest on one thread: on a busy machine torch's OpenMP
    threads wait for a free core at every operation, many times slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def quiet_fit(est, X, y=None):
    """``est.fit(X, y)`` without the warnings of short test fits (max_iter, posterior collapse)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "Posterior collapse")
        return est.fit(X, y)


def assert_same_weights(a, b):
    """Two fitted estimators hold bitwise-identical networks."""
    import torch

    sa, sb = a.net_.state_dict(), b.net_.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def assert_rng_untouched(fn):
    """Run ``fn`` and assert the global numpy and torch RNG states are unchanged."""
    import torch

    np_state = np.random.get_state()
    torch_state = torch.get_rng_state()
    result = fn()
    after = np.random.get_state()
    assert np_state[0] == after[0] and np.array_equal(np_state[1], after[1])
    assert np_state[2:] == after[2:]
    assert torch.equal(torch_state, torch.get_rng_state())
    return result
