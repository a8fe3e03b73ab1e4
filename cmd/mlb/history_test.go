package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlbuild/mlb/cache"
	"github.com/mlbuild/mlb/engine"
)

// mlbResult is the outcome of one mlb command run in process.
type mlbResult struct {
	code           int
	stdout, stderr string
}

// mlbTry runs mlb in process with -C dir and returns its exit status and
// output, whatever the status.
//
// NOTE: The tests that build through run() do not call t.Parallel. A stage
// process that one test forks holds a copy of every open file of the test
// process until it execs. So another test's workspace lock can outlive its
// build for a moment, and the next build in that workspace fails as locked.
func mlbTry(t *testing.T, dir string, args ...string) mlbResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"-C", dir}, args...), &stdout, &stderr)
	return mlbResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mlbJSON runs mlb with -C dir, which must exit 0, and decodes its stdout
// into v.
func mlbJSON(t *testing.T, dir string, v any, args ...string) {
	t.Helper()
	out := mlbIn(t, dir, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("mlb %s printed invalid JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// writeTree creates each file, by slash-separated path, under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// showRecord returns the run record that mlb show --json prints for run,
// or for the newest run when run is empty.
func showRecord(t *testing.T, dir, run string) *engine.RunRecord {
	t.Helper()
	args := []string{"show", "--json"}
	if run != "" {
		args = append(args, run)
	}
	var rec engine.RunRecord
	mlbJSON(t, dir, &rec, args...)
	return &rec
}

// runsOf returns what mlb runs --json prints with the given flags.
func runsOf(t *testing.T, dir string, flags ...string) []runLine {
	t.Helper()
	var lines []runLine
	mlbJSON(t, dir, &lines, append([]string{"runs", "--json"}, flags...)...)
	return lines
}

func hashesOf(lines []runLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Hash)
	}
	return out
}

// filesUnder lists the files below dir, relative to it, sorted.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// checkOutputs checks that every output recorded in rec is in root with
// the recorded digest.
func checkOutputs(t *testing.T, root string, rec *engine.RunRecord) {
	t.Helper()
	ix := cache.LoadIndex(filepath.Join(t.TempDir(), "index"))
	for _, s := range rec.Stages {
		for _, o := range s.Outputs {
			p := filepath.Join(root, filepath.FromSlash(o.Path))
			var got cache.Digest
			var err error
			if o.Kind == cache.KindDir {
				var tree *cache.Tree
				if tree, err = cache.ScanTree(p, ix); err == nil {
					got = tree.Digest()
				}
			} else {
				got, _, err = cache.HashFile(p)
			}
			switch {
			case err != nil:
				t.Errorf("output %s of run %s: %v", o.Path, rec.Hash[:12], err)
			case got != o.Digest:
				t.Errorf("output %s has digest %s, want run %s's %s", o.Path, got, rec.Hash[:12], o.Digest)
			}
		}
	}
}

// copySources copies the example's sources from one workspace into a new
// folder, as a fresh clone of its repository would hold them.
func copySources(t *testing.T, from string) string {
	t.Helper()
	dst := t.TempDir()
	for _, p := range []string{"mlb.hcl", "stages", "data", "conf"} {
		if out, err := exec.Command("cp", "-r", filepath.Join(from, p), dst).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v\n%s", p, err, out)
		}
	}
	return dst
}

// TestHistoryHotelBookings builds the example with two max_depth values,
// then compares, lists, traces, reproduces and collects the two runs.
func TestHistoryHotelBookings(t *testing.T) {
	dir := copyExample(t)
	cacheDir := t.TempDir()
	t.Setenv("MLB_CACHE_DIR", cacheDir)

	mlbIn(t, dir, "build", "-p", "max_depth=5")
	mlbIn(t, dir, "build", "-p", "max_depth=15")
	lines := runsOf(t, dir)
	if len(lines) != 2 {
		t.Fatalf("mlb runs lists %d runs, want 2", len(lines))
	}
	first, second := lines[1], lines[0]
	if first.Params["max_depth"] != "5" || second.Params["max_depth"] != "15" {
		t.Fatalf("runs have max_depth %q and %q, want 5 and 15", first.Params["max_depth"], second.Params["max_depth"])
	}
	if first.Metrics["auc"] == second.Metrics["auc"] {
		t.Fatalf("both runs have auc %v: the checks below need two different values", first.Metrics["auc"])
	}
	recFirst := showRecord(t, dir, first.Hash)
	recSecond := showRecord(t, dir, second.Hash)

	t.Run("diff", func(t *testing.T) { checkHotelDiff(t, dir, first, second) })
	t.Run("runs", func(t *testing.T) { checkHotelRuns(t, dir, first, second) })
	t.Run("lineage", func(t *testing.T) { checkHotelLineage(t, dir, recSecond) })
	if !t.Run("reproduce", func(t *testing.T) { checkHotelReproduce(t, dir, cacheDir, recFirst) }) {
		return
	}
	t.Run("gc", func(t *testing.T) { checkHotelGC(t, dir, cacheDir, recFirst, recSecond) })
}

