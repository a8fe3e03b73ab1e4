"""Check the schema and value ranges of a hotel-bookings CSV and write the typed rows.

Every cell is read as a string and checked here, so that a bad cell is reported
with its file line, data row, column and value instead of a pandas traceback.
"""

import argparse
import math
import os
import re
import sys

import pandas as pd

PROG = "validate"

# The order in which CLEAN.csv lists the columns. RAW.csv may list them in any order.
COLUMNS = [
    "id",
    "no_of_adults",
    "no_of_children",
    "no_of_weekend_nights",
    "no_of_week_nights",
    "type_of_meal_plan",
    "required_car_parking_space",
    "room_type_reserved",
    "lead_time",
    "arrival_year",
    "arrival_month",
    "arrival_date",
    "market_segment_type",
    "repeated_guest",
    "no_of_previous_cancellations",
    "no_of_previous_bookings_not_canceled",
    "avg_price_per_room",
    "no_of_special_requests",
    "booking_status",
]
FLOAT_COLUMNS = {"avg_price_per_room"}

MAXIMUM = {
    "no_of_adults": 4,
    "type_of_meal_plan": 3,
    "required_car_parking_space": 1,
    "booking_status": 1,
}
# Columns without an entry in MAXIMUM are limited to 2**53, the largest range in
# which every integer converts to float64 exactly. to_numeric returns float64 for
# integers that do not fit int64, so larger values could not be compared reliably.
INTEGER_LIMIT = 2**53

MAX_REPORTED = 10
MAX_SHOWN_CHARS = 40

INTEGER_PATTERN = re.compile(r"[+-]?\d+")
FLOAT_PATTERN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

# The strings that read_csv treats as NA by default in pandas 2.0 (pandas 1.5 lacks
# "None"), so that "NA", "null" or "NaN" count as missing values like an empty cell.
NULL_STRINGS = {
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
    "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
    "nan", "null",
}


def fail(message):
    print(f"{PROG}: {message}", file=sys.stderr)
    sys.exit(1)


def parse_args():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Check the columns and value ranges of a hotel-bookings CSV "
        "and write the rows with typed values.",
    )
    parser.add_argument("--in", dest="input", required=True, metavar="RAW.csv",
                        help="CSV file to check, with a header line")
    parser.add_argument("--out", required=True, metavar="CLEAN.csv",
                        help="CSV file to write when every check passes; its folder is created if missing")
    return parser.parse_args()


def read_cells(path):
    """Read every cell of PATH as a string without surrounding spaces, with the header as row 0."""
    try:
        table = pd.read_csv(
            path,
            header=None,
            dtype=str,
            na_filter=False,
            # A blank line becomes a row of empty cells, so that it is reported
            # and the line numbers of the rows after it stay right.
            skip_blank_lines=False,
        )
    except FileNotFoundError:
        fail(f"{path}: file not found; pass an existing CSV file to --in")
    except IsADirectoryError:
        fail(f"{path}: is a folder; pass a CSV file to --in")
    except pd.errors.EmptyDataError:
        fail(f"{path}: file is empty; expected a header line and data rows")
    except pd.errors.ParserError as error:
        # pandas' message names the line and the field counts, for example
        # "Expected 19 fields in line 5, saw 20".
        fail(f"{path}: invalid CSV: {str(error).strip()}; every line needs one value per header column")
    except UnicodeDecodeError as error:
        fail(f"{path}: invalid UTF-8 at byte {error.start}; save the file as UTF-8 text")
    return table.apply(lambda column: column.str.strip())


def line_numbers(cells):
    """Return the file line number of every row of CELLS, as a list indexed by row position.

    A quoted cell may contain line breaks, so each row starts after all the line
    breaks in the rows before it.
    """
    breaks = cells.apply(lambda column: column.str.count("\n")).sum(axis=1).tolist()
    numbers = []
    line = 1
    for count in breaks:
        numbers.append(line)
        line += 1 + count
    return numbers


def check_header(path, header):
    duplicates = sorted({name for name in header if header.count(name) > 1})
    missing = [name for name in COLUMNS if name not in header]
    extra = [name for name in header if name not in COLUMNS]
    problems = []
    if missing:
        problems.append("missing column(s) " + ", ".join(missing))
    if extra:
        problems.append("unexpected column(s) " + ", ".join(repr(name) for name in extra))
    if duplicates:
        problems.append("duplicate column(s) " + ", ".join(duplicates))
    if problems:
        fail(f"{path} line 1: {'; '.join(problems)}; "
             f"the header must list exactly these {len(COLUMNS)} columns: {','.join(COLUMNS)}")


