"""ONNX export of fitted skae estimators, alone or inside scikit-learn pipelines.

Importing this module registers a shape calculator and a converter for
:class:`~skae.AutoencoderTransformer` and :class:`~skae.VAEGenerator` with
skl2onnx (its ``update_registered_converter`` route for custom estimators),
so that ``skl2onnx.to_onnx`` converts them on their own or as one step of a
:class:`~sklearn.pipeline.Pipeline`::

    import skl2onnx
    import skae.onnx  # noqa: F401  (registers the converters)

    pipe = make_pipeline(StandardScaler(), AutoencoderTransformer(), LogisticRegression())
    onx = skl2onnx.to_onnx(pipe.fit(X, y), X[:1])

A fitted :class:`~skae.AutoencoderOutlierDetector` around an
:class:`~skae.AutoencoderTransformer` converts too, with the two outputs of
scikit-learn's outlier detectors in skl2onnx: ``label`` (``predict``, +1 or
-1, int64) and ``scores`` (``decision_function``, one column); its
threshold ``offset_`` and the statistics of its score are constants of the
graph.  Around a :class:`~skae.VAEGenerator` it cannot be converted: the
VAE's likelihood is importance-sampled with noise seeded by each row's
content, which ONNX cannot compute.

The converted estimator step computes ``transform``: the fitted network's encoder,
with the estimator's internal standardisation (``(x - mean) / scale``, the
network's fitted buffers) and, for convolutional nets, the reshape of rows to
``(N, C, H, W)``, inside the graph; missing values (NaN) as ``transform``
reads them (0 after the standardisation, and, for a model whose encoder
reads the missing-value mask, the mask computed in the graph by ``IsNaN``
and fed beside the values); the posterior mean for a
:class:`~skae.VAEGenerator`; the first ``n_components_`` columns for ordered
codes.  The network is exported by
``torch.onnx.export`` (the ``torch.export``-based exporter, at the opset the
conversion targets) with a dynamic batch axis and spliced into the skl2onnx
graph.  The network computes in float32 as in ``transform``; float64 inputs
are cast to float32 on the way in and the codes back to float64 on the way
out.

Needs the ``onnx`` extra: ``pip install skae[onnx]`` (onnx, onnxscript,
skl2onnx, and onnxruntime to run the exported models).
"""

import copy
import logging
import warnings

try:
    import onnxscript  # torch.onnx's exporter needs it
    import skl2onnx
    from onnx import TensorProto, helper, numpy_helper
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType
    from skl2onnx.common.utils import check_input_and_output_numbers
except ImportError as exc:  # pragma: no cover - exercised by monkeypatching imports
    raise ImportError(
        f"skae.onnx needs the optional dependency {exc.name!r}, which is not installed. "
        "Install the ONNX extra with `pip install skae[onnx]` (onnx, onnxscript, "
        "skl2onnx and onnxruntime)."
    ) from exc

import torch
from sklearn.utils.validation import check_is_fitted

from ._autoencoder import AutoencoderTransformer
from ._outlier import AutoencoderOutlierDetector
from ._outlier_scores import ReconstructionScorer
from ._vae import VAEGenerator

__all__ = ["register_converters"]

_ALIASES = {
    AutoencoderTransformer: "SkaeAutoencoderTransformer",
    VAEGenerator: "SkaeVAEGenerator",
    AutoencoderOutlierDetector: "SkaeAutoencoderOutlierDetector",
}
# torch.onnx's registry logs one line per missing torchvision operator.
_NOISY_LOGGER = "torch.onnx._internal.exporter._registration"


class _Encoder(torch.nn.Module):
    """``transform`` as a module: the first ``n_components`` columns of ``net.encode``."""

    def __init__(self, net, n_components):
        super().__init__()
        self.net = net
        self.n_components = n_components

    def forward(self, x):
        # the input shift is applied in float32 here (in float64 by transform)
        return self.net.encode(x - self.net.input_shift.to(x.dtype))[:, : self.n_components]


def _export_encoder(estimator, opset=None):
    """The estimator's ``transform`` as an ONNX model (float32 in and out).

    Parameters
    ----------
    estimator : AutoencoderTransformer or VAEGenerator
        A fitted estimator.
    opset : int or None, default=None
        Opset of the default ONNX domain; None lets torch choose.

    Returns
    -------
    model : onnx.ModelProto
        One input ``X`` of shape ``(batch, n_features_in_)``, one output of
        shape ``(batch, n_components_)``; ``batch`` is dynamic.
    """
    net = copy.deepcopy(estimator.net_).to("cpu").float().eval()
    module = _Encoder(net, estimator.n_components_).eval()
    return _export_module(module, estimator.n_features_in_, "codes", estimator, opset)


