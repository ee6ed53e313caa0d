"""The cost model: which candidates are worth their trial, learned from past trials.

``features`` describes a function numerically; ``records`` holds the training data (the shipped
corpus trials and this machine's history); ``costmodel`` fits scikit-learn forests predicting,
per candidate, P(compiles and agrees), speedup and cost; ``search`` orders candidates and
decides when to stop; ``guide`` is what ``hotpath.tuning`` calls; ``train`` retrains and reports.
"""

from hotpath.model.costmodel import CostModel, Prediction, fit
from hotpath.model.features import FunctionFeatures, features_of

__all__ = ["CostModel", "Prediction", "FunctionFeatures", "features_of", "fit"]
