"""Exceptions raised by skae."""


class TrainingDivergedError(ValueError, ArithmeticError):
    """The training loss became NaN or infinite.

    A subclass of ``ValueError`` (scikit-learn's convention for failed fits)
    and of ``ArithmeticError``.  The message names the epoch and suggests a
    lower ``learning_rate``.
    """