def _export_module(module, n_features, output_name, estimator, opset=None):
    """``module`` (float32 rows in, one tensor out) as an ONNX model with a dynamic batch."""
    # A batch of 2, not 1: torch.export specialises dimensions of size 0 and 1.
    example = torch.zeros(2, n_features)
    kwargs = {} if opset is None else {"opset_version": int(opset)}
    logger = logging.getLogger(_NOISY_LOGGER)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # Deprecation notices from torch.export internals and the note that
            # opsets below 18 go through onnx's version converter.
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                input_names=["X"],
                output_names=[output_name],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                verbose=False,
                **kwargs,
            )
    except ImportError as exc:  # e.g. an onnxscript older than this torch's exporter
        raise ImportError(
            f"torch.onnx.export (torch {torch.__version__}) failed to import {exc.name!r} "
            f"({exc}); the installed onnxscript {onnxscript.__version__} may be too old "
            "for this torch: upgrade it with `pip install -U onnxscript`."
        ) from exc
    except Exception as exc:
        raise RuntimeError(
            f"torch.onnx.export could not export the network of {type(estimator).__name__} "
            f"({type(exc).__name__}: {exc}). A custom encoder must be traceable by "
            "torch.export (no data-dependent Python control flow)."
        ) from exc
    finally:
        logger.setLevel(level)
    model = program.model_proto
    if model.functions:
        raise RuntimeError(
            "torch.onnx.export left local functions "
            f"{[f.name for f in model.functions]} in the model; skae.onnx splices plain "
            "graphs only."
        )
    return model


def _domain_versions(model):
    versions = {imp.domain: imp.version for imp in model.opset_import}
    versions.setdefault("", versions.get("ai.onnx", None))
    return versions


def _input_type(operator):
    """The input's tensor type, which must be float or double."""
    in_type = operator.inputs[0].type
    if not isinstance(in_type, (FloatTensorType, DoubleTensorType)):
        raise TypeError(
            f"{type(operator.raw_operator).__name__} converts float or double tensors, got "
            f"{type(in_type).__name__}."
        )
    return in_type


def _shape_calculator(operator):
    """Output of the skae step: the input's tensor type, ``(batch, n_components_)``."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    estimator = operator.raw_operator
    check_is_fitted(estimator)
    in_type = _input_type(operator)
    shape = in_type.shape
    if len(shape) == 2 and isinstance(shape[1], int) and shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    batch = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = type(in_type)([batch, estimator.n_components_])


def _converter(scope, operator, container):
    """Splice the exported encoder into the skl2onnx graph, casting float64 around it."""
    estimator = operator.raw_operator
    model = _export_encoder(estimator, container.target_opset)
    _splice(scope, container, model, estimator, operator.inputs[0], operator.outputs[0].full_name)


def _splice(scope, container, model, estimator, x_var, out_name):
    """Add ``model``'s graph to the skl2onnx graph, from ``x_var`` to ``out_name``.

    A float64 input is cast to float32 on the way in and the output back to
    float64 on the way out.
    """
    graph = model.graph
    versions = _domain_versions(model)
    target = container.target_opset
    if target is not None and versions[""] > target:
        raise ValueError(
            f"target_opset={target} is below the opset {versions['']} that torch.onnx "
            f"could export the network of {type(estimator).__name__} at; use "
            "target_opset >= 15 (or None, the latest)."
        )
    x_name = x_var.full_name
    double = isinstance(x_var.type, DoubleTensorType)
    cast_version = versions[""]
    if double:
        x32 = scope.get_unique_variable_name("skae_X32")
        container.add_node("Cast", [x_name], [x32], op_version=cast_version,
                           name=scope.get_unique_operator_name("SkaeCastIn"),
                           to=TensorProto.FLOAT)
        x_name = x32
    result = scope.get_unique_variable_name("skae_out32") if double else out_name

    names = {graph.input[0].name: x_name, graph.output[0].name: result, "": ""}

    def rename(name):
        if name not in names:
            names[name] = scope.get_unique_variable_name("skae_" + name.replace(".", "_"))
        return names[name]

    for init in graph.initializer:
        tensor = numpy_helper.from_array(numpy_helper.to_array(init))
        container.add_initializer(rename(init.name), init.data_type, list(init.dims), tensor)
    for node in graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise RuntimeError(
                f"torch.onnx.export produced a {node.op_type!r} node of domain "
                f"{node.domain!r}; skae.onnx splices the default ONNX domain only."
            )
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(
            node.op_type,
            [rename(i) for i in node.input],
            [rename(o) for o in node.output],
            op_version=versions[""],
            name=scope.get_unique_operator_name("Skae" + node.op_type),
            **attrs,
        )
    if double:
        container.add_node("Cast", [result], [out_name], op_version=cast_version,
                           name=scope.get_unique_operator_name("SkaeCastOut"),
                           to=TensorProto.DOUBLE)


class _Decision(torch.nn.Module):
    """``decision_function`` of a detector around an autoencoder, as a module.

    The float32 counterpart of :class:`skae._outlier_scores.ReconstructionScorer`:
    ``-max(SPE / spe_limit, T2 / t2_limit) - offset_``, one column.
    """

    def __init__(self, detector):
        super().__init__()
        est, scorer = detector.estimator_, detector._scorer
        self.net = copy.deepcopy(est.net_).to("cpu").float().eval()
        self.k, self.width = est.n_components_, est._spec.n_components
        self.register_buffer("code_mean", torch.as_tensor(scorer.code_mean, dtype=torch.float32))
        self.register_buffer("precision",
                             torch.as_tensor(scorer.code_precision, dtype=torch.float32))
        self.spe_limit, self.t2_limit = scorer.spe_limit, scorer.t2_limit
        self.use_code = scorer.use_code
        self.offset = detector.offset_

    def forward(self, x):
        x = x - self.net.input_shift.to(x.dtype)  # in float32 here, in float64 by the scorer
        code = self.net.encode(x)
        prefix = code[:, : self.k]
        if self.k < self.width:  # an ordered code's trailing components are zero
            code = torch.cat([prefix, code.new_zeros(code.shape[0], self.width - self.k)], 1)
        spe = ((self.net.decode(code) - x) / self.net.scale).square().sum(1)
        centred = prefix - self.code_mean
        t2 = ((centred @ self.precision) * centred).sum(1)
        if self.use_code:
            score = -torch.maximum(spe / self.spe_limit, t2 / self.t2_limit)
        else:
            score = -spe / self.spe_limit
        return (score - self.offset).unsqueeze(1)


def _check_exportable(detector):
    check_is_fitted(detector)
    if not isinstance(detector._scorer, ReconstructionScorer):
        raise NotImplementedError(
            f"{type(detector).__name__} around a {type(detector.estimator_).__name__} cannot "
            "be converted to ONNX: its score is an importance-sampled log-likelihood whose "
            "noise is seeded by each row's content. Wrap an AutoencoderTransformer to export "
            "decision_function and predict."
        )


def _detector_shape_calculator(operator):
    """Outputs of the detector: ``label`` (int64, +1/-1) and ``scores`` (decision_function)."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    detector = operator.raw_operator
    _check_exportable(detector)
    in_type = _input_type(operator)
    batch = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = Int64TensorType([batch])
    operator.outputs[1].type = type(in_type)([batch, 1])


