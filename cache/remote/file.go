package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Suffixes of files in a file remote's folder that hold no object: the
// temporary files of writes under way or killed, and the attribute side
// files that gocloud.dev/blob/fileblob v0.49, which earlier versions of
// mlb used, wrote unless its URL set metadata=skip.
const (
	tempSuffix  = ".tmp"
	attrsSuffix = ".attrs"
)

// fileConfig is a file remote's folder and options, from its URL.
type fileConfig struct {
	dir       string      // absolute path of the folder
	createDir bool        // create dir at the first request when it is missing
	dirMode   fs.FileMode // permission bits of the folders created, before the umask
}

// parseFileURL returns the folder and options of the file URL u, or a
// *URLError when u is malformed. The query parameters are those of
// fileblob that still mean something: create_dir=BOOL (default true),
// dir_file_mode=MODE (default 0777, less the umask), and metadata=skip and
// no_tmp_dir, which state what this implementation always does. name is
// the redacted URL, for messages.
func parseFileURL(u *url.URL, name string) (fileConfig, error) {
	// Host "." marks a relative path, as in fileblob: file://./cache.
	if (u.Host != "" && u.Host != ".") || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return fileConfig{}, &URLError{URL: name, Problem: "a file URL needs an absolute path", Fix: "use file:///ABSOLUTE/PATH"}
	}
	dir := filepath.FromSlash(u.Path)
	if u.Host == "." {
		dir = strings.TrimPrefix(dir, "/")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fileConfig{}, fmt.Errorf("remote URL %s: %w", name, err)
	}

	c := fileConfig{dir: dir, createDir: true, dirMode: 0o777}
	q := u.Query()
	for _, k := range slices.Sorted(maps.Keys(q)) {
		v := q.Get(k)
		switch k {
		case "create_dir":
			if c.createDir, err = strconv.ParseBool(v); err != nil {
				return fileConfig{}, &URLError{URL: name, Problem: fmt.Sprintf("create_dir=%q", v), Fix: "use create_dir=true or create_dir=false"}
			}
		case "dir_file_mode":
			mode, err := strconv.ParseUint(v, 0, 32)
			if err != nil || mode > 0o777 {
				return fileConfig{}, &URLError{URL: name, Problem: fmt.Sprintf("dir_file_mode=%q", v), Fix: "give permission bits in octal, such as 0775"}
			}
			c.dirMode = fs.FileMode(mode)
		case "metadata":
			if v != "skip" {
				return fileConfig{}, &URLError{URL: name, Problem: fmt.Sprintf("metadata=%q", v),
					Fix: "remove the parameter, since a file remote writes no attribute files and accepts only metadata=skip"}
			}
		case "no_tmp_dir":
			if v == "" {
				return fileConfig{}, &URLError{URL: name, Problem: "no_tmp_dir is empty",
					Fix: "remove the parameter, since a file remote always writes temporary files beside the final ones"}
			}
		default:
			return fileConfig{}, &URLError{URL: name, Problem: fmt.Sprintf("unknown query parameter %q", k),
				Fix: "use create_dir, dir_file_mode, metadata or no_tmp_dir"}
		}
	}
	return c, nil
}

// fileBucket stores each object in a file at its key's path below root,
// the layout fileblob used, so a folder that earlier versions of mlb
// filled stays readable. A write goes to a temporary file beside the
// final one and is renamed into place, so readers see whole objects
// only. Like the local cache, it does not fsync. An object that a power
// cut leaves torn fails its check when read (a blob its digest, an action
// result or run record its decoding), so it is rejected, never used.
type fileBucket struct {
	root    string
	dirMode fs.FileMode
}

// openFileBucket opens the folder c names, creating it when c allows.
func openFileBucket(c fileConfig) (*fileBucket, error) {
	fi, err := os.Stat(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		if !c.createDir {
			return nil, fmt.Errorf("folder %s does not exist: create it, or remove create_dir=false from the URL", c.dir)
		}
		if err = os.MkdirAll(c.dir, c.dirMode); err == nil {
			fi, err = os.Stat(c.dir)
		}
	}
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", c.dir)
	}
	return &fileBucket{root: c.dir, dirMode: c.dirMode}, nil
}

// path returns the file that holds key. Keys come from mlb's own layout,
// so one that is not a clean relative path, or that names a temporary or
// attribute file, is rejected rather than escaped.
func (b *fileBucket) path(key string) (string, error) {
	if !fs.ValidPath(key) || key == "." || strings.HasSuffix(key, tempSuffix) || strings.HasSuffix(key, attrsSuffix) {
		return "", fmt.Errorf("invalid key %q for a file remote", key)
	}
	return filepath.Join(b.root, filepath.FromSlash(key)), nil
}

