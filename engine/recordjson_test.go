package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/mlbuild/mlb/cache"
)

// The lists of a run record encode to the bytes json.Marshal gives, in
// one piece or several.
func TestMarshalListSameBytes(t *testing.T) {
	for _, n := range []int{0, 1, parallelJSONMin - 1, parallelJSONMin, parallelJSONMin + 1, 3001} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			stages := make([]*StageRun, n)
			sources := make([]cache.Output, n)
			for i := range n {
				stages[i] = &StageRun{Name: fmt.Sprintf("s<%d>", i), State: StateExecuted, Key: cache.ActionKey(cache.SumBytes([]byte{byte(i)})),
					Parts: &KeyParts{Command: []string{"echo", "a & b"}, Inputs: map[string]Input{"x": {Path: "x.csv", Kind: cache.KindFile}}}}
				sources[i] = cache.Output{Name: fmt.Sprint("src/", i), Path: fmt.Sprint("src/", i), Kind: cache.KindFile, Size: int64(i)}
			}
			for _, c := range []struct {
				name       string
				got, plain any
			}{
				{"stages", stageRuns(stages), stages},
				{"sources", sourceList(sources), sources},
			} {
				got, err := json.Marshal(c.got)
				if err != nil {
					t.Fatal(err)
				}
				want, err := json.Marshal(c.plain)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s: %d bytes differ from json.Marshal's %d", c.name, len(got), len(want))
				}
			}
		})
	}
	var empty stageRuns
	if got, _ := json.Marshal(empty); string(got) != "null" {
		t.Errorf("nil list encodes as %s, want null", got)
	}
}
