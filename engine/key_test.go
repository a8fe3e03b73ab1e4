package engine

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlbuild/mlb/cache"
)

func baseParts() *KeyParts {
	return &KeyParts{
		Command: []string{"python3", "train.py", "--trees", "200"},
		Env:     map[string]string{"SEED": "42", "LANG": "C"},
		Params:  map[string]string{"n_estimators": "200", "data.train": `"data/train.csv"`},
		Workdir: "src",
		Outputs: map[string]string{"model": "build/model.pkl", "metrics": "build/metrics.json"},
		Inputs: map[string]Input{
			"code": {Path: "src/train.py", Kind: cache.KindFile, Perm: 0o644, Digest: cache.SumBytes([]byte("print(1)"))},
			"data": {Path: "data", Kind: cache.KindDir, Perm: 0o755, Digest: cache.SumBytes([]byte("tree"))},
		},
	}
}

// goldenKey is the key of baseParts, and pins the key encoding. If
// TestKeyGolden fails, the encoding changed: bump keyVersion with it, so
// that old cache entries stop matching, and then update this value.
const goldenKey = "c671b9895e07ddb13caa1af4f45d989c3db5138e20c657870595e2b4a7b14516"

func TestKeyGolden(t *testing.T) {
	if got := baseParts().Key().String(); got != goldenKey {
		t.Errorf("key of baseParts = %s, want %s", got, goldenKey)
	}
}

func TestKeyStable(t *testing.T) {
	want := baseParts().Key()
	for i := range 50 {
		if got := baseParts().Key(); got != want {
			t.Fatalf("computation %d gave %s, want %s", i, got, want)
		}
	}
}

// Maps built in a different insertion order, and large enough that Go
// iterates them in varying orders, give the same key.
func TestKeyMapOrder(t *testing.T) {
	build := func(reverse bool) *KeyParts {
		p := &KeyParts{
			Command: []string{"true"},
			Env:     map[string]string{},
			Params:  map[string]string{},
			Outputs: map[string]string{},
			Inputs:  map[string]Input{},
		}
		for j := range 64 {
			i := j
			if reverse {
				i = 63 - j
			}
			name := fmt.Sprintf("k%02d", i)
			p.Env[name] = fmt.Sprint(i)
			p.Params[name] = fmt.Sprint(i)
			p.Outputs[name] = "out/" + name
			p.Inputs[name] = Input{Path: "in/" + name, Kind: cache.KindFile, Perm: 0o644, Digest: cache.SumBytes([]byte(name))}
		}
		return p
	}
	want := build(false).Key()
	for i := range 20 {
		if got := build(i%2 == 1).Key(); got != want {
			t.Fatalf("build %d: key %s, want %s", i, got, want)
		}
	}
}

func TestKeyParts(t *testing.T) {
	tests := []struct {
		name    string
		change  func(p *KeyParts)
		changed bool
	}{
		{"nothing", func(*KeyParts) {}, false},
		{"command argument", func(p *KeyParts) { p.Command[3] = "300" }, true},
		{"command argument added", func(p *KeyParts) { p.Command = append(p.Command, "--fast") }, true},
		{"command split differently", func(p *KeyParts) {
			p.Command = []string{"python3 train.py", "--trees", "200"}
		}, true},
		{"command joined", func(p *KeyParts) {
			p.Command = []string{"python3", "train.py", "--trees200"}
		}, true},
		{"shell form", func(p *KeyParts) {
			p.Command = []string{"sh", "-c", "python3 train.py --trees 200"}
		}, true},
		{"env value", func(p *KeyParts) { p.Env["SEED"] = "43" }, true},
		{"env name", func(p *KeyParts) { delete(p.Env, "SEED"); p.Env["SEEDS"] = "42" }, true},
		{"env added", func(p *KeyParts) { p.Env["DEBUG"] = "" }, true},
		{"env boundary", func(p *KeyParts) { delete(p.Env, "SEED"); p.Env["SEED4"] = "2" }, true},
		{"env moved to params", func(p *KeyParts) { delete(p.Env, "SEED"); p.Params["SEED"] = "42" }, true},
		{"param value", func(p *KeyParts) { p.Params["n_estimators"] = "201" }, true},
		{"param path", func(p *KeyParts) {
			p.Params["data.test"] = p.Params["data.train"]
			delete(p.Params, "data.train")
		}, true},
		{"param removed", func(p *KeyParts) { delete(p.Params, "n_estimators") }, true},
		{"workdir", func(p *KeyParts) { p.Workdir = "src/sub" }, true},
		{"workdir root", func(p *KeyParts) { p.Workdir = "" }, true},
		{"output path", func(p *KeyParts) { p.Outputs["model"] = "build/model2.pkl" }, true},
		{"output name", func(p *KeyParts) {
			p.Outputs["weights"] = p.Outputs["model"]
			delete(p.Outputs, "model")
		}, true},
		{"output added", func(p *KeyParts) { p.Outputs["plot"] = "build/plot.png" }, true},
		{"input path", func(p *KeyParts) { in := p.Inputs["code"]; in.Path = "src/train2.py"; p.Inputs["code"] = in }, true},
		{"input digest", func(p *KeyParts) {
			in := p.Inputs["code"]
			in.Digest = cache.SumBytes([]byte("print(2)"))
			p.Inputs["code"] = in
		}, true},
		{"input perm", func(p *KeyParts) { in := p.Inputs["code"]; in.Perm = 0o755; p.Inputs["code"] = in }, true},
		{"input kind", func(p *KeyParts) { in := p.Inputs["data"]; in.Kind = cache.KindFile; p.Inputs["data"] = in }, true},
		{"input name", func(p *KeyParts) { p.Inputs["script"] = p.Inputs["code"]; delete(p.Inputs, "code") }, true},
		{"input added", func(p *KeyParts) { p.Inputs["extra"] = Input{Path: "x", Kind: cache.KindFile} }, true},
		{"input removed", func(p *KeyParts) { delete(p.Inputs, "data") }, true},
		{"input moved to output", func(p *KeyParts) {
			delete(p.Inputs, "code")
			p.Outputs["code"] = "src/train.py"
		}, true},
	}
	base := baseParts().Key()
	seen := map[cache.ActionKey]string{base: "nothing"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := baseParts()
			tt.change(p)
			got := p.Key()
			if changed := got != base; changed != tt.changed {
				t.Errorf("key changed = %v, want %v", changed, tt.changed)
			}
			if prev, ok := seen[got]; ok && prev != tt.name && tt.changed {
				t.Errorf("key equals the key of case %q", prev)
			}
			seen[got] = tt.name
		})
	}
}