func checkHotelDiff(t *testing.T, dir string, first, second runLine) {
	text := mlbIn(t, dir, "diff", first.Hash[:8], second.Hash[:8])
	aucA, aucB := first.Metrics["auc"], second.Metrics["auc"]
	for _, want := range []string{
		"A " + first.Hash + "\n",
		"B " + second.Hash + "\n",
		"  max_depth: 5 -> 15\n",
		fmt.Sprintf("  auc: %.6g -> %.6g  (%+.6g)\n", aucA, aucB, aucB-aucA),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("mlb diff lacks %q:\n%s", want, text)
		}
	}
	if latest := mlbIn(t, dir, "diff", first.Hash[:8]); latest != text {
		t.Errorf("mlb diff A differs from mlb diff A B with B the newest run:\n%s\nwant:\n%s", latest, text)
	}

	var d runDiff
	mlbJSON(t, dir, &d, "diff", "--json", first.Hash[:8], second.Hash[:8])
	if d.A != first.Hash || d.B != second.Hash {
		t.Errorf("diff --json compares %s and %s, want %s and %s", d.A, d.B, first.Hash, second.Hash)
	}
	if len(d.Params) != 1 || d.Params[0].Name != "max_depth" || *d.Params[0].A != "5" || *d.Params[0].B != "15" {
		t.Errorf("diff --json params = %+v, want max_depth 5 -> 15 alone", d.Params)
	}
	var auc *metricDiff
	for i, m := range d.Metrics {
		if m.Name == "auc" {
			auc = &d.Metrics[i]
		}
		if m.A == nil || m.B == nil || m.Delta == nil {
			t.Errorf("diff --json metric %s lacks a value or the delta: %+v", m.Name, m)
			continue
		}
		if line := fmt.Sprintf("  %s: %.6g -> %.6g  (%+.6g)\n", m.Name, *m.A, *m.B, *m.Delta); !strings.Contains(text, line) {
			t.Errorf("diff --json has metric %q that the text lacks", line)
		}
	}
	switch {
	case auc == nil:
		t.Errorf("diff --json has no auc metric: %+v", d.Metrics)
	case *auc.A != aucA || *auc.B != aucB || *auc.Delta != aucB-aucA:
		t.Errorf("diff --json auc = %v -> %v (%v), want %v -> %v (%v)", *auc.A, *auc.B, *auc.Delta, aucA, aucB, aucB-aucA)
	}

	// Only train reads max_depth, and evaluate reads train's model.
	var changed []string
	for _, s := range d.Stages {
		changed = append(changed, s.Name)
		if !strings.Contains(text, "  "+s.Name+"\n") {
			t.Errorf("diff text does not list stage %s", s.Name)
		}
		for _, r := range s.Reasons {
			if !strings.Contains(text, "    - "+r+"\n") {
				t.Errorf("diff text lacks stage %s's reason %q", s.Name, r)
			}
		}
	}
	if !slices.Equal(changed, []string{"train", "evaluate"}) {
		t.Errorf("diff --json lists changed stages %v, want [train evaluate]", changed)
	}
	if len(d.Stages) > 0 && !slices.Contains(d.Stages[0].Reasons, "param max_depth changed: 5 -> 15") {
		t.Errorf("diff gives train's reasons as %v, want the max_depth change among them", d.Stages[0].Reasons)
	}
}

func checkHotelRuns(t *testing.T, dir string, first, second runLine) {
	low, high := first, second
	if low.Metrics["auc"] > high.Metrics["auc"] {
		low, high = high, low
	}
	mid := (low.Metrics["auc"] + high.Metrics["auc"]) / 2
	tests := []struct {
		flags []string
		want  []string
	}{
		{nil, []string{second.Hash, first.Hash}},
		{[]string{"--sort", "auc"}, []string{low.Hash, high.Hash}},
		{[]string{"--sort", "-auc"}, []string{high.Hash, low.Hash}},
		{[]string{"--filter", "max_depth=15"}, []string{second.Hash}},
		{[]string{"--filter", "max_depth!=15"}, []string{first.Hash}},
		{[]string{"--filter", fmt.Sprintf("auc>%.17g", mid)}, []string{high.Hash}},
		{[]string{"--filter", fmt.Sprintf("auc<=%.17g", mid)}, []string{low.Hash}},
		{[]string{"--filter", "max_depth>=5", "--filter", "auc>0"}, []string{second.Hash, first.Hash}},
		{[]string{"--limit", "1"}, []string{second.Hash}},
		{[]string{"--sort", "auc", "--limit", "1"}, []string{low.Hash}},
	}
	for _, tt := range tests {
		if got := hashesOf(runsOf(t, dir, tt.flags...)); !slices.Equal(got, tt.want) {
			t.Errorf("mlb runs %v lists %v, want %v", tt.flags, got, tt.want)
		}
	}

	// The table shows the same order and a column per metric.
	text := mlbIn(t, dir, "runs", "--sort", "-auc")
	header, rows, _ := strings.Cut(text, "\n")
	for _, m := range []string{"auc", "tp", "fp", "tn", "fn"} {
		if !strings.Contains(header, " "+m) {
			t.Errorf("mlb runs header %q has no column %s", header, m)
		}
	}
	iHigh, iLow := strings.Index(rows, high.Hash[:12]), strings.Index(rows, low.Hash[:12])
	if iHigh < 0 || iLow < 0 || iHigh > iLow {
		t.Errorf("mlb runs --sort -auc does not list %s before %s:\n%s", high.Hash[:12], low.Hash[:12], text)
	}
	if want := fmt.Sprintf(" %.6g", high.Metrics["auc"]); !strings.Contains(rows[iHigh:], want) {
		t.Errorf("mlb runs shows no auc %q for run %s:\n%s", want, high.Hash[:12], text)
	}
}

