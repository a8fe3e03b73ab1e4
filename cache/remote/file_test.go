package remote

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mlbuild/mlb/cache"
)

func openTestFileBucket(t *testing.T, dir string) *fileBucket {
	t.Helper()
	b, err := openFileBucket(fileConfig{dir: dir, createDir: true, dirMode: 0o777})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFileBucketContract(t *testing.T) {
	testBucketContract(t, openTestFileBucket(t, filepath.Join(t.TempDir(), "remote")))
}

// TestFileRemoteReadsFileblobFolder reads a folder as
// gocloud.dev/blob/fileblob v0.49 left it with its default options: every
// object with an .attrs side file of JSON attributes, and the temporary
// file of a write that was killed, named KEY.HEX.tmp.
func TestFileRemoteReadsFileblobFolder(t *testing.T) {
	ctx := context.Background()
	r, dir := newFileRemote(t)
	src := newStore(t)
	d := putBlob(t, src, "output bytes\n")
	k := cache.ActionKey(cache.SumBytes([]byte("stage key")))
	ar := &cache.ActionResult{Key: k, Stage: "train", Outputs: []cache.Output{{Name: "m", Path: "build/m", Kind: cache.KindFile, Digest: d, Size: 13}}}
	const run = "00000000000000000001-aaaa.json.zst"
	if err := r.Upload(ctx, src, []cache.Digest{d}); err != nil {
		t.Fatal(err)
	}
	if err := r.PutAction(ctx, ar); err != nil {
		t.Fatal(err)
	}
	if err := r.PutRun(ctx, run, []byte("record")); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{blobKey(d), actionKey(k), "runs/" + run} {
		writeObject(t, dir, key+".attrs", []byte(`{"ContentType":"application/zstd","MD5":"AAAAAAAAAAAAAAAAAAAAAA=="}`))
		writeObject(t, dir, key+".17f3a9c2b4d5e6f7.tmp", []byte("partial"))
	}

	// A fresh Remote on the folder finds every object and only those.
	r2, err := Open(ctx, "file://"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	names, err := r2.RunNames(ctx)
	if err != nil || !slices.Equal(names, []string{run}) {
		t.Errorf("RunNames = %q, %v; want [%s]", names, err, run)
	}
	if got, err := r2.GetRun(ctx, run); err != nil || string(got) != "record" {
		t.Errorf("GetRun = %q, %v; want %q", got, err, "record")
	}
	if got, err := r2.GetAction(ctx, k); err != nil || got.Stage != "train" {
		t.Errorf("GetAction = %+v, %v; want the result of train", got, err)
	}
	dst := newStore(t)
	if err := r2.Download(ctx, dst, []BlobRef{{Digest: d, Size: 13}}); err != nil {
		t.Errorf("Download: %v", err)
	}
	var keys []string
	b := openTestFileBucket(t, dir)
	if err := b.List(ctx, "", func(key string) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{actionKey(k), blobKey(d), "runs/" + run}; !slices.Equal(keys, want) {
		t.Errorf("List of the whole folder = %q, want %q", keys, want)
	}
}

// umask returns the process's file mode creation mask, from Linux's
// /proc/self/status.
func umask(t *testing.T) fs.FileMode {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status to read the umask from: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil {
				t.Fatalf("invalid umask line %q", line)
			}
			return fs.FileMode(m)
		}
	}
	t.Skip("no Umask line in /proc/self/status")
	return 0
}

func TestFileBucketModes(t *testing.T) {
	ctx := context.Background()
	mask := umask(t)
	root := filepath.Join(t.TempDir(), "remote")
	b, err := openFileBucket(fileConfig{dir: root, createDir: true, dirMode: 0o700})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WriteAll(ctx, "blobs/ab/abcd.zst", []byte("x"), zstdContentType); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{root, filepath.Join(root, "blobs"), filepath.Join(root, "blobs", "ab")} {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), 0o700&^mask; got != want {
			t.Errorf("%s has mode %04o, want %04o from dir_file_mode 0700", dir, got, want)
		}
	}

	// Objects are created like any file, so that teammates can read them.
	fi, err := os.Stat(filepath.Join(root, "blobs", "ab", "abcd.zst"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), 0o666&^mask; got != want {
		t.Errorf("object has mode %04o, want %04o", got, want)
	}
}

// TestFileBucketFolderGone checks that a folder that disappears after the
// bucket opened it, as an unmounted share does, fails writes instead of
// being created again, and that a path through a plain file fails reads
// instead of reading as a miss.
func TestFileBucketFolderGone(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	root := filepath.Join(parent, "remote")
	b := openTestFileBucket(t, root)
	if err := os.Remove(root); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteAll(ctx, "blobs/ab/abcd.zst", []byte("x"), zstdContentType); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteAll into a removed folder = %v, want not found", err)
	}
	if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteAll created the removed folder again: %v", err)
	}

	if err := os.WriteFile(root, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Exists(ctx, "blobs/ab/abcd.zst"); err == nil {
		t.Errorf("Exists under a plain file = %v, nil; want an error", ok)
	}
	if _, err := b.NewReader(ctx, "blobs/ab/abcd.zst"); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NewReader under a plain file = %v, want an error other than not found", err)
	}
	if err := b.List(ctx, "runs/", func(string) error { return nil }); err == nil {
		t.Errorf("List under a plain file: no error")
	}
}

