"""Score a pickled hotel-bookings classifier on the test split and write metrics.json.

metrics.json contains the ROC AUC of the predicted probability of class 1
(cancelled) and the confusion matrix counts of the predicted classes, where
class 1 is the positive class.
"""

import argparse
import json
import os
import pickle
import sys

import pandas as pd
from sklearn.metrics import confusion_matrix, roc_auc_score

PROG = "evaluate"
POSITIVE_CLASS = 1
AUC_DECIMALS = 6


def fail(message):
    print(f"{PROG}: {message}", file=sys.stderr)
    sys.exit(1)


def parse_args():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Compute the ROC AUC and the confusion matrix of a pickled classifier "
        "on X_test.csv and y_test.csv.",
    )
    parser.add_argument("--features", required=True, metavar="DIR",
                        help="folder written by featurize.py, with X_test.csv and y_test.csv")
    parser.add_argument("--model", required=True, metavar="MODEL.pkl", help="model pickled by train.py")
    parser.add_argument("--out", required=True, metavar="metrics.json",
                        help="JSON file for the keys auc, tp, fp, tn and fn; its folder is created if missing")
    return parser.parse_args()


def read_csv(path):
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        fail(f"{path}: file not found; run featurize.py first and pass its --out folder to --features")
    except pd.errors.EmptyDataError:
        fail(f"{path}: file is empty; run featurize.py again")
    except pd.errors.ParserError as error:
        fail(f"{path}: invalid CSV: {str(error).strip()}; run featurize.py again")


def load_model(path):
    # pickle runs code from the file, so MODEL.pkl must come from train.py.
    try:
        with open(path, "rb") as model_file:
            model = pickle.load(model_file)
    except FileNotFoundError:
        fail(f"{path}: file not found; run train.py first and pass its --model file to --model")
    # A file that is not a pickle can raise any of these, depending on its bytes.
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, KeyError, TypeError,
            ValueError) as error:
        fail(f"{path}: cannot unpickle the model: {error}; run train.py again with this scikit-learn version")
    if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
        fail(f"{path}: contains a {type(model).__name__}, expected a fitted classifier; "
             "pass the --model file written by train.py")
    return model


def main():
    args = parse_args()
    features_path = os.path.join(args.features, "X_test.csv")
    labels_path = os.path.join(args.features, "y_test.csv")
    features = read_csv(features_path)
    labels_table = read_csv(labels_path)
    model = load_model(args.model)

    if labels_table.shape[1] != 1:
        fail(f"{labels_path}: has {labels_table.shape[1]} columns, expected 1 label column; "
             "run featurize.py again")
    labels = labels_table.iloc[:, 0]
    if len(features) != len(labels):
        fail(f"{features_path} has {len(features)} rows but {labels_path} has {len(labels)}; "
             "run featurize.py again so that both come from the same split")

    expected_columns = list(getattr(model, "feature_names_in_", features.columns))
    if list(features.columns) != expected_columns:
        fail(f"{features_path}: columns {','.join(features.columns)} differ from the columns the model "
             f"was trained on, {','.join(expected_columns)}; run featurize.py and train.py on the same data")

    classes = list(model.classes_)
    if POSITIVE_CLASS not in classes:
        fail(f"{args.model}: the model was trained on the classes {classes} only, expected class {POSITIVE_CLASS}; "
             "train it on rows of both classes")
    present = sorted(labels.unique().tolist())
    if present != [0, 1]:
        fail(f"{labels_path}: labels {present} found, expected both 0 and 1 to compute the ROC AUC; "
             "split more rows into the test set")

    probability = model.predict_proba(features)[:, classes.index(POSITIVE_CLASS)]
    predicted = model.predict(features)
    tn, fp, fn, tp = confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    metrics = {
        "auc": round(float(roc_auc_score(labels, probability)), AUC_DECIMALS),
        "tp": int(tp),
        "fp": int(fp),
        "tn": int(tn),
        "fn": int(fn),
    }

    try:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as output:
            output.write(json.dumps(metrics, sort_keys=True, indent=2) + "\n")
    except OSError as error:
        fail(f"{args.out}: cannot write the metrics: {error.strerror or error}; check that the folder is writable")

    print(f"{PROG}: auc {metrics['auc']:.{AUC_DECIMALS}f} on {len(labels)} test rows "
          f"(tp {metrics['tp']}, fp {metrics['fp']}, tn {metrics['tn']}, fn {metrics['fn']}); wrote {args.out}")


if __name__ == "__main__":
    main()
