"""skae: scikit-learn compatible autoencoder estimators on PyTorch."""

from ._autoencoder import AutoencoderTransformer
from ._impute import AutoencoderImputer
from ._outlier import AutoencoderOutlierDetector
from ._vae import VAEGenerator
from .exceptions import TrainingDivergedError
from .persistence import load_model, save_model

__version__ = "0.1.0"

__all__ = [
    "AutoencoderImputer",
    "AutoencoderOutlierDetector",
    "AutoencoderTransformer",
    "TrainingDivergedError",
    "VAEGenerator",
    "__version__",
    "load_model",
    "save_model",
]
