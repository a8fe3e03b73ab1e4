package engine

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"github.com/zeebo/blake3"

	"github.com/mlbuild/mlb/cache"
)

// KeyParts is the set of values a stage key covers. Run records keep it so
// that status and diff can name the part that changed.
type KeyParts struct {
	Command []string          `json:"command"` // argv; a shell command is sh -c TEXT
	Env     map[string]string `json:"env,omitempty"`
	Params  map[string]string `json:"params,omitempty"` // dotted path -> canonical JSON
	Workdir string            `json:"workdir,omitempty"`
	Outputs map[string]string `json:"outputs"` // name -> path
	Inputs  map[string]Input  `json:"inputs"`  // name -> state
}

// Input is the state of one input when a key was computed.
type Input struct {
	Path   string          `json:"path"`
	Kind   cache.EntryKind `json:"kind"`
	Perm   fs.FileMode     `json:"perm"`
	Digest cache.Digest    `json:"digest"`
}

// keyVersion starts every encoded key. Change it whenever the encoding or
// the meaning of any part changes, so old cache entries stop matching.
const keyVersion = "mlb-stage-key-v1"

// Key returns the stage key of p: BLAKE3 over a length-prefixed encoding of
// each part in a fixed order, maps sorted by key. The encoding is built in
// one buffer, on the stack for a stage of usual size, and hashed at once:
// a no-op build computes a key per stage.
func (p *KeyParts) Key() cache.ActionKey {
	var stack [4096]byte
	buf := stack[:0]
	field := func(v string) {
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	fieldBytes := func(v []byte) {
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	count := func(name string, n int) {
		field(name)
		var num [20]byte
		fieldBytes(strconv.AppendInt(num[:0], int64(n), 10))
	}
	field(keyVersion)
	count("command", len(p.Command))
	for _, c := range p.Command {
		field(c)
	}
	count("env", len(p.Env))
	for _, k := range sortedKeys(p.Env) {
		field(k)
		field(p.Env[k])
	}
	count("params", len(p.Params))
	for _, k := range sortedKeys(p.Params) {
		field(k)
		field(p.Params[k])
	}
	field("workdir")
	field(p.Workdir)
	count("outputs", len(p.Outputs))
	for _, k := range sortedKeys(p.Outputs) {
		field(k)
		field(p.Outputs[k])
	}
	count("inputs", len(p.Inputs))
	for _, k := range sortedKeys(p.Inputs) {
		in := p.Inputs[k]
		field(k)
		field(in.Path)
		fieldBytes([]byte{byte(in.Kind)})
		// The mode in octal, at least four digits.
		var perm [12]byte
		digits := strconv.AppendUint(perm[:0], uint64(keyPerm(in.Perm)), 8)
		if pad := 4 - len(digits); pad > 0 {
			digits = append([]byte("0000"[:pad]), digits...)
		}
		fieldBytes(digits)
		var hexDigest [64]byte
		hex.Encode(hexDigest[:], in.Digest[:])
		fieldBytes(hexDigest[:])
	}
	return cache.ActionKey(blake3.Sum256(buf))
}

// staticParts returns the parts of s's key that need no file system access.
func (s *Stage) staticParts() *KeyParts {
	p := &KeyParts{
		Command: s.Argv,
		Env:     s.Env,
		Params:  map[string]string{},
		Workdir: s.Workdir,
		Outputs: map[string]string{},
		Inputs:  map[string]Input{},
	}
	if len(s.Argv) == 0 {
		p.Command = []string{"sh", "-c", s.Shell}
	}
	for path, v := range s.Params {
		p.Params[path] = v
	}
	for _, o := range s.Outputs {
		p.Outputs[o.Name] = o.Path
	}
	return p
}

func canonicalJSON(v cty.Value) string {
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		panic(fmt.Sprintf("marshal param value: %v", err))
	}
	return string(b)
}

// MissingInputError reports an input that does not exist when its stage is
// about to run.
type MissingInputError struct {
	Stage, Name, Path string
	Where             string // FILE:LINE:COL of the input's declaration, when known
}

func (e *MissingInputError) Error() string {
	msg := fmt.Sprintf("stage %s: input %s (%s) does not exist and no stage produces it: create it or fix the path", e.Stage, e.Name, e.Path)
	if e.Where != "" {
		msg = e.Where + ": " + msg
	}
	return msg
}

// keyParts computes the full key parts of s, hashing its inputs through
// the workspace's file index.
func (w *Workspace) keyParts(s *Stage) (*KeyParts, error) {
	return w.keyPartsFrom(s, w.inputState)
}

// keyPartsFrom is keyParts with each input's state taken from inputState.
// A build with a remote cache passes one that returns the recorded state
// of outputs it did not download.
func (w *Workspace) keyPartsFrom(s *Stage, inputState func(path string) (Input, error)) (*KeyParts, error) {
	p := s.staticParts()
	for _, in := range s.Inputs {
		state, err := inputState(in.Path)
		if os.IsNotExist(err) {
			return nil, &MissingInputError{Stage: s.Name, Name: in.Name, Path: in.Path, Where: declaredAt(in.Range)}
		}
		if err != nil {
			return nil, fmt.Errorf("stage %s: input %s: %w", s.Name, in.Name, err)
		}
		p.Inputs[in.Name] = state
	}
	return p, nil
}

func (w *Workspace) inputState(path string) (Input, error) {
	abs := w.Abs(path)
	fi, err := w.stat(path)
	if err != nil {
		return Input{}, err
	}
	in := Input{Path: path, Perm: fi.Mode().Perm()}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		// Hashing a device or a pipe reads until it ends, and /dev/urandom
		// or a FIFO without a writer never ends.
		return Input{}, fmt.Errorf("input %s is a %s, not a file or folder, and its contents cannot be hashed: copy the data into a file first, or read it in the command without declaring it as an input", path, fileTypeName(fi.Mode()))
	}
	if fi.IsDir() {
		d, err := w.folderDigest(abs, map[string]bool{})
		if err != nil {
			return Input{}, err
		}
		in.Kind, in.Digest = cache.KindDir, d
		return in, nil
	}
	// The index is asked with the stat data above, so an unchanged file
	// costs one stat.
	d, ok := w.Index.Lookup(abs, fi)
	if !ok {
		if d, ok = w.packing.hashAndPack(path, abs, fi); !ok {
			if d, _, err = cache.HashFile(abs); err != nil {
				return Input{}, err
			}
		}
		w.Index.Record(abs, fi, d)
	}
	in.Kind, in.Digest = cache.KindFile, d
	return in, nil
}