// Nil and empty maps describe the same stage and must give the same key.
func TestKeyNilMaps(t *testing.T) {
	a := &KeyParts{Command: []string{"true"}}
	b := &KeyParts{Command: []string{"true"}, Env: map[string]string{}, Params: map[string]string{}, Outputs: map[string]string{}, Inputs: map[string]Input{}}
	if a.Key() != b.Key() {
		t.Error("nil and empty maps give different keys")
	}
}

// Only the execute bits of an input's mode reach the key, so that people
// with different umasks share results.
func TestKeyPermUmask(t *testing.T) {
	keyWith := func(perm fs.FileMode) cache.ActionKey {
		p := &KeyParts{Command: []string{"sh", "run.sh"}, Inputs: map[string]Input{
			"script": {Path: "run.sh", Kind: cache.KindFile, Perm: perm, Digest: cache.SumBytes([]byte("echo"))},
		}}
		return p.Key()
	}
	tests := []struct {
		a, b fs.FileMode
		same bool
	}{
		{0o644, 0o664, true},
		{0o644, 0o600, true},
		{0o755, 0o775, true},
		{0o755, 0o700, true},
		{0o644, 0o755, false},
		{0o600, 0o700, false},
	}
	for _, tt := range tests {
		if same := keyWith(tt.a) == keyWith(tt.b); same != tt.same {
			t.Errorf("keys with modes %04o and %04o equal: %v, want %v", tt.a, tt.b, same, tt.same)
		}
	}
}

// A folder input's digest holds the same reduced permission bits, for
// its files and its subfolders, so clones under any umask share keys.
func TestFolderDigestUmask(t *testing.T) {
	tests := []struct {
		name  string
		chmod map[string]fs.FileMode // paths under the folder, and new modes
		same  bool
	}{
		{"group-writable files", map[string]fs.FileMode{"a.txt": 0o664, "sub/b.txt": 0o660}, true},
		{"group-writable folder", map[string]fs.FileMode{"sub": 0o775}, true},
		{"private folder", map[string]fs.FileMode{"sub": 0o700}, true},
		{"file made executable", map[string]fs.FileMode{"a.txt": 0o755}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newWorkspace(t, "", map[string]string{"data/a.txt": "alpha\n", "data/sub/b.txt": "beta\n"})
			for _, p := range []string{"data/a.txt", "data/sub/b.txt"} {
				if err := os.Chmod(filepath.Join(root, p), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w, err := OpenWorkspace(root, "")
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			before, err := w.inputState("data")
			if err != nil {
				t.Fatal(err)
			}
			for p, mode := range tt.chmod {
				if err := os.Chmod(filepath.Join(root, "data", p), mode); err != nil {
					t.Fatal(err)
				}
			}
			after, err := w.inputState("data")
			if err != nil {
				t.Fatal(err)
			}
			if same := before.Digest == after.Digest; same != tt.same {
				t.Errorf("digests before and after equal: %v, want %v", same, tt.same)
			}
		})
	}
}
