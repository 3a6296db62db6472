"""skae: scikit-learn compatible autoencoder estimators on PyTorch."""

__version__ = "0.1.0"