// stat returns the FileInfo of the workspace path, following symlinks.
func (w *Workspace) stat(path string) (fs.FileInfo, error) {
	if w.dir != nil {
		return w.dir.Stat(filepath.FromSlash(path))
	}
	return os.Stat(w.Abs(path))
}

// changedParts lists, in words, how b differs from a: the reasons a stage
// with parts a before now has parts b.
func changedParts(a, b *KeyParts) []string {
	var out []string
	if fmt.Sprint(a.Command) != fmt.Sprint(b.Command) {
		out = append(out, "command changed")
	}
	for _, k := range unionKeys(a.Params, b.Params) {
		av, aok := a.Params[k]
		bv, bok := b.Params[k]
		switch {
		case !aok:
			out = append(out, fmt.Sprintf("param %s now used (%s)", k, bv))
		case !bok:
			out = append(out, fmt.Sprintf("param %s no longer used", k))
		case av != bv:
			out = append(out, fmt.Sprintf("param %s changed: %s -> %s", k, av, bv))
		}
	}
	for _, k := range unionKeys(a.Env, b.Env) {
		if av, bv := a.Env[k], b.Env[k]; av != bv {
			out = append(out, fmt.Sprintf("env %s changed", k))
		}
	}
	if a.Workdir != b.Workdir {
		out = append(out, "workdir changed")
	}
	for _, k := range unionKeys(a.Outputs, b.Outputs) {
		av, aok := a.Outputs[k]
		bv, bok := b.Outputs[k]
		switch {
		case !aok:
			out = append(out, fmt.Sprintf("output %s added", k))
		case !bok:
			out = append(out, fmt.Sprintf("output %s removed", k))
		case av != bv:
			out = append(out, fmt.Sprintf("output %s moved: %s -> %s", k, av, bv))
		}
	}
	for _, k := range unionKeys(a.Inputs, b.Inputs) {
		av, aok := a.Inputs[k]
		bv, bok := b.Inputs[k]
		switch {
		case !aok:
			out = append(out, fmt.Sprintf("input %s added (%s)", k, bv.Path))
		case !bok:
			out = append(out, fmt.Sprintf("input %s removed (%s)", k, av.Path))
		case av.Path != bv.Path:
			out = append(out, fmt.Sprintf("input %s moved: %s -> %s", k, av.Path, bv.Path))
		case av.Digest != bv.Digest:
			out = append(out, fmt.Sprintf("input %s changed (%s)", k, bv.Path))
		case keyPerm(av.Perm) != keyPerm(bv.Perm):
			out = append(out, fmt.Sprintf("input %s mode changed: %04o -> %04o (%s)", k, av.Perm, bv.Perm, bv.Path))
		case av.Kind != bv.Kind:
			out = append(out, fmt.Sprintf("input %s changed kind (%s)", k, bv.Path))
		}
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// KeyChanges lists, in words, how the key parts b differ from a; nil parts
// give a single reason saying they were not recorded.
func KeyChanges(a, b *KeyParts) []string {
	if a == nil || b == nil {
		return []string{"key parts not recorded"}
	}
	changes := changedParts(a, b)
	if len(changes) == 0 {
		return []string{"same parts, other key encoding"}
	}
	return changes
}

// followedTreeHeader starts the digest of a folder whose symlinks point
// outside it.
const followedTreeHeader = "mlb-followed-tree-v1"

// folderDigest returns the digest of the folder at abs. This is its tree
// digest, unless a symlink in it resolves to a path outside it. Then it is
// BLAKE3 over the tree digest and, per such link in path order, the link's
// path and the digest of what the link points to now. That digest is a
// file's content digest, a folder's folderDigest, or a fixed marker for a
// dangling link. A tree records only a link's target string, so without
// this an edit to the file behind a link would leave the key unchanged.
//
// visited contains the real paths of the folders already digested, so a
// link to an ancestor folder is followed once and then gets a marker.
//
// NOTE: recorded outputs carry plain tree digests, so a planned or lazily
// fetched output folder with links that leave it gets another digest than
// the one read here, and a stage reading it may run when it need not.
func (w *Workspace) folderDigest(abs string, visited map[string]bool) (cache.Digest, error) {
	realPath, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return cache.Digest{}, err
	}
	visited[realPath] = true
	// The resolved path: an input folder may itself be a symlink, and a
	// scan does not follow the link at its root.
	t, err := cache.ScanTree(realPath, w.Index)
	if err != nil {
		return cache.Digest{}, err
	}
	// Permission bits are reduced as for a file input, so that clones
	// under different umasks share keys.
	treeDigest := t.PortableDigest()

	var h *blake3.Hasher
	for _, e := range t.Entries {
		if e.Kind != cache.KindSymlink {
			continue
		}
		link := filepath.Join(abs, filepath.FromSlash(e.Path))
		target, inside, err := w.linkTargetDigest(link, realPath, visited)
		if err != nil {
			return cache.Digest{}, err
		}
		if inside {
			continue
		}
		if h == nil {
			h = blake3.New()
			writeKeyFields(h, followedTreeHeader, treeDigest.String())
		}
		writeKeyFields(h, e.Path, target)
	}
	if h == nil {
		return treeDigest, nil
	}
	var d cache.Digest
	h.Sum(d[:0])
	return d, nil
}

// Markers folded into a folder's digest in place of a link target's digest.
const (
	danglingLinkMarker = "dangling"
	visitedLinkMarker  = "folder already followed"
)

// linkTargetDigest returns the digest, or a marker, of what the symlink
// at link points to. It returns inside true, and no digest, when the
// target resolves to a path inside the folder whose real path is root,
// because the folder's tree already lists that path's content.
func (w *Workspace) linkTargetDigest(link, root string, visited map[string]bool) (digest string, inside bool, err error) {
	// os.Stat and filepath.EvalSymlinks resolve a relative target from the
	// link's folder, as the kernel does.
	fi, err := os.Stat(link)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP) {
		return danglingLinkMarker, false, nil
	}
	if err != nil {
		return "", false, err
	}
	realPath, err := filepath.EvalSymlinks(link)
	if err != nil {
		return "", false, err
	}
	if rel, err := filepath.Rel(root, realPath); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", true, nil
	}

	switch {
	case fi.Mode().IsRegular():
		d, _, err := w.Index.FileDigest(realPath)
		if err != nil {
			return "", false, err
		}
		return d.String(), false, nil
	case fi.IsDir():
		if visited[realPath] {
			return visitedLinkMarker, false, nil
		}
		d, err := w.folderDigest(realPath, visited)
		if err != nil {
			return "", false, err
		}
		return d.String(), false, nil
	}
	return "", false, fmt.Errorf("%s: symlink target %s has unsupported file type %s", link, realPath, fi.Mode().Type())
}

// writeKeyFields writes each value to h with its length in front, so no
// two sequences of values write the same bytes.
func writeKeyFields(h *blake3.Hasher, values ...string) {
	var buf []byte
	for _, v := range values {
		buf = binary.AppendUvarint(buf[:0], uint64(len(v)))
		h.Write(buf)
		h.Write([]byte(v))
	}
}

// fileTypeName names the type of a file that is neither a regular file nor
// a folder, for messages.
func fileTypeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file (" + m.Type().String() + ")"
}

// keyPerm is the part of an input's mode that goes into a stage key:
// whether it is executable, as git records it. The other bits follow the
// umask of the user that wrote the file, 0644 for one and 0664 for another.
// A key with them would make two people's builds of the same commit miss
// each other's results in a shared cache. Folder inputs are keyed by
// their tree with the same reduction (see folderDigest).
func keyPerm(p fs.FileMode) fs.FileMode {
	return cache.PortablePerm(p)
}
