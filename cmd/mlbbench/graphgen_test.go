//go:build linux

package main

import "testing"

// The simulation must agree with the graph: a change that every stage
// keeps runs every dependant.
func TestChangedStagesSmallSources(t *testing.T) {
	g := graphShape{layers: 3, width: 9, sources: 2}
	i, dependants := g.changedStage(1)
	src := sourcePath(0, i, 0)
	before := sourceData(0, i, 0)
	after := changedContents(before, 1)
	if got := g.changedStages(src, before, after); got != dependants {
		t.Errorf("changedStages = %d, want all %d dependants: no output reaches %d bytes", got, dependants, headBytes)
	}
}

func TestChangedStagesUnchanged(t *testing.T) {
	g := graphShape{layers: 3, width: 9, sources: 2}
	src := sourcePath(0, 4, 1)
	data := sourceData(0, 4, 1)
	if got := g.changedStages(src, data, data); got != 0 {
		t.Errorf("changedStages with the same contents = %d, want 0", got)
	}
}

func TestDependantsOfFullGraph(t *testing.T) {
	g := graphShape{layers: 10, width: 100, sources: 10}
	if _, n := g.changedStage(64); n != 64 {
		t.Errorf("closest dependant count = %d, want a first-layer stage with 64", n)
	}
}

func TestThousands(t *testing.T) {
	tests := map[int]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567", -1000: "-1,000"}
	for n, want := range tests {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