def describe(value):
    """Show a cell value as it reads in the file, quoting anything that is not a plain number."""
    if value == "":
        return "(empty)"
    if len(value) > MAX_SHOWN_CHARS:
        return repr(value[:MAX_SHOWN_CHARS]) + f"... ({len(value)} characters)"
    if FLOAT_PATTERN.fullmatch(value):
        return value
    return repr(value)


def find_blank_rows(data):
    is_blank = (data == "").all(axis=1)
    return [(index, -1, "blank line; delete it") for index in data.index[is_blank.to_numpy()]]


def find_cell_violations(data):
    """Return (row, column position, message) for every invalid cell.

    Each cell gets at most one violation: the first check that it fails.
    """
    violations = []
    for position, name in enumerate(COLUMNS):
        values = data[name]
        is_float = name in FLOAT_COLUMNS
        expected_type = "a number" if is_float else "an integer"
        pattern = FLOAT_PATTERN if is_float else INTEGER_PATTERN

        is_null = values.isin(NULL_STRINGS)
        is_malformed = ~is_null & ~values.str.fullmatch(pattern.pattern)
        numbers = pd.to_numeric(values.where(~is_null & ~is_malformed), errors="coerce")
        is_negative = numbers < 0

        # to_numeric returns NaN for a well-formed number that overflows float64, such as 1e400.
        is_overflow = ~is_null & ~is_malformed & (numbers.isna() | (numbers.abs() == math.inf))

        if name in MAXIMUM:
            maximum = MAXIMUM[name]
            too_large = "expected 0 or 1" if name == "booking_status" else f"expected <= {maximum}"
        elif is_float:
            maximum = math.inf
            too_large = "expected a finite number"
        else:
            maximum = INTEGER_LIMIT
            too_large = f"expected <= {INTEGER_LIMIT}"
        is_too_large = is_overflow | (numbers > maximum)

        checks = [
            (is_null, f"expected {expected_type}, found a missing value"),
            (is_malformed, f"expected {expected_type}"),
            (is_negative, "expected >= 0"),
            (is_too_large, too_large),
        ]
        for mask, expectation in checks:
            for index in values.index[mask.to_numpy()]:
                message = f"column {name} = {describe(values[index])}, {expectation}"
                violations.append((index, position, message))
    return violations


def find_duplicate_ids(data):
    """Return a violation for every row whose id already appeared in an earlier row."""
    ids = data["id"]
    first_row = {}
    violations = []
    position = COLUMNS.index("id")
    for index, value in ids.items():
        if value in NULL_STRINGS:
            continue
        if value in first_row:
            violations.append((index, position,
                               f"column id = {describe(value)}, expected a unique id, "
                               f"but row {first_row[value]} has it too"))
        else:
            first_row[value] = index
    return violations


def report(path, data, lines, violations):
    violations.sort(key=lambda violation: (violation[0], violation[1]))
    for index, _, message in violations[:MAX_REPORTED]:
        where = f"row {index}"
        if data.at[index, "id"].isdigit():
            where += f", id {data.at[index, 'id']}"
        print(f"{PROG}: {path} line {lines[index]} ({where}): {message}", file=sys.stderr)

    listed_count = min(len(violations), MAX_REPORTED)
    row_count = len({violation[0] for violation in violations})
    fail(f"{path}: {len(violations)} invalid value(s) in {row_count} row(s), first {listed_count} listed above; "
         "fix them and rerun")


def to_typed(data):
    typed = pd.DataFrame(index=data.index)
    for name in COLUMNS:
        typed[name] = data[name].astype("float64" if name in FLOAT_COLUMNS else "int64")
    return typed


def main():
    args = parse_args()
    cells = read_cells(args.input)
    lines = line_numbers(cells)

    header = list(cells.iloc[0])
    check_header(args.input, header)

    # Data rows keep their position in CELLS as row label, so that data row N
    # has label N because the header is row 0.
    data = cells.iloc[1:].copy()
    data.columns = header
    data = data[COLUMNS]
    if data.empty:
        fail(f"{args.input}: no data rows after the header line; expected at least one booking")

    blank_rows = find_blank_rows(data)
    filled = data.drop(index=[row for row, _, _ in blank_rows])
    violations = blank_rows + find_cell_violations(filled) + find_duplicate_ids(filled)
    if violations:
        report(args.input, data, lines, violations)

    typed = to_typed(data)
    # repr gives the shortest text that reads back as the same float, so the
    # output does not depend on pandas' float formatting.
    typed["avg_price_per_room"] = typed["avg_price_per_room"].map(lambda price: repr(float(price)))
    try:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        typed.to_csv(args.out, index=False, lineterminator="\n")
    except OSError as error:
        fail(f"{args.out}: cannot write the output: {error.strerror or error}; "
             "check that the folder is writable")

    print(f"{PROG}: {len(typed)} rows x {len(COLUMNS)} columns valid in {args.input}; wrote {args.out}")


if __name__ == "__main__":
    main()