func checkHotelLineage(t *testing.T, dir string, rec *engine.RunRecord) {
	var model, raw cache.Digest
	for _, s := range rec.Stages {
		for _, o := range s.Outputs {
			if o.Path == "build/model.pkl" {
				model = o.Digest
			}
		}
	}
	for _, s := range rec.Sources {
		if s.Path == "data/train.csv" {
			raw = s.Digest
		}
	}
	if model.IsZero() || raw.IsZero() {
		t.Fatalf("run %s records no build/model.pkl or no data/train.csv source", rec.Hash[:12])
	}

	text := mlbIn(t, dir, "lineage", "build/model.pkl")
	for _, want := range []string{
		"run " + rec.Hash + "\n",
		"build/model.pkl  " + model.String()[:16] + "  <- stage train",
		"<- stage featurize",
		"<- stage validate",
		"data/train.csv  " + raw.String()[:16] + "  (source)",
		"max_depth=15",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("mlb lineage build/model.pkl lacks %q:\n%s", want, text)
		}
	}

	// The JSON holds the same tree: every node is a line of the text.
	var l engine.Lineage
	mlbJSON(t, dir, &l, "lineage", "--json", "build/model.pkl")
	if l.Run != rec.Hash || l.Root.Path != "build/model.pkl" || l.Root.Digest != model {
		t.Errorf("lineage --json starts at run %s, %s %s; want run %s, build/model.pkl %s", l.Run, l.Root.Path, l.Root.Digest, rec.Hash, model)
	}
	if got := l.Root.Params["max_depth"]; got != "15" {
		t.Errorf("lineage --json gives train's max_depth as %q, want 15", got)
	}
	stagesSeen := map[string]bool{}
	var walk func(n *engine.LineageNode)
	walk = func(n *engine.LineageNode) {
		if n.Stage != "" {
			stagesSeen[n.Stage] = true
		}
		if !strings.Contains(text, n.Path+"  "+n.Digest.String()[:16]) {
			t.Errorf("lineage --json has %s %s, which the text lacks", n.Path, n.Digest)
		}
		for _, c := range n.Inputs {
			walk(c)
		}
	}
	walk(l.Root)
	for _, s := range []string{"train", "featurize", "validate"} {
		if !stagesSeen[s] {
			t.Errorf("lineage --json does not reach stage %s", s)
		}
	}
	if stagesSeen["evaluate"] {
		t.Errorf("lineage of the model reaches evaluate, which reads the model")
	}
	var sources []string
	for _, n := range l.Sources() {
		sources = append(sources, n.Path)
		if n.Path == "data/train.csv" && n.Digest != raw {
			t.Errorf("lineage --json gives data/train.csv digest %s, want %s", n.Digest, raw)
		}
	}
	if want := []string{"data/train.csv", "stages/featurize.py", "stages/train.py", "stages/validate.py"}; !slices.Equal(sources, want) {
		t.Errorf("lineage --json sources = %v, want %v", sources, want)
	}

	// A digest prefix finds the same lineage.
	var byDigest engine.Lineage
	mlbJSON(t, dir, &byDigest, "lineage", "--json", model.String()[:12])
	if byDigest.Run != rec.Hash || byDigest.Root.Path != "build/model.pkl" {
		t.Errorf("lineage of digest %s gives run %s path %s, want run %s path build/model.pkl", model.String()[:12], byDigest.Run, byDigest.Root.Path, rec.Hash)
	}

	// DOT: one graph, every statement closed, features' inputs drawn once
	// although both train and evaluate read features.
	for _, target := range []string{"build/model.pkl", "build/metrics.json"} {
		dot := mlbIn(t, dir, "lineage", "--dot", target)
		checkDot(t, dot, `"build/features" -> "build/clean.csv";`, `"build/clean.csv" -> "data/train.csv";`)
	}
}

// checkDot checks that dot looks like one Graphviz digraph with each of
// the edges given, and no statement twice.
func checkDot(t *testing.T, dot string, edges ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(dot, "\n"), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "digraph ") || !strings.HasSuffix(lines[0], "{") || lines[len(lines)-1] != "}" {
		t.Errorf("--dot output is not one digraph block:\n%s", dot)
		return
	}
	seen := map[string]bool{}
	for _, line := range lines[1 : len(lines)-1] {
		if !strings.HasSuffix(line, ";") || strings.Count(line, `"`)%2 != 0 {
			t.Errorf("--dot statement %q is not closed", line)
		}
		if seen[line] {
			t.Errorf("--dot repeats %q", line)
		}
		seen[line] = true
	}
	for _, e := range edges {
		if !seen["  "+e] {
			t.Errorf("--dot lacks edge %s:\n%s", e, dot)
		}
	}
}

