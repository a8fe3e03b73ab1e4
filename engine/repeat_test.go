package engine

import (
	"reflect"
	"testing"
)

const repeatPipeline = `
param "word" {
  type    = string
  default = "one"
}

stage "copy" {
  inputs  = { text = "in.txt" }
  outputs = { text = "out/copy.txt" }
  command = "cp ${inputs.text} ${outputs.text} && echo '${param.word}' >> ${outputs.text}"
}
`

// TestRepeatedBuildShortRecord checks that a no-op build writes a short
// record that reads back with the key parts and sources of the run it
// repeats, and that gc keeps that run's record along with it.
func TestRepeatedBuildShortRecord(t *testing.T) {
	root := newWorkspace(t, repeatPipeline, map[string]string{"in.txt": "text\n"})
	full := buildWithParams(t, root, nil, "word=one")
	if full.Repeats != "" {
		t.Fatalf("first build repeats %s", full.Repeats)
	}
	again := buildWithParams(t, root, nil, "word=one")
	if again.Repeats == "" || again.Hash != full.Hash {
		t.Fatalf("no-op build: repeats %q, hash %s; want a short record of run %s", again.Repeats, again.Hash, full.Hash)
	}

	w := openForHistory(t, root)
	runs, err := ListRuns(w.Store)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("ListRuns = %d records, want 2", len(runs))
	}
	short, long := runs[0], runs[1]
	if short.Repeats != long.file {
		t.Fatalf("newest record repeats %q, want %q", short.Repeats, long.file)
	}
	if !reflect.DeepEqual(short.Sources, long.Sources) || len(short.Sources) == 0 {
		t.Errorf("short record has sources %v, want %v", short.Sources, long.Sources)
	}
	for i, s := range short.Stages {
		if s.State != StateUpToDate {
			t.Errorf("stage %s of the no-op build is %s, want up to date", s.Name, s.State)
		}
		if s.Parts == nil || s.Parts.Key() != long.Stages[i].Parts.Key() {
			t.Errorf("stage %s of the short record lacks the key parts of the run it repeats", s.Name)
		}
		if !reflect.DeepEqual(s.Outputs, long.Stages[i].Outputs) || len(s.Outputs) == 0 {
			t.Errorf("stage %s of the short record has outputs %v, want %v", s.Name, s.Outputs, long.Stages[i].Outputs)
		}
	}

	// Keeping only the newest record keeps the one it shares parts with.
	res, err := GC(w.Store, GCOptions{KeepLast: 1})
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	if len(res.Dropped) != 0 {
		t.Errorf("GC dropped %v, the record a kept short record needs", res.Dropped)
	}
	if runs, _ := ListRuns(w.Store); len(runs) != 2 {
		t.Errorf("after GC ListRuns = %d records, want 2", len(runs))
	}
}