func (b *fileBucket) Exists(_ context.Context, key string) (bool, error) {
	p, err := b.path(key)
	if err != nil {
		return false, err
	}
	fi, err := os.Stat(p)
	switch {
	case err == nil:
		return !fi.IsDir(), nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

func (b *fileBucket) NewReader(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (b *fileBucket) NewWriter(ctx context.Context, key, _ string) (io.WriteCloser, error) {
	return b.newWriter(ctx, key)
}

func (b *fileBucket) WriteAll(ctx context.Context, key string, data []byte, _ string) error {
	w, err := b.newWriter(ctx, key)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.abort()
		return err
	}
	return w.Close()
}

func (b *fileBucket) newWriter(ctx context.Context, key string) (*fileWriter, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, err
	}
	f, err := b.createTemp(p)
	if err != nil {
		return nil, err
	}
	return &fileWriter{ctx: ctx, f: f, path: p}, nil
}

// createTemp creates the temporary file for the object at path, named
// path.RANDOM.tmp as fileblob named its own. Its mode is 0666 less the
// umask, as for any file a program creates, so that teammates sharing the
// folder can read it. The folders below root are created when missing,
// but root itself is not: a share that is no longer mounted must fail.
func (b *fileBucket) createTemp(path string) (*os.File, error) {
	madeDirs := false
	for collisions := 0; ; {
		name := path + "." + strconv.FormatUint(rand.Uint64(), 16) + tempSuffix
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		switch {
		case err == nil:
			return f, nil
		case errors.Is(err, fs.ErrNotExist) && !madeDirs:
			if err := b.mkdirs(filepath.Dir(path)); err != nil {
				return nil, err
			}
			madeDirs = true
		case errors.Is(err, fs.ErrExist) && collisions < 10:
			collisions++
		default:
			return nil, err
		}
	}
}

// mkdirs creates dir, a folder below root, and its missing parents up to
// root.
func (b *fileBucket) mkdirs(dir string) error {
	err := os.Mkdir(dir, b.dirMode)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	parent := filepath.Dir(dir)
	if !errors.Is(err, fs.ErrNotExist) || parent == b.root {
		return err
	}
	if err := b.mkdirs(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, b.dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// List walks only the folder of prefix's last slash, since no key outside
// it can start with prefix, and only into the subfolders that can hold
// matching keys. Temporary and attribute files are not objects.
func (b *fileBucket) List(ctx context.Context, prefix string, fn func(key string) error) error {
	keyDir := ""
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		keyDir = prefix[:i+1]
		if !fs.ValidPath(prefix[:i]) {
			return fmt.Errorf("invalid key prefix %q for a file remote", prefix)
		}
	}
	return b.walk(ctx, keyDir, prefix, fn)
}

// walk calls fn for the keys below the key folder keyDir ("" for root, or
// a path ending in a slash) that start with prefix. A folder that does
// not exist holds no keys: nothing was stored there yet, or it was
// removed after its parent was read.
func (b *fileBucket) walk(ctx context.Context, keyDir, prefix string, fn func(key string) error) error {
	entries, err := os.ReadDir(filepath.Join(b.root, filepath.FromSlash(keyDir)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		key := keyDir + e.Name()
		if e.IsDir() {
			sub := key + "/"
			if strings.HasPrefix(sub, prefix) || strings.HasPrefix(prefix, sub) {
				if err := b.walk(ctx, sub, prefix, fn); err != nil {
					return err
				}
			}
			continue
		}
		if strings.HasSuffix(key, tempSuffix) || strings.HasSuffix(key, attrsSuffix) || !strings.HasPrefix(key, prefix) {
			continue
		}
		if err := fn(key); err != nil {
			return err
		}
	}
	return nil
}

func (b *fileBucket) Close() error { return nil }

// fileWriter writes an object to its temporary file and renames the file
// into place on Close, unless ctx was cancelled first.
type fileWriter struct {
	ctx  context.Context
	f    *os.File
	path string
}

func (w *fileWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

func (w *fileWriter) Close() error {
	err := w.f.Close()
	if err == nil {
		err = w.ctx.Err()
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.path)
	}
	if err != nil {
		_ = os.Remove(w.f.Name())
	}
	return err
}

// abort removes the temporary file without storing the object.
func (w *fileWriter) abort() {
	_ = w.f.Close()
	_ = os.Remove(w.f.Name())
}