// checkHotelReproduce edits the pipeline, then reproduces the first run in
// the workspace, after removing build/, in a fresh copy of the sources and
// into a new folder.
func checkHotelReproduce(t *testing.T, dir, cacheDir string, rec *engine.RunRecord) {
	original, err := os.ReadFile(filepath.Join(dir, "mlb.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	edited := string(original)
	for old, replacement := range map[string]string{
		"default     = 200": "default     = 50",
		`"--jobs", "2"`:     `"--jobs", "1"`,
	} {
		if strings.Count(edited, old) != 1 {
			t.Fatalf("example mlb.hcl has %d copies of %q, want 1", strings.Count(edited, old), old)
		}
		edited = strings.Replace(edited, old, replacement, 1)
	}
	writeTree(t, dir, map[string]string{"mlb.hcl": edited})
	prefix := rec.Hash[:6]
	actionsBefore := filesUnder(t, filepath.Join(cacheDir, "actions"))

	reproduce := func(t *testing.T, where string, args ...string) {
		t.Helper()
		var res engine.Reproduction
		mlbJSON(t, where, &res, append([]string{"reproduce", "--json", prefix}, args...)...)
		if len(res.Executed) != 0 {
			t.Errorf("reproduce executed %v, want nothing: every result is cached", res.Executed)
		}
		if len(res.Checks) != 4 {
			t.Errorf("reproduce checked %d outputs, want 4", len(res.Checks))
		}
		for _, c := range res.Checks {
			if !c.Match() {
				t.Errorf("reproduce reports %s as %s, recorded %s", c.Path, c.Got, c.Recorded)
			}
		}
	}

	t.Run("edited pipeline", func(t *testing.T) {
		text := mlbIn(t, dir, "reproduce", prefix)
		for _, want := range []string{"reproduced run " + rec.Hash[:12] + " into the workspace: 0 stages executed\n", "all 4 outputs match the recorded digests\n"} {
			if !strings.Contains(text, want) {
				t.Errorf("mlb reproduce lacks %q:\n%s", want, text)
			}
		}
		reproduce(t, dir)
		checkOutputs(t, dir, rec)
		if got, _ := os.ReadFile(filepath.Join(dir, "mlb.hcl")); string(got) != edited {
			t.Errorf("reproduce changed the workspace's edited mlb.hcl")
		}
	})
	t.Run("build removed", func(t *testing.T) {
		if err := os.RemoveAll(filepath.Join(dir, "build")); err != nil {
			t.Fatal(err)
		}
		reproduce(t, dir)
		checkOutputs(t, dir, rec)
	})
	t.Run("fresh clone", func(t *testing.T) {
		clone := copySources(t, dir)
		reproduce(t, clone)
		checkOutputs(t, clone, rec)
	})
	t.Run("into", func(t *testing.T) {
		into := filepath.Join(t.TempDir(), "copy")
		reproduce(t, dir, "--into", into)
		checkOutputs(t, into, rec)
		if got, err := os.ReadFile(filepath.Join(into, "mlb.hcl")); err != nil || !bytes.Equal(got, original) {
			t.Errorf("--into wrote an mlb.hcl that is not the run's pipeline (error %v)", err)
		}
		for _, s := range rec.Sources {
			d, _, err := cache.HashFile(filepath.Join(into, filepath.FromSlash(s.Path)))
			if err != nil || d != s.Digest {
				t.Errorf("--into source %s: digest %s, error %v; want %s", s.Path, d, err, s.Digest)
			}
		}
		if status := mlbIn(t, into, "status"); strings.Contains(status, "no "+engine.PipelineFile) {
			t.Errorf("--into folder is not a workspace:\n%s", status)
		}
	})

	// Nothing ran, so no action result was added or replaced.
	if got := filesUnder(t, filepath.Join(cacheDir, "actions")); !slices.Equal(got, actionsBefore) {
		t.Errorf("reproduce changed the action results:\nbefore %v\nafter  %v", actionsBefore, got)
	}
}

// checkHotelGC keeps the newest run, then checks what gc deleted by the
// blob files in the cache.
func checkHotelGC(t *testing.T, dir, cacheDir string, dropped, kept *engine.RunRecord) {
	store, err := cache.OpenStore(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	needed := func(rec *engine.RunRecord) map[cache.Digest]bool {
		var outputs []cache.Output
		for _, s := range rec.Stages {
			outputs = append(outputs, s.Outputs...)
		}
		blobs, err := store.OutputBlobs(append(outputs, rec.Sources...))
		if err != nil {
			t.Fatal(err)
		}
		set := map[cache.Digest]bool{rec.Pipeline: true}
		for _, d := range blobs {
			set[d] = true
		}
		for _, s := range rec.Stages {
			set[s.Log] = true
		}
		return set
	}
	keptBlobs, droppedBlobs := needed(kept), needed(dropped)

	blobFiles := func() []string {
		return append(filesUnder(t, filepath.Join(cacheDir, "blobs")), filesUnder(t, filepath.Join(cacheDir, "packs"))...)
	}
	blobsBefore := blobFiles()
	dry := mlbIn(t, dir, "gc", "--keep-last", "1", "--dry-run")
	if !strings.Contains(dry, "would drop run "+dropped.Hash[:12]+"\n") || !strings.Contains(dry, "would delete 1 runs") {
		t.Errorf("gc --dry-run does not name the dropped run %s:\n%s", dropped.Hash[:12], dry)
	}
	var dryJSON engine.GCResult
	mlbJSON(t, dir, &dryJSON, "gc", "--keep-last", "1", "--dry-run", "--json")
	if dryJSON.BlobBytes <= 0 || !strings.Contains(dry, "("+formatBytes(dryJSON.BlobBytes)+")") {
		t.Errorf("gc --dry-run reports %d bytes in JSON; text:\n%s", dryJSON.BlobBytes, dry)
	}
	if got := blobFiles(); !slices.Equal(got, blobsBefore) {
		t.Fatalf("gc --dry-run deleted blobs: %d before, %d after", len(blobsBefore), len(got))
	}

	mlbIn(t, dir, "gc", "--keep-last", "1")
	// Blobs are loose files or packed; a store opened afresh finds both.
	store, err = cache.OpenStore(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	gone := 0
	for d := range droppedBlobs {
		has := store.HasBlob(d)
		switch {
		case keptBlobs[d] && !has:
			t.Errorf("gc deleted blob %s, which the kept run needs", d)
		case !keptBlobs[d] && has:
			t.Errorf("gc kept blob %s, which only the dropped run needs", d)
		case !keptBlobs[d]:
			gone++
		}
	}
	if gone == 0 {
		t.Errorf("the dropped run had no blob of its own: the test shows nothing")
	}
	for d := range keptBlobs {
		if !store.HasBlob(d) {
			t.Errorf("gc deleted blob %s of the kept run", d)
		}
	}

	res := mlbTry(t, dir, "show", dropped.Hash[:12])
	if res.code != exitFailed || !strings.Contains(res.stderr, "no run matches") {
		t.Errorf("mlb show of the dropped run: exit %d, stderr %q; want exit 1 and no run matches", res.code, res.stderr)
	}
	var after engine.Reproduction
	mlbJSON(t, dir, &after, "reproduce", "--json", kept.Hash[:6])
	if len(after.Executed) != 0 || len(after.Mismatches()) != 0 {
		t.Errorf("reproduce of the kept run after gc executed %v and found mismatches %v", after.Executed, after.Mismatches())
	}
	checkOutputs(t, dir, kept)
}

// randomPipeline has a stage that writes random bytes between two stages
// that copy their input.
const randomPipeline = `
stage "seed" {
  inputs  = { text = "in.txt" }
  outputs = { copy = "out/copy.txt" }
  command = "cp ${inputs.text} ${outputs.copy}"
}

stage "noise" {
  inputs  = { copy = stage.seed.outputs.copy }
  outputs = { rand = "out/rand.txt" }
  command = "od -An -N8 /dev/urandom > ${outputs.rand}"
}

stage "after" {
  inputs  = { rand = stage.noise.outputs.rand }
  outputs = { copy = "out/after.txt" }
  command = "cp ${inputs.rand} ${outputs.copy}"
}
`

func TestReproduceVerify(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"mlb.hcl": randomPipeline, "in.txt": "hello\n"})
	mlbIn(t, dir, "build")
	rec := showRecord(t, dir, "")
	var recorded cache.Digest
	for _, s := range rec.Stages {
		if s.Name == "noise" {
			recorded = s.Outputs[0].Digest
		}
	}

	res := mlbTry(t, dir, "reproduce", "--verify", rec.Hash[:6])
	if res.code != exitFailed {
		t.Errorf("reproduce --verify of a random stage: exit %d, want %d\n%s%s", res.code, exitFailed, res.stdout, res.stderr)
	}
	for _, want := range []string{
		"deterministic      seed\n",
		"non-deterministic  noise\n",
		"    out/rand.txt: recorded " + recorded.String()[:16] + ", got ",
		"deterministic      after\n",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("reproduce --verify lacks %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "verified") {
		t.Errorf("reproduce --verify claims the run verified:\n%s", res.stdout)
	}

	res = mlbTry(t, dir, "reproduce", "--verify", "--json", rec.Hash[:6])
	var verdicts []engine.StageVerdict
	if err := json.Unmarshal([]byte(res.stdout), &verdicts); err != nil {
		t.Fatalf("reproduce --verify --json: %v\n%s", err, res.stdout)
	}
	if res.code != exitFailed {
		t.Errorf("reproduce --verify --json: exit %d, want %d", res.code, exitFailed)
	}
	got := map[string]string{}
	for _, v := range verdicts {
		got[v.Stage] = v.Status
		if v.Stage == "noise" && (len(v.Differing) != 1 || v.Differing[0].Path != "out/rand.txt" || v.Differing[0].Recorded != recorded) {
			t.Errorf("verify --json gives noise's differences as %+v, want out/rand.txt recorded %s", v.Differing, recorded)
		}
	}
	if want := map[string]string{"seed": "deterministic", "noise": "non-deterministic", "after": "deterministic"}; !maps.Equal(got, want) {
		t.Errorf("verify --json verdicts = %v, want %v", got, want)
	}
}

func TestReproduceNamesMismatches(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"mlb.hcl": randomPipeline, "in.txt": "hello\n"})
	mlbIn(t, dir, "build")
	rec := showRecord(t, dir, "")

	// Without noise's cached result, reproduce runs noise again, and after
	// too because its input changed; both outputs differ from the record.
	var noise *engine.StageRun
	for _, s := range rec.Stages {
		if s.Name == "noise" {
			noise = s
		}
	}
	actions := filepath.Join(dir, ".mlb", "cache", "actions")
	removed := 0
	for _, f := range filesUnder(t, actions) {
		if strings.Contains(f, noise.Key.String()) {
			if err := os.Remove(filepath.Join(actions, f)); err != nil {
				t.Fatal(err)
			}
			removed++
		}
	}
	if removed != 1 {
		t.Fatalf("found %d action result files for noise's key, want 1", removed)
	}

	res := mlbTry(t, dir, "reproduce", rec.Hash[:6])
	if res.code != exitFailed {
		t.Errorf("reproduce with differing outputs: exit %d, want %d", res.code, exitFailed)
	}
	if !strings.Contains(res.stdout, "2 stages executed (noise, after)") {
		t.Errorf("reproduce does not say it executed noise and after:\n%s", res.stdout)
	}
	for _, path := range []string{"out/rand.txt", "out/after.txt"} {
		if !strings.Contains(res.stderr, "mismatch: "+path+" (stage ") {
			t.Errorf("reproduce does not name the mismatch of %s:\n%s", path, res.stderr)
		}
	}
	if strings.Contains(res.stderr, "out/copy.txt") || strings.Contains(res.stdout, "outputs match") {
		t.Errorf("reproduce reports the wrong outputs:\nstdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	}
}

func TestReproduceVerifyDeterministic(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"mlb.hcl": `
stage "upper" {
  inputs  = { text = "in.txt" }
  outputs = { upper = "out/upper.txt", parts = "out/parts" }
  command = "mkdir -p out/parts && tr a-z A-Z < ${inputs.text} > ${outputs.upper} && split -l 1 ${inputs.text} out/parts/p"
}

stage "count" {
  inputs  = { upper = stage.upper.outputs.upper }
  outputs = { count = "out/count.txt" }
  command = "wc -c < ${inputs.upper} > ${outputs.count}"
}
`,
		"in.txt": "one\ntwo\n",
	})
	mlbIn(t, dir, "build")
	rec := showRecord(t, dir, "")
	res := mlbTry(t, dir, "reproduce", "--verify", rec.Hash[:6])
	if res.code != exitOK {
		t.Fatalf("reproduce --verify of a deterministic run: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"deterministic      upper\n", "deterministic      count\n", "run " + rec.Hash[:12] + " verified"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("reproduce --verify lacks %q:\n%s", want, res.stdout)
		}
	}
}

// wordPipeline writes its param to a file and counts its executions in
// counts.log, which is no output.
const wordPipeline = `
param "word" {
  type    = string
  default = "one"
}

stage "write" {
  outputs = { word = "out/word.txt" }
  command = "echo run >> counts.log && echo ${param.word} > ${outputs.word}"
}
`

// wordRuns builds wordPipeline in a new folder once per word and returns
// the folder and the run records, oldest first.
func wordRuns(t *testing.T, words ...string) (string, []*engine.RunRecord) {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"mlb.hcl": wordPipeline})
	var recs []*engine.RunRecord
	for _, w := range words {
		mlbIn(t, dir, "build", "-p", "word="+w)
		recs = append(recs, showRecord(t, dir, ""))
	}
	return dir, recs
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReproducePrefixErrors(t *testing.T) {
	dir, recs := wordRuns(t, "one", "two")
	first := recs[0]

	// A prefix that starts no run hash.
	unknown := ""
	for _, c := range "0123456789abcdef" {
		candidate := strings.Repeat(string(c), 6)
		if !strings.HasPrefix(recs[0].Hash, candidate) && !strings.HasPrefix(recs[1].Hash, candidate) {
			unknown = candidate
			break
		}
	}
	res := mlbTry(t, dir, "reproduce", unknown)
	if res.code != exitFailed || !strings.Contains(res.stderr, `no run matches "`+unknown+`"`) {
		t.Errorf("reproduce %s: exit %d, stderr %q; want exit 1 and no run matches", unknown, res.code, res.stderr)
	}
	res = mlbTry(t, dir, "reproduce", first.Hash[:3])
	if res.code != exitFailed || !strings.Contains(res.stderr, "too short") {
		t.Errorf("reproduce %s: exit %d, stderr %q; want exit 1 and too short", first.Hash[:3], res.code, res.stderr)
	}

	// Add a record whose hash shares the first run's 6 leading characters
	// and no more. Real hashes that share 6 characters are too rare to
	// build on purpose, and only the hash matters to a prefix lookup.
	store, err := cache.OpenStore(filepath.Join(dir, ".mlb", "cache"))
	if err != nil {
		t.Fatal(err)
	}
	twin := *recs[1]
	seventh := "0"
	if first.Hash[6] == '0' {
		seventh = "1"
	}
	twin.Hash = first.Hash[:6] + seventh + first.Hash[7:]
	twin.Started = time.Now().UTC()
	if err := engine.SaveRun(store, &twin); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"reproduce", first.Hash[:6]}, {"show", first.Hash[:6]}, {"checkout", first.Hash[:6]}, {"diff", first.Hash[:6]}} {
		res = mlbTry(t, dir, cmd...)
		if res.code != exitFailed || !strings.Contains(res.stderr, `run prefix "`+first.Hash[:6]+`" is ambiguous: it matches 2 runs`) {
			t.Errorf("mlb %s: exit %d, stderr %q; want exit 1 and an ambiguous prefix", strings.Join(cmd, " "), res.code, res.stderr)
		}
	}

	// One more character picks the first run. Its recorded params win over
	// the environment's.
	t.Setenv("MLB_PARAM_word", "three")
	mlbIn(t, dir, "reproduce", first.Hash[:7])
	if got := readText(t, filepath.Join(dir, "out", "word.txt")); got != "one\n" {
		t.Errorf("out/word.txt after reproduce of the first run = %q, want %q", got, "one\n")
	}
	checkOutputs(t, dir, first)
}

