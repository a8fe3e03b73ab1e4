package engine

import (
	"reflect"
	"testing"
)

// TestLastBuiltEncoding checks that the last-built state reads back as
// written, keys included, and that a damaged file is an error.
func TestLastBuiltEncoding(t *testing.T) {
	full := benchKeyParts()
	full.Env = map[string]string{"SEED": "42"}
	full.Params = map[string]string{"model.depth": "5"}
	full.Workdir = "work"
	lb := lastBuilt{"train": full, "bare": {Command: []string{"true"}}}

	data := encodeLastBuilt(lb)
	got, err := decodeLastBuilt(data)
	if err != nil {
		t.Fatalf("decodeLastBuilt: %v", err)
	}
	if len(got) != len(lb) {
		t.Fatalf("decoded %d stages, want %d", len(got), len(lb))
	}
	for name, want := range lb {
		if got[name] == nil || got[name].Key() != want.Key() {
			t.Errorf("stage %s: key parts decode to another key", name)
		}
	}
	if !reflect.DeepEqual(got["train"], full) {
		t.Errorf("train decodes to\n%+v\nwant\n%+v", got["train"], full)
	}
	for _, n := range []int{0, 3, len(data) / 2, len(data) - 1} {
		if _, err := decodeLastBuilt(data[:n]); err == nil {
			t.Errorf("a state cut to %d of %d bytes decoded", n, len(data))
		}
	}
}
