package engine

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestSyncModeFlushes(t *testing.T) {
	run := func(stages ...*StageRun) *RunRecord { return &RunRecord{Stages: stages} }
	stage := func(state string, d time.Duration) *StageRun { return &StageRun{State: state, Duration: d} }
	tests := []struct {
		name string
		mode SyncMode
		rec  *RunRecord
		want bool
	}{
		{"auto, quick stages", SyncAuto, run(stage(StateExecuted, 3*time.Second), stage(StateExecuted, 6*time.Second)), false},
		{"auto, stages worth a flush in all", SyncAuto, run(stage(StateExecuted, 4*time.Second), stage(StateExecuted, 6*time.Second)), true},
		{"auto, one long stage", SyncAuto, run(stage(StateExecuted, time.Hour)), true},
		{"auto, restored stages do not count", SyncAuto, run(stage(StateRestored, time.Hour), stage(StateExecuted, time.Second)), false},
		{"auto, failed stages do not count", SyncAuto, run(stage(StateFailed, time.Hour)), false},
		{"auto, nothing ran", SyncAuto, run(), false},
		{"always", SyncAlways, run(stage(StateExecuted, time.Millisecond)), true},
		{"never", SyncNever, run(stage(StateExecuted, time.Hour)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.mode.flushes(tt.rec); got != tt.want {
				t.Errorf("flushes = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseSyncMode(t *testing.T) {
	tests := []struct {
		in      string
		want    SyncMode
		wantErr string
	}{
		{"", SyncAuto, ""},
		{"auto", SyncAuto, ""},
		{"always", SyncAlways, ""},
		{"never", SyncNever, ""},
		{"Always", SyncAuto, `invalid MLB_SYNC="Always": use auto, always or never`},
		{"1", SyncAuto, `invalid MLB_SYNC="1"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSyncMode(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseSyncMode(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestSyncNeverFlushesNothing checks that a build that will not flush
// does not flush its entries one by one either, while the other modes
// still do after a build that is not the first.
func TestSyncNeverFlushesNothing(t *testing.T) {
	tests := []struct {
		name string
		mode SyncMode
		want bool
	}{
		{"never", SyncNever, false},
		{"auto", SyncAuto, true},
		{"always", SyncAlways, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newWorkspace(t, `
stage "a" {
  inputs  = { in = "in.txt" }
  outputs = { out = "a.txt" }
  command = "cp in.txt a.txt"
}
stage "b" {
  inputs  = { in = "in.txt" }
  outputs = { out = "b.txt" }
  command = "cp in.txt b.txt"
}
`, map[string]string{"in.txt": "one"})
			if _, err := build(t, context.Background(), root, BuildOptions{}); err != nil {
				t.Fatal(err)
			}
			writeFiles(t, root, map[string]string{"in.txt": "two"})

			g := load(t, root, ParamSources{})
			w, err := OpenWorkspace(root, "")
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if _, err := w.Build(context.Background(), g, BuildOptions{Env: os.Environ(), Sync: tt.mode}); err != nil {
				t.Fatal(err)
			}
			if got := w.Store.FlushesOneByOne(); got != tt.want {
				t.Errorf("after a second build, FlushesOneByOne = %t, want %t", got, tt.want)
			}
		})
	}
}