func TestCheckoutRun(t *testing.T) {
	dir, recs := wordRuns(t, "one", "two")
	first, second := recs[0], recs[1]
	counts := readText(t, filepath.Join(dir, "counts.log"))

	out := mlbIn(t, dir, "checkout", first.Hash[:8])
	if want := "restored out/word.txt\nchecked out run " + first.Hash[:12] + ": 1 output restored\n"; out != want {
		t.Errorf("mlb checkout printed %q, want %q", out, want)
	}
	checkOutputs(t, dir, first)
	out = mlbIn(t, dir, "checkout", first.Hash[:8])
	if !strings.Contains(out, ": 0 outputs restored") {
		t.Errorf("a second checkout restored something: %q", out)
	}
	if got := readText(t, filepath.Join(dir, "counts.log")); got != counts {
		t.Errorf("checkout ran the stage: counts.log went from %q to %q", counts, got)
	}

	// Remove the second run's output blob by hand: checkout fails, names it
	// and leaves the workspace as it was.
	store, err := cache.OpenStore(filepath.Join(dir, ".mlb", "cache"))
	if err != nil {
		t.Fatal(err)
	}
	missing := second.Stages[0].Outputs[0].Digest
	if err := os.Remove(store.BlobPath(missing)); err != nil {
		t.Fatal(err)
	}
	res := mlbTry(t, dir, "checkout", second.Hash[:8])
	if res.code != exitFailed {
		t.Errorf("checkout with a missing blob: exit %d, want %d", res.code, exitFailed)
	}
	if !strings.Contains(res.stderr, missing.String()) || !strings.Contains(res.stderr, "missing from the cache: 1 of its blobs") {
		t.Errorf("checkout error does not name the missing blob %s:\n%s", missing, res.stderr)
	}
	if got := readText(t, filepath.Join(dir, "out", "word.txt")); got != "one\n" {
		t.Errorf("a failed checkout changed out/word.txt to %q", got)
	}
}

