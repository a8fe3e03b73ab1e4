package engine

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mlbuild/mlb/cache"
)

// lastBuilt maps each stage name to the key parts of its last successful
// build in this workspace. Status compares against it to say what changed.
type lastBuilt map[string]*KeyParts

func (w *Workspace) statePath() string {
	return filepath.Join(w.Root, StateDir, "last-built.bin")
}

// lastBuiltVersion changes whenever the encoding of lastBuilt or the
// meaning of KeyParts does.
const lastBuiltVersion = "mlb-last-built-v1"

// loadLastBuilt reads the workspace's last-built state; a missing or
// unreadable file means nothing was built yet.
func (w *Workspace) loadLastBuilt() lastBuilt {
	data, err := os.ReadFile(w.statePath())
	if err != nil {
		return lastBuilt{}
	}
	if data, err = unseal(data); err != nil {
		return lastBuilt{}
	}
	lb, err := decodeLastBuilt(data)
	if err != nil {
		return lastBuilt{}
	}
	return lb
}

// encodeLastBuilt writes the state in the workspace's compact encoding,
// stages and map entries sorted: a large graph's state is megabytes of
// key parts, which JSON took tens of milliseconds to write and read back.
func encodeLastBuilt(lb lastBuilt) []byte {
	e := &encoder{buf: make([]byte, 0, 1<<16)}
	e.str(lastBuiltVersion)
	e.uint(uint64(len(lb)))
	for _, name := range sortedKeys(lb) {
		p := lb[name]
		e.str(name)
		e.strs(p.Command)
		e.strMap(p.Env)
		e.strMap(p.Params)
		e.str(p.Workdir)
		e.strMap(p.Outputs)
		e.uint(uint64(len(p.Inputs)))
		for _, k := range sortedKeys(p.Inputs) {
			in := p.Inputs[k]
			e.str(k)
			e.str(in.Path)
			e.uint(uint64(in.Kind))
			e.uint(uint64(in.Perm))
			e.raw(in.Digest[:])
		}
	}
	return e.buf
}

func decodeLastBuilt(data []byte) (lastBuilt, error) {
	d := &decoder{data: data}
	if d.str() != lastBuiltVersion {
		return nil, errBadEncoding
	}
	n := d.count()
	lb := make(lastBuilt, n)
	for range n {
		name := d.str()
		p := &KeyParts{Command: d.strs(), Env: d.strMap(), Params: d.strMap(), Workdir: d.str(), Outputs: d.strMap()}
		inputs := d.count()
		p.Inputs = make(map[string]Input, inputs)
		for range inputs {
			k := d.str()
			in := Input{Path: d.str(), Kind: cache.EntryKind(d.uint()), Perm: fs.FileMode(d.uint())}
			d.raw(in.Digest[:])
			p.Inputs[k] = in
		}
		lb[name] = p
	}
	if d.err != nil || len(d.data) != 0 {
		return nil, errBadEncoding
	}
	return lb, nil
}

// lazyLastBuilt loads the last-built state on first use. A build whose
// stages all match their cached results never needs it, and decoding it
// costs a noticeable share of a no-op build of a large graph.
type lazyLastBuilt struct {
	once sync.Once
	w    *Workspace
	lb   lastBuilt
}

func (l *lazyLastBuilt) get() lastBuilt {
	l.once.Do(func() { l.lb = l.w.loadLastBuilt() })
	return l.lb
}

func (l *lazyLastBuilt) stage(name string) *KeyParts { return l.get()[name] }

// lastRunPath holds the name of the run record the last recorded build of
// this workspace wrote.
func (w *Workspace) lastRunPath() string {
	return filepath.Join(w.Root, StateDir, "last-run")
}

// lastRunFile returns the file name of the workspace's last recorded
// successful build when that run has this hash and its full record is
// still in the cache, else "".
func (w *Workspace) lastRunFile(hash string) string {
	data, err := os.ReadFile(w.lastRunPath())
	if err != nil {
		return ""
	}
	name := strings.TrimSpace(string(data))
	if !strings.HasSuffix(name, "-"+hash+runSuffix) {
		return ""
	}
	if _, err := os.Stat(filepath.Join(runsDir(w.Store), name)); err != nil {
		return ""
	}
	return name
}

func (w *Workspace) saveLastRun(rec *RunRecord) error {
	return writeState(w.lastRunPath(), []byte(runFileName(rec)+"\n"))
}

// writeState replaces a workspace state file through a rename, so a reader
// sees the old or the new contents.
func writeState(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("save build state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save build state: %w", err)
	}
	return nil
}
