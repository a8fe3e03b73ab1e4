package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

func sampleAction(key ActionKey) *ActionResult {
	return &ActionResult{
		Key:   key,
		Stage: "train",
		Outputs: []Output{
			{Name: "model", Path: "build/model.pkl", Kind: KindFile, Perm: 0o644, Size: 5, Digest: SumBytes([]byte("model"))},
			{Name: "plots", Path: "build/plots", Kind: KindDir, Perm: 0o755, Size: 0, Digest: SumBytes([]byte("tree"))},
			{Name: "metrics", Path: "build/metrics.json", Kind: KindFile, Perm: 0o600, Size: 2, Digest: SumBytes([]byte("{}"))},
		},
		Metrics:  json.RawMessage(`{"auc":0.91}`),
		Log:      SumBytes([]byte("log")),
		ExitCode: 0,
		Duration: 1500 * time.Millisecond,
		Created:  time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC),
	}
}

func TestActionRoundTrip(t *testing.T) {
	s := newStore(t)
	key := ActionKey(SumBytes([]byte("stage key")))
	in := sampleAction(key)
	if err := s.PutAction(in); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetAction(key)
	if err != nil {
		t.Fatal(err)
	}

	want := sampleAction(key)
	want.Version = actionVersion
	want.Outputs = []Output{want.Outputs[2], want.Outputs[0], want.Outputs[1]} // by path
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetAction = %+v\nwant %+v", got, want)
	}
}

func TestActionMissing(t *testing.T) {
	s := newStore(t)
	_, err := s.GetAction(ActionKey(SumBytes([]byte("nothing"))))
	if !errors.Is(err, ErrNotFound) || !IsMiss(err) {
		t.Errorf("GetAction of an unknown key: error %v, want ErrNotFound", err)
	}
}

func TestActionCorrupt(t *testing.T) {
	key := ActionKey(SumBytes([]byte("stage key")))
	other := ActionKey(SumBytes([]byte("another key")))
	encoded := func(t *testing.T, v any) []byte {
		b, err := EncodeCompressed(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name  string
		bytes func(t *testing.T, stored []byte) []byte
	}{
		{"garbage", func(*testing.T, []byte) []byte { return []byte("not zstd at all") }},
		{"byte changed", func(_ *testing.T, b []byte) []byte { return flipFirstByte(b) }},
		{"truncated", func(_ *testing.T, b []byte) []byte { return truncateHalf(b) }},
		{"empty", func(*testing.T, []byte) []byte { return nil }},
		{"not JSON", func(*testing.T, []byte) []byte { return zstdEncoder.EncodeAll([]byte("{{{"), nil) }},
		{"wrong version", func(t *testing.T, _ []byte) []byte {
			r := sampleAction(key)
			r.Version = actionVersion + 1
			return encoded(t, r)
		}},
		{"wrong key", func(t *testing.T, _ []byte) []byte {
			r := sampleAction(other)
			r.Version = actionVersion
			return encoded(t, r)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if err := s.PutAction(sampleAction(key)); err != nil {
				t.Fatal(err)
			}
			damage(t, s.actionPath(key), func(b []byte) []byte { return tt.bytes(t, b) })

			r, err := s.GetAction(key)
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("GetAction = %v, %v; want a *CorruptError", r, err)
			}
			if ce.What != "action result" || ce.Name != key.String() {
				t.Errorf("CorruptError = %+v, want one naming action result %s", ce, key)
			}
			if !IsMiss(err) {
				t.Error("IsMiss(CorruptError) = false")
			}
			if _, err := os.Stat(s.actionPath(key)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("damaged action result still on disk: stat error %v", err)
			}
			if _, err := s.GetAction(key); !errors.Is(err, ErrNotFound) {
				t.Errorf("second GetAction: error %v, want ErrNotFound", err)
			}
		})
	}
}

func TestMissingBlobs(t *testing.T) {
	s := newStore(t)
	ix := newIndex(t)
	dir := filepath.Join(t.TempDir(), "plots")
	writeFile(t, filepath.Join(dir, "a.png"), "png a", 0o644)
	writeFile(t, filepath.Join(dir, "sub", "b.png"), "png b", 0o644)
	model := filepath.Join(t.TempDir(), "model.pkl")
	writeFile(t, model, "weights", 0o644)

	fileOut, err := s.StoreOutput("model", "build/model.pkl", model, ix)
	if err != nil {
		t.Fatal(err)
	}
	dirOut, err := s.StoreOutput("plots", "build/plots", dir, ix)
	if err != nil {
		t.Fatal(err)
	}
	r := &ActionResult{Outputs: []Output{fileOut, dirOut}}
	if missing := s.MissingBlobs(r); len(missing) != 0 {
		t.Fatalf("MissingBlobs after storing everything = %v, want none", missing)
	}

	// A file listed inside the directory's tree counts too.
	inner := SumBytes([]byte("png b"))
	if err := os.Remove(s.BlobPath(inner)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.BlobPath(fileOut.Digest)); err != nil {
		t.Fatal(err)
	}
	got := s.MissingBlobs(r)
	want := []Digest{fileOut.Digest, inner}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MissingBlobs = %v, want %v", got, want)
	}
}

// Data large enough to be compressed in several frames decodes back whole.
func TestEncodeCompressedSplitFrames(t *testing.T) {
	type record struct {
		Lines []string `json:"lines"`
	}
	for _, n := range []int{10, 40000} {
		in := record{}
		for i := range n {
			in.Lines = append(in.Lines, fmt.Sprintf("line %d of a record long enough to split", i))
		}
		data, err := EncodeCompressed(in)
		if err != nil {
			t.Fatal(err)
		}
		var out record
		if err := DecodeCompressed(data, &out); err != nil {
			t.Fatalf("%d lines: %v", n, err)
		}
		if !slices.Equal(in.Lines, out.Lines) {
			t.Errorf("%d lines: decoded %d lines that differ", n, len(out.Lines))
		}
	}
}