func TestGCOptions(t *testing.T) {
	dir, recs := wordRuns(t, "one", "two")
	since := time.Now().UTC().Format(time.RFC3339Nano)
	mlbIn(t, dir, "build", "-p", "word=three")
	recs = append(recs, showRecord(t, dir, ""))
	blobs := filepath.Join(dir, ".mlb", "cache", "blobs")

	for _, args := range [][]string{{"gc"}, {"gc", "--dry-run"}, {"gc", "--keep-last", "-1"}, {"gc", "--keep-since", "last week"}} {
		res := mlbTry(t, dir, args...)
		if res.code != exitUsage {
			t.Errorf("mlb %s: exit %d, want %d\n%s", strings.Join(args, " "), res.code, exitUsage, res.stderr)
		}
	}
	if res := mlbTry(t, dir, "gc"); !strings.Contains(res.stderr, "--keep-last N, --keep-since DATE or --keep RUN") {
		t.Errorf("mlb gc without a keep option does not name the options:\n%s", res.stderr)
	}

	// A dry run names the runs, counts the bytes and deletes nothing.
	before := filesUnder(t, blobs)
	dry := mlbIn(t, dir, "gc", "--keep-since", since, "--dry-run")
	for _, r := range recs[:2] {
		if !strings.Contains(dry, "would drop run "+r.Hash[:12]+"\n") {
			t.Errorf("gc --dry-run does not name run %s:\n%s", r.Hash[:12], dry)
		}
	}
	if !strings.Contains(dry, "kept 1 runs; would delete 2 runs, ") || strings.Contains(dry, "blobs (0 B)") {
		t.Errorf("gc --dry-run summary is wrong:\n%s", dry)
	}
	if got := filesUnder(t, blobs); !slices.Equal(got, before) {
		t.Errorf("gc --dry-run deleted blobs: %v, then %v", before, got)
	}
	if n := len(runsOf(t, dir)); n != 3 {
		t.Errorf("gc --dry-run left %d runs, want 3", n)
	}

	// --keep-since keeps the newest run, --keep the oldest.
	var res engine.GCResult
	mlbJSON(t, dir, &res, "gc", "--json", "--keep-since", since, "--keep", recs[0].Hash[:8])
	if want := []string{recs[2].Hash, recs[0].Hash}; !slices.Equal(res.Kept, want) {
		t.Errorf("gc kept %v, want %v", res.Kept, want)
	}
	if want := []string{recs[1].Hash}; !slices.Equal(res.Dropped, want) {
		t.Errorf("gc dropped %v, want %v", res.Dropped, want)
	}
	if got := hashesOf(runsOf(t, dir)); !slices.Equal(got, []string{recs[2].Hash, recs[0].Hash}) {
		t.Errorf("runs after gc = %v", got)
	}
	store, err := cache.OpenStore(filepath.Join(dir, ".mlb", "cache"))
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		d := rec.Stages[0].Outputs[0].Digest
		if _, err := os.Stat(store.BlobPath(d)); (err == nil) != (i != 1) {
			t.Errorf("run %d's output blob %s: stat error %v after gc kept runs 0 and 2", i, d, err)
		}
	}
	mlbIn(t, dir, "checkout", recs[0].Hash[:8])
	checkOutputs(t, dir, recs[0])
}