def _detector_converter(scope, operator, container):
    """``scores = decision_function(X)``, ``label = -1 where scores < 0 else +1``."""
    detector = operator.raw_operator
    module = _Decision(detector).eval()
    model = _export_module(module, detector.n_features_in_, "scores", detector.estimator_,
                           container.target_opset)
    label_name, scores_name = (out.full_name for out in operator.outputs)
    _splice(scope, container, model, detector.estimator_, operator.inputs[0], scores_name)
    version = _domain_versions(model)[""]
    flat = scope.get_unique_variable_name("skae_decision")
    shape = scope.get_unique_variable_name("skae_flat_shape")
    container.add_initializer(shape, TensorProto.INT64, [1], [-1])
    container.add_node("Reshape", [scores_name, shape], [flat], op_version=version,
                       name=scope.get_unique_operator_name("SkaeFlatten"))
    zero = scope.get_unique_variable_name("skae_zero")
    dtype = (TensorProto.DOUBLE if isinstance(operator.inputs[0].type, DoubleTensorType)
             else TensorProto.FLOAT)
    container.add_initializer(zero, dtype, [], [0.0])
    outlier = scope.get_unique_variable_name("skae_is_outlier")
    container.add_node("Less", [flat, zero], [outlier], op_version=version,
                       name=scope.get_unique_operator_name("SkaeLess"))
    minus, plus = (scope.get_unique_variable_name(n) for n in ("skae_minus_one", "skae_one"))
    container.add_initializer(minus, TensorProto.INT64, [], [-1])
    container.add_initializer(plus, TensorProto.INT64, [], [1])
    container.add_node("Where", [outlier, minus, plus], [label_name], op_version=version,
                       name=scope.get_unique_operator_name("SkaeWhere"))


def register_converters(*classes):
    """Register skae's shape calculator and converter with skl2onnx.

    Called on ``import skae.onnx`` for :class:`~skae.AutoencoderTransformer`,
    :class:`~skae.VAEGenerator` and :class:`~skae.AutoencoderOutlierDetector`;
    call it for subclasses of them (skl2onnx looks converters up by the exact
    class).

    Parameters
    ----------
    *classes : type
        Estimator classes to register; none registers the three skae estimators.
        Registering a class again replaces its registration.

    Returns
    -------
    aliases : dict
        The skl2onnx alias each class was registered under.
    """
    classes = classes or tuple(_ALIASES)
    registered = {}
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, tuple(_ALIASES))):
            raise TypeError(
                f"register_converters expects subclasses of AutoencoderTransformer, "
                f"VAEGenerator or AutoencoderOutlierDetector, got {cls!r}."
            )
        alias = _ALIASES.get(cls, f"Skae{cls.__module__}.{cls.__qualname__}")
        if issubclass(cls, AutoencoderOutlierDetector):
            shape_calculator, converter = _detector_shape_calculator, _detector_converter
        else:
            shape_calculator, converter = _shape_calculator, _converter
        skl2onnx.update_registered_converter(cls, alias, shape_calculator, converter)
        registered[cls] = alias
    return registered


register_converters()
