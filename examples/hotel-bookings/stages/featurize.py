"""Split validated hotel bookings into train and test features and labels.

The split is stratified on booking_status with a fixed seed, and floats are
written with repr, so the same input, arguments and scikit-learn version write
byte-identical files.
"""

import argparse
import os
import sys

import pandas as pd
from sklearn.model_selection import train_test_split

PROG = "featurize"
ID_COLUMN = "id"
LABEL_COLUMN = "booking_status"
OUTPUT_FILES = ["X_train.csv", "y_train.csv", "X_test.csv", "y_test.csv"]


def fail(message):
    print(f"{PROG}: {message}", file=sys.stderr)
    sys.exit(1)


def parse_args():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Drop the id, split off the booking_status label and write a "
        "stratified train/test split of a validated hotel-bookings CSV.",
    )
    parser.add_argument("--in", dest="input", required=True, metavar="CLEAN.csv",
                        help="CSV file written by validate.py")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for " + ", ".join(OUTPUT_FILES) + "; created if missing")
    parser.add_argument("--test-size", type=float, default=0.2,
                        help="share of the rows in the test set, between 0 and 1 (default 0.2)")
    parser.add_argument("--seed", type=int, default=42,
                        help="random_state of the split (default 42)")
    args = parser.parse_args()
    if not 0.0 < args.test_size < 1.0:
        fail(f"--test-size {args.test_size} is invalid; pass a share between 0 and 1, such as 0.2")
    if args.seed < 0:
        fail(f"--seed {args.seed} is invalid; pass a seed >= 0")
    return args


def read_table(path):
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        fail(f"{path}: file not found; run validate.py first and pass its --out file to --in")
    except pd.errors.EmptyDataError:
        fail(f"{path}: file is empty; run validate.py first and pass its --out file to --in")
    except pd.errors.ParserError as error:
        fail(f"{path}: invalid CSV: {str(error).strip()}; run validate.py on the raw file first")

    for name in [ID_COLUMN, LABEL_COLUMN]:
        if name not in table.columns:
            fail(f"{path}: missing column {name}; pass the output of validate.py to --in")
    non_numeric = [name for name in table.columns if not pd.api.types.is_numeric_dtype(table[name])]
    if non_numeric:
        fail(f"{path}: non-numeric column(s) {', '.join(non_numeric)}; "
             "pass the output of validate.py to --in")
    for name in table.columns:
        missing = table[name].isna()
        if missing.any():
            first_row = int(missing.to_numpy().argmax()) + 1
            fail(f"{path} line {first_row + 1} (row {first_row}): column {name} has a missing value "
                 f"({int(missing.sum())} in all); run validate.py on the raw file first")
    return table


def write_csv(table, path):
    """Write TABLE with repr for floats, the shortest text that reads back as the same value."""
    text = table.copy()
    for name in text.columns:
        if pd.api.types.is_float_dtype(text[name]):
            text[name] = text[name].map(lambda value: repr(float(value)))
    text.to_csv(path, index=False, lineterminator="\n")


def main():
    args = parse_args()
    table = read_table(args.input)

    features = table.drop(columns=[ID_COLUMN, LABEL_COLUMN])
    labels = table[LABEL_COLUMN]
    classes = sorted(labels.unique().tolist())
    if len(classes) < 2:
        fail(f"{args.input}: column {LABEL_COLUMN} has only the value {classes[0]} in all {len(table)} rows; "
             "a classifier needs rows of both classes, so pass more rows")
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            features, labels, test_size=args.test_size, random_state=args.seed, stratify=labels,
        )
    except ValueError as error:
        # train_test_split raises this when a class has fewer than 2 rows or a
        # split would be empty.
        counts = ", ".join(f"{label}: {count}" for label, count in labels.value_counts().sort_index().items())
        fail(f"{args.input}: cannot split {len(table)} rows with --test-size {args.test_size} "
             f"(rows per {LABEL_COLUMN}: {counts}): {str(error).rstrip('.')}; "
             "pass more rows with both labels or change --test-size")

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        fail(f"{args.out}: is a file, expected a folder; pass a folder path to --out")
    try:
        os.makedirs(args.out, exist_ok=True)
        outputs = [X_train, y_train.to_frame(), X_test, y_test.to_frame()]
        for frame, name in zip(outputs, OUTPUT_FILES):
            write_csv(frame, os.path.join(args.out, name))
    except OSError as error:
        fail(f"{args.out}: cannot write the output: {error.strerror or error}; check that the folder is writable")

    print(f"{PROG}: split {len(table)} rows of {args.input} into {len(X_train)} train and "
          f"{len(X_test)} test rows with {features.shape[1]} features "
          f"(stratified on {LABEL_COLUMN}, seed {args.seed}); wrote {args.out}")


if __name__ == "__main__":
    main()