func TestDiffParamsAndReasons(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"mlb.hcl": `
param "seed" {
  type    = number
  default = 1000001
}

param "lr" {
  type    = number
  default = 0.1234567
}

stage "prep" {
  inputs  = { text = "in.txt" }
  outputs = { out = "out/prep.txt" }
  command = "cat ${inputs.text} > ${outputs.out}"
}

stage "fit" {
  inputs  = { prep = stage.prep.outputs.out }
  outputs = { metrics = "out/metrics.json" }
  metrics = outputs.metrics
  command = "echo '{\"loss\": ${param.lr}, \"seed\": ${param.seed}}' > ${outputs.metrics}"
}
`,
		"in.txt": "a\n",
	})
	mlbIn(t, dir, "build")
	first := showRecord(t, dir, "")
	writeTree(t, dir, map[string]string{"in.txt": "b\n"})
	mlbIn(t, dir, "build", "-p", "seed=1000002", "-p", "lr=0.1234568")
	second := showRecord(t, dir, "")

	// Values that agree in their first six digits still differ.
	text := mlbIn(t, dir, "diff", first.Hash[:8])
	for _, want := range []string{
		"  lr: 0.1234567 -> 0.1234568\n",
		"  seed: 1000001 -> 1000002\n",
		"  prep\n    - input text changed (in.txt)\n",
		"    - param seed changed: 1000001 -> 1000002\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("mlb diff lacks %q:\n%s", want, text)
		}
	}
	var d runDiff
	mlbJSON(t, dir, &d, "diff", "--json", first.Hash[:8], second.Hash[:8])
	params := map[string]string{}
	for _, p := range d.Params {
		params[p.Name] = *p.A + " -> " + *p.B
	}
	if want := map[string]string{"lr": "0.1234567 -> 0.1234568", "seed": "1000001 -> 1000002"}; !maps.Equal(params, want) {
		t.Errorf("diff --json params = %v, want %v", params, want)
	}
	for _, m := range d.Metrics {
		if m.Name == "seed" && (m.Delta == nil || *m.Delta != 1) {
			t.Errorf("diff --json gives metric seed's delta as %v, want 1", m.Delta)
		}
	}

	// runs shows the params with every digit and filters on them exactly.
	if got := hashesOf(runsOf(t, dir, "--filter", "seed=1000001")); !slices.Equal(got, []string{first.Hash}) {
		t.Errorf("runs --filter seed=1000001 lists %v, want the first run alone", got)
	}
	if got := runsOf(t, dir, "--limit", "1"); len(got) != 1 || got[0].Params["lr"] != "0.1234568" {
		t.Errorf("runs --json gives the newest run's lr as %v, want 0.1234568", got)
	}
}

