#!/usr/bin/env bash
# Measures the remote cache on the hotel-bookings example: a cold build
# that runs every stage and uploads its results, against warm builds in
# fresh clones with empty local caches that download from the remote,
# with --download=minimal and with --download=all. It prints a Markdown
# table of wall times (median of ROUNDS, with min and max) and of the
# bytes each build transferred.
#
# Usage, from the repository root:
#
#	scripts/bench-remote.sh [ROUNDS]
#
# It needs /usr/bin/python3 with pandas and scikit-learn (make deps) and,
# for the S3 rows, versitygw on PATH or in $(go env GOPATH)/bin. Every
# server it starts listens on 127.0.0.1 and is stopped at exit.
set -euo pipefail

rounds=${1:-3}
repo=$(pwd)
work=$(mktemp -d)
vgw_pid=
cleanup() {
	if [ -n "$vgw_pid" ]; then kill "$vgw_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/mlb" ./cmd/mlb
mlb=$work/mlb

# A fresh clone of the example: its sources, without state or outputs.
clone() {
	mkdir -p "$1"
	(cd "$repo/examples/hotel-bookings" && tar --exclude=./.mlb --exclude=./build -cf - .) | (cd "$1" && tar -xf -)
}

now_ms() { date +%s%3N; }

# run_build DIR ARGS...: builds in DIR, prints "MILLISECONDS EXECUTED
# DOWN_BYTES DOWN_WIRE UP_BYTES UP_WIRE" from the summary lines.
run_build() {
	local dir=$1
	shift
	local start end out
	start=$(now_ms)
	out=$(cd "$dir" && "$mlb" build --progress=plain "$@")
	end=$(now_ms)
	local executed down down_wire up up_wire
	executed=$(sed -n 's/^run [0-9a-f]*: \([0-9]*\) executed.*/\1/p' <<<"$out")
	down=$(sed -n 's/.*downloaded [0-9]* blobs*, \([0-9]*\) bytes (\([0-9]*\) compressed).*/\1/p' <<<"$out")
	down_wire=$(sed -n 's/.*downloaded [0-9]* blobs*, [0-9]* bytes (\([0-9]*\) compressed).*/\1/p' <<<"$out")
	up=$(sed -n 's/.*uploaded [0-9]* blobs*, \([0-9]*\) bytes.*/\1/p' <<<"$out")
	up_wire=$(sed -n 's/.*uploaded [0-9]* blobs*, [0-9]* bytes (\([0-9]*\) compressed).*/\1/p' <<<"$out")
	echo "$((end - start)) $executed ${down:-0} ${down_wire:-0} ${up:-0} ${up_wire:-0}"
}

# stats FILE: "median (min–max)" of the first column, in seconds.
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.2f s (%.2f–%.2f)", m / 1000, v[1] / 1000, v[NR] / 1000 }'
}

# bench NAME URL_FOR: ROUNDS rounds of a cold build without a remote, a
# cold build with one, and warm builds with --download=minimal and all.
# Each round gets an empty remote from the function URL_FOR ROUND, which
# prints its URL.
bench() {
	local name=$1 url_for=$2
	: >"$work/local"
	: >"$work/cold"
	: >"$work/minimal"
	: >"$work/all"
	for i in $(seq "$rounds"); do
		local r=$work/$name-$i url
		url=$("$url_for" "$i")
		clone "$r/local"
		run_build "$r/local" >>"$work/local"
		clone "$r/a"
		run_build "$r/a" --remote "$url" >>"$work/cold"
		clone "$r/b"
		run_build "$r/b" --remote "$url" >>"$work/minimal"
		clone "$r/c"
		run_build "$r/c" --remote "$url" --download=all >>"$work/all"
	done
	if awk '$2 != 0 { exit 1 }' "$work/minimal" "$work/all"; then :; else
		echo "bench-remote: a warm build executed stages" >&2
		exit 1
	fi

	# Counts are the same every round; the first round's are shown.
	local le ce cu cuw me md mdw ae ad adw
	read -r _ le _ _ _ _ <"$work/local"
	read -r _ ce _ _ cu cuw <"$work/cold"
	read -r _ me md mdw _ _ <"$work/minimal"
	read -r _ ae ad adw _ _ <"$work/all"
	echo "| $name | cold, no remote | $(stats "$work/local") | $le | – | – |"
	echo "| $name | cold, uploading | $(stats "$work/cold") | $ce | – | $cu ($cuw compressed) |"
	echo "| $name | warm, --download=minimal | $(stats "$work/minimal") | $me | $md ($mdw compressed) | – |"
	echo "| $name | warm, --download=all | $(stats "$work/all") | $ae | $ad ($adw compressed) | – |"
}

file_url() { echo "file://$work/file-remote-$1"; }

# The S3 server: versitygw with its POSIX backend on a free port. Each
# sub-folder of its root is a bucket; each round gets a new one.
export AWS_ACCESS_KEY_ID=benchaccess AWS_SECRET_ACCESS_KEY=benchsecret123 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
s3_url() {
	mkdir -p "$work/s3root/bench-$1"
	echo "s3://bench-$1/team?endpoint=http://127.0.0.1:$port&use_path_style=true&region=us-east-1"
}

echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| remote | build | wall time, median (min–max) | stages executed | downloaded bytes | uploaded bytes |"
echo "| --- | --- | --- | --- | --- | --- |"
bench file file_url
vgw=$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")
if [ -x "$vgw" ]; then
	mkdir -p "$work/s3root"
	ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY VGW_PORT=127.0.0.1:$port \
		VGW_REGION=us-east-1 VGW_HEALTH=/healthz VGW_QUIET=true "$vgw" posix "$work/s3root" >"$work/vgw.log" 2>&1 &
	vgw_pid=$!
	until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done
	bench "s3 (versitygw)" s3_url
else
	echo "bench-remote: versitygw not found, S3 rows left out" >&2
fi
echo
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
