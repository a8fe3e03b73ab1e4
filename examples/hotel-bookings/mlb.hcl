# Hotel-bookings cancellation model: validate the raw CSV, split it into
# features and labels, train a random forest, and evaluate it on a held-out
# split. Data ingestion is decoupled from where the data lives: point
# param.data.train at any CSV with the same columns, e.g.
#   mlb build -p data.train=../../../shared/data/hotel-bookings/train.csv

param "python" {
  type        = string
  default     = "/usr/bin/python3"
  description = "interpreter with pandas and scikit-learn"
}

param "data" {
  type = object({ train = string })
  default = {
    train = "data/train.csv"
  }
  description = "where the raw bookings live"
}

param "n_estimators" {
  type        = number
  default     = 200
  description = "trees in the random forest"
  validation {
    condition     = param.n_estimators >= 1 && floor(param.n_estimators) == param.n_estimators
    error_message = "n_estimators must be a whole number of at least 1."
  }
}

param "max_depth" {
  type        = number
  default     = 15
  description = "maximum depth of a tree"
  validation {
    condition     = param.max_depth >= 1
    error_message = "max_depth must be at least 1."
  }
}

param "test_size" {
  type        = number
  default     = 0.2
  description = "share of rows held out for evaluation"
  validation {
    condition     = param.test_size > 0 && param.test_size < 1
    error_message = "test_size must be between 0 and 1."
  }
}

param "seed" {
  type        = number
  default     = 42
  description = "seed of the split and of the forest"
}

stage "validate" {
  description = "schema and range checks on the raw CSV"
  inputs      = { raw = param.data.train, code = "stages/validate.py" }
  outputs     = { clean = "build/clean.csv" }
  command     = [param.python, inputs.code, "--in", inputs.raw, "--out", outputs.clean]
}

stage "featurize" {
  description = "drop id and the target; stratified train/test split"
  inputs      = { clean = stage.validate.outputs.clean, code = "stages/featurize.py" }
  outputs     = { features = "build/features" }
  command = [param.python, inputs.code, "--in", inputs.clean, "--out", outputs.features,
  "--test-size", param.test_size, "--seed", param.seed]
}

stage "train" {
  description = "random forest with a fixed seed"
  inputs      = { features = stage.featurize.outputs.features, code = "stages/train.py" }
  outputs     = { model = "build/model.pkl" }
  command = [param.python, inputs.code, "--features", inputs.features, "--model", outputs.model,
    "--n-estimators", param.n_estimators, "--max-depth", param.max_depth,
  "--seed", param.seed, "--jobs", "2"]
}

stage "evaluate" {
  description = "ROC AUC and confusion matrix on the held-out split"
  inputs = {
    features = stage.featurize.outputs.features
    model    = stage.train.outputs.model
    code     = "stages/evaluate.py"
  }
  outputs = { metrics = "build/metrics.json" }
  metrics = outputs.metrics
  command = [param.python, inputs.code, "--features", inputs.features, "--model", inputs.model,
  "--out", outputs.metrics]
}