func TestShowRunRecord(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"mlb.hcl": `
param "scale" {
  type    = number
  default = 3
}

stage "upper" {
  inputs  = { text = "in.txt" }
  outputs = { upper = "out/upper.txt" }
  command = "tr a-z A-Z < ${inputs.text} > ${outputs.upper}"
}

stage "score" {
  inputs  = { upper = stage.upper.outputs.upper }
  outputs = { metrics = "out/metrics.json" }
  metrics = outputs.metrics
  command = "echo \"{\\\"chars\\\": $(wc -c < ${inputs.upper}), \\\"scaled\\\": ${param.scale}.5}\" > ${outputs.metrics}"
}
`,
		"in.txt": "hello\n",
	})
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=mlb test", "-c", "user.email=mlb@example.invalid"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "mlb.hcl", "in.txt")
	git("commit", "-q", "-m", "pipeline")
	head := git("rev-parse", "HEAD")

	mlbIn(t, dir, "build")
	rec := showRecord(t, dir, "")
	text := mlbIn(t, dir, "show", rec.Hash[:8])
	host, _ := os.Hostname()
	upper := rec.Stages[0].Outputs[0]
	if d, _, err := cache.HashFile(filepath.Join(dir, "out", "upper.txt")); err != nil || d != upper.Digest {
		t.Errorf("show --json gives out/upper.txt digest %s, the file has %s (error %v)", upper.Digest, d, err)
	}
	wants := []string{
		"run      " + rec.Hash + "\n",
		"status   succeeded\n",
		"started  " + rec.Started.Format("2006-01-02 15:04:05.000 MST") + "\n",
		"finished " + rec.Finished.Format("2006-01-02 15:04:05.000 MST") + " (",
		"host     " + host + "\n",
		"git      " + head + "\n",
		"pipeline " + rec.Pipeline.String() + "\n",
		"params\n  scale = 3\n",
		"metrics\n  chars = 6\n  scaled = 3.5\n",
		"  upper: executed in ",
		"    output  out/upper.txt  " + upper.Digest.String()[:16] + "  6 B  -rw-r--r--\n",
		"    metric  chars = 6\n",
		"sources\n  in.txt  ",
	}
	for _, s := range rec.Stages {
		wants = append(wants, "    key     "+s.Key.String()+"\n")
		if !s.Log.IsZero() {
			// An empty log is not stored, and show leaves its line out.
			wants = append(wants, "    log     "+s.Log.String()[:16]+"\n")
		}
		if s.State != engine.StateExecuted || s.ExitCode != 0 {
			t.Errorf("stage %s is %s with exit status %d, want executed with 0", s.Name, s.State, s.ExitCode)
		}
	}
	if rec.Git == nil || rec.Git.Commit != head || rec.Git.Dirty {
		t.Errorf("show --json git = %+v, want commit %s, clean", rec.Git, head)
	}
	if rec.Host != host || !rec.Finished.After(rec.Started) {
		t.Errorf("show --json host %q, started %s, finished %s", rec.Host, rec.Started, rec.Finished)
	}
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("mlb show lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, ", exit status 0\n") != 2 {
		t.Errorf("mlb show does not give both stages' exit status:\n%s", text)
	}
	if math.IsNaN(rec.Metrics["scaled"]) || rec.Metrics["scaled"] != 3.5 || rec.Metrics["chars"] != 6 {
		t.Errorf("show --json metrics = %v, want chars 6 and scaled 3.5", rec.Metrics)
	}

	// A change to a tracked file makes the next run dirty. A build with the
	// outputs removed restores them.
	writeTree(t, dir, map[string]string{"in.txt": "hello, world\n"})
	mlbIn(t, dir, "build")
	if text := mlbIn(t, dir, "show"); !strings.Contains(text, "git      "+head+" (dirty)\n") {
		t.Errorf("mlb show after editing in.txt lacks the dirty flag:\n%s", text)
	}
	if rec := showRecord(t, dir, ""); rec.Git == nil || !rec.Git.Dirty {
		t.Errorf("show --json git after editing in.txt = %+v, want dirty", rec.Git)
	}
	if err := os.RemoveAll(filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	mlbIn(t, dir, "build")
	text = mlbIn(t, dir, "show")
	for _, want := range []string{"  upper: restored in ", "  score: restored in "} {
		if !strings.Contains(text, want) {
			t.Errorf("mlb show after a restoring build lacks %q:\n%s", want, text)
		}
	}
}