func TestFileBucketRejectsKeys(t *testing.T) {
	ctx := context.Background()
	b := openTestFileBucket(t, t.TempDir())
	for _, key := range []string{"../escape", "/abs", "a//b", "a/./b", ".", "", "runs/x.attrs", "runs/x.tmp"} {
		if err := b.WriteAll(ctx, key, []byte("x"), zstdContentType); err == nil || !strings.Contains(err.Error(), "invalid key") {
			t.Errorf("WriteAll(%q) = %v, want an invalid key error", key, err)
		}
	}
	if _, err := b.NewReader(ctx, "a/b"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NewReader of a missing key = %v, want not found", err)
	}
	if err := os.MkdirAll(filepath.Join(b.root, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := b.NewReader(ctx, "a/b"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NewReader of a folder = %v, want not found", err)
	}
	if ok, err := b.Exists(ctx, "a/b"); ok || err != nil {
		t.Errorf("Exists of a folder = %v, %v; want false, nil", ok, err)
	}
}

func TestParseFileURL(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url     string
		want    fileConfig
		wantErr string // "" for success
	}{
		{"file:///srv/cache", fileConfig{dir: "/srv/cache", createDir: true, dirMode: 0o777}, ""},
		{"file:///srv/cache/?metadata=skip&no_tmp_dir=true&create_dir=true", fileConfig{dir: "/srv/cache", createDir: true, dirMode: 0o777}, ""},
		{"file:///srv/cache?create_dir=false&dir_file_mode=0775", fileConfig{dir: "/srv/cache", createDir: false, dirMode: 0o775}, ""},
		{"file://./cache", fileConfig{dir: filepath.Join(wd, "cache"), createDir: true, dirMode: 0o777}, ""},
		{"file:///srv/cache?create_dir=maybe", fileConfig{}, `create_dir="maybe": use create_dir=true or create_dir=false`},
		{"file:///srv/cache?dir_file_mode=01777", fileConfig{}, `dir_file_mode="01777": give permission bits in octal`},
		{"file:///srv/cache?dir_file_mode=rwx", fileConfig{}, `dir_file_mode="rwx"`},
		{"file:///srv/cache?metadata=", fileConfig{}, `metadata="": remove the parameter`},
		{"file:///srv/cache?no_tmp_dir=", fileConfig{}, `no_tmp_dir is empty`},
		{"file:///srv/cache?base_url=/x&secret_key_path=k", fileConfig{}, `unknown query parameter "base_url"`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseFileURL(u, Redact(tt.url))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("parseFileURL: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("parseFileURL = %v, want an error containing %q", err, tt.wantErr)
			case tt.wantErr == "" && got != tt.want:
				t.Errorf("parseFileURL = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFileRemoteCreateDirFalse(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "absent")
	r, err := Open(ctx, "file://"+dir+"?create_dir=false", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.GetRun(ctx, "00000000000000000001-aaaa.json.zst")
	var re *Error
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "folder "+dir+" does not exist: create it, or remove create_dir=false") {
		t.Errorf("GetRun from a missing folder with create_dir=false = %v, want a failure of the remote that names the folder", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the folder was created: %v", err)
	}
}
