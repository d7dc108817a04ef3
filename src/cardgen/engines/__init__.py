"""Where a model runs: engines turn (model, data) into predictions and compute no metrics.

The local engine is the model's own batching (``cardgen.models``); ``spark`` runs the same
model on Spark executors. Nothing outside ``engines.spark`` imports pyspark.
"""
