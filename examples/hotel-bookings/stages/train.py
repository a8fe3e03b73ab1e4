"""Train a random forest on the hotel-bookings train split and pickle it.

Two runs with the same features and arguments write byte-identical pickles,
whatever --jobs is, as long as Python, NumPy and scikit-learn stay the same
(checked with cmp on Python 3.11, NumPy 1.24.2 and scikit-learn 1.2.1).
"""

import argparse
import os
import pickle
import sys

import pandas as pd
from sklearn.ensemble import RandomForestClassifier

PROG = "train"
PICKLE_PROTOCOL = 4


def fail(message):
    print(f"{PROG}: {message}", file=sys.stderr)
    sys.exit(1)


def parse_args():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fit a RandomForestClassifier on X_train.csv and y_train.csv and pickle it.",
    )
    parser.add_argument("--features", required=True, metavar="DIR",
                        help="folder written by featurize.py, with X_train.csv and y_train.csv")
    parser.add_argument("--model", required=True, metavar="OUT.pkl",
                        help="file for the pickled model (pickle protocol 4); its folder is created if missing")
    parser.add_argument("--n-estimators", type=int, default=200, help="number of trees (default 200)")
    parser.add_argument("--max-depth", type=int, default=15, help="maximum depth of a tree (default 15)")
    parser.add_argument("--seed", type=int, default=42, help="random_state of the forest (default 42)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="number of threads that build trees in parallel (default 1)")
    args = parser.parse_args()
    for option, value in [("--n-estimators", args.n_estimators), ("--max-depth", args.max_depth),
                          ("--jobs", args.jobs)]:
        if value < 1:
            fail(f"{option} {value} is invalid; pass an integer >= 1")
    if args.seed < 0:
        fail(f"--seed {args.seed} is invalid; pass a seed >= 0")
    return args


def read_csv(path):
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        fail(f"{path}: file not found; run featurize.py first and pass its --out folder to --features")
    except pd.errors.EmptyDataError:
        fail(f"{path}: file is empty; run featurize.py again")
    except pd.errors.ParserError as error:
        fail(f"{path}: invalid CSV: {str(error).strip()}; run featurize.py again")


def read_split(folder):
    """Read X_train.csv and y_train.csv from FOLDER and return the features and the label column."""
    features_path = os.path.join(folder, "X_train.csv")
    labels_path = os.path.join(folder, "y_train.csv")
    features = read_csv(features_path)
    labels = read_csv(labels_path)

    if labels.shape[1] != 1:
        fail(f"{labels_path}: has {labels.shape[1]} columns, expected 1 label column; run featurize.py again")
    if len(features) != len(labels):
        fail(f"{features_path} has {len(features)} rows but {labels_path} has {len(labels)}; "
             "run featurize.py again so that both come from the same split")
    for path, table in [(features_path, features), (labels_path, labels)]:
        for name in table.columns:
            if not pd.api.types.is_numeric_dtype(table[name]):
                fail(f"{path}: column {name} is not numeric; run validate.py and featurize.py again")
            if table[name].isna().any():
                first_row = int(table[name].isna().to_numpy().argmax()) + 1
                fail(f"{path} line {first_row + 1} (row {first_row}): column {name} has a missing value; "
                     "run validate.py and featurize.py again")
    return features, labels.iloc[:, 0]


def main():
    args = parse_args()
    features, labels = read_split(args.features)

    model = RandomForestClassifier(
        n_estimators=args.n_estimators,
        max_depth=args.max_depth,
        random_state=args.seed,
        n_jobs=args.jobs,
    )
    model.fit(features, labels)
    # The trees do not depend on n_jobs because the forest draws every tree's
    # seed from random_state before building. Clearing it keeps the thread count
    # out of the pickle, so that --jobs 1 and --jobs 2 write the same bytes.
    model.n_jobs = None

    try:
        os.makedirs(os.path.dirname(args.model) or ".", exist_ok=True)
        with open(args.model, "wb") as output:
            pickle.dump(model, output, protocol=PICKLE_PROTOCOL)
    except OSError as error:
        fail(f"{args.model}: cannot write the model: {error.strerror or error}; check that the folder is writable")

    size_mb = os.path.getsize(args.model) / 1e6
    print(f"{PROG}: fitted {args.n_estimators} trees (max depth {args.max_depth}, seed {args.seed}, "
          f"--jobs {args.jobs}) on {len(features)} rows x {features.shape[1]} features; "
          f"wrote {args.model} ({size_mb:.1f} MB)")


if __name__ == "__main__":
    main()
