package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/mlbuild/mlb/cache"
)

func newStore(t *testing.T) *cache.Store {
	t.Helper()
	s, err := cache.OpenStore(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newFileRemote opens a file:// remote in a fresh folder and returns it
// with the folder.
func newFileRemote(t *testing.T) (*Remote, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "remote")
	r, err := Open(context.Background(), "file://"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, dir
}

func putBlob(t *testing.T, s *cache.Store, content string) cache.Digest {
	t.Helper()
	d, err := s.PutBytes([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestUploadDownload(t *testing.T) {
	ctx := context.Background()
	r, dir := newFileRemote(t)
	src, dst := newStore(t), newStore(t)
	content := strings.Repeat("compressible line\n", 1000)
	d := putBlob(t, src, content)

	if err := r.Upload(ctx, src, []cache.Digest{d, d}); err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	if st.UploadedBlobs != 1 || st.UploadedBytes != int64(len(content)) {
		t.Errorf("after one upload: %d blobs, %d bytes; want 1 blob, %d bytes", st.UploadedBlobs, st.UploadedBytes, len(content))
	}
	if st.SentBytes >= int64(len(content)) || st.SentBytes == 0 {
		t.Errorf("sent %d bytes for %d repetitive bytes: not compressed", st.SentBytes, len(content))
	}
	if _, err := os.Stat(filepath.Join(dir, blobKey(d))); err != nil {
		t.Errorf("blob not in the remote folder: %v", err)
	}

	// A second Remote has no record of the blob, so it checks, finds the
	// blob there and sends nothing.
	r2, err := Open(ctx, "file://"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if err := r2.Upload(ctx, src, []cache.Digest{d}); err != nil {
		t.Fatal(err)
	}
	if st := r2.Stats(); st.UploadedBlobs != 0 || st.SentBytes != 0 {
		t.Errorf("upload of a blob the remote has: %d blobs, %d bytes sent; want none", st.UploadedBlobs, st.SentBytes)
	}

	if err := r2.Download(ctx, dst, []BlobRef{{Digest: d, Size: int64(len(content))}}); err != nil {
		t.Fatal(err)
	}
	got, err := dst.ReadBlob(d)
	if err != nil || string(got) != content {
		t.Fatalf("downloaded blob = %d bytes, %v; want the %d bytes uploaded", len(got), err, len(content))
	}
	if st := r2.Stats(); st.DownloadedBlobs != 1 || st.DownloadedBytes != int64(len(content)) {
		t.Errorf("after one download: %d blobs, %d bytes", st.DownloadedBlobs, st.DownloadedBytes)
	}
}

// writeObject puts raw bytes under key in the file remote at dir.
func writeObject(t *testing.T, dir, key string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDownloadDamaged(t *testing.T) {
	ctx := context.Background()
	content := []byte("the real bytes\n")
	d := cache.SumBytes(content)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		object []byte // nil: no object
		size   int64
		miss   func(error) bool
	}{
		{"other bytes", enc.EncodeAll([]byte("the fake bytes\n"), nil), int64(len(content)), isCorrupt},
		{"not zstd", []byte("plain text"), int64(len(content)), isCorrupt},
		{"truncated frame", enc.EncodeAll(content, nil)[:8], int64(len(content)), isCorrupt},
		{"wrong size recorded", enc.EncodeAll(content, nil), int64(len(content)) + 1, isCorrupt},
		{"missing", nil, int64(len(content)), func(err error) bool { return errors.Is(err, cache.ErrNotFound) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, dir := newFileRemote(t)
			s := newStore(t)
			if tt.object != nil {
				writeObject(t, dir, blobKey(d), tt.object)
			}
			err := r.Download(ctx, s, []BlobRef{{Digest: d, Size: tt.size}})
			if !tt.miss(err) {
				t.Fatalf("Download = %v, want a miss", err)
			}
			var re *Error
			if errors.As(err, &re) {
				t.Errorf("Download = %v, a failure of the remote; want a miss", err)
			}
			if s.HasBlob(d) {
				t.Errorf("a damaged blob entered the store")
			}
		})
	}
}

func isCorrupt(err error) bool {
	var ce *cache.CorruptError
	return errors.As(err, &ce)
}

func TestUploadReplacesDamagedBlob(t *testing.T) {
	ctx := context.Background()
	r, dir := newFileRemote(t)
	src := newStore(t)
	d := putBlob(t, src, "good\n")
	writeObject(t, dir, blobKey(d), []byte("damaged"))

	// The object exists, so only a download that failed on it makes the
	// upload send the blob again.
	if err := r.Download(ctx, newStore(t), []BlobRef{{Digest: d, Size: 5}}); !isCorrupt(err) {
		t.Fatalf("Download of the damaged blob = %v, want corrupt", err)
	}
	if err := r.Upload(ctx, src, []cache.Digest{d}); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.UploadedBlobs != 1 {
		t.Fatalf("uploaded %d blobs, want the damaged one sent again", st.UploadedBlobs)
	}
	dst := newStore(t)
	if err := r.Download(ctx, dst, []BlobRef{{Digest: d, Size: 5}}); err != nil {
		t.Fatalf("Download after the repair: %v", err)
	}
}

func TestUploadRejectsDamagedLocalBlob(t *testing.T) {
	ctx := context.Background()
	r, dir := newFileRemote(t)
	s := newStore(t)
	d := putBlob(t, s, "local\n")
	p := s.BlobPath(d)
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("rotten"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Upload(ctx, s, []cache.Digest{d}); !isCorrupt(err) {
		t.Fatalf("Upload of a damaged local blob = %v, want corrupt", err)
	}
	if _, err := os.Stat(filepath.Join(dir, blobKey(d))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the damaged blob reached the remote: %v", err)
	}
}

func TestActionRoundTrip(t *testing.T) {
	ctx := context.Background()
	r, dir := newFileRemote(t)
	k := cache.ActionKey(cache.SumBytes([]byte("stage key")))
	if _, err := r.GetAction(ctx, k); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("GetAction before any put = %v, want not found", err)
	}
	ar := &cache.ActionResult{Key: k, Stage: "train", Outputs: []cache.Output{{Name: "m", Path: "build/m", Kind: cache.KindFile, Digest: cache.SumBytes([]byte("m")), Size: 1}}}
	if err := r.PutAction(ctx, ar); err != nil {
		t.Fatal(err)
	}
	got, err := r.GetAction(ctx, k)
	if err != nil || got.Stage != "train" || got.Outputs[0].Path != "build/m" {
		t.Fatalf("GetAction = %+v, %v", got, err)
	}

	// Filed under another key, it is corrupt.
	other := cache.ActionKey(cache.SumBytes([]byte("other key")))
	data, err := os.ReadFile(filepath.Join(dir, actionKey(k)))
	if err != nil {
		t.Fatal(err)
	}
	writeObject(t, dir, actionKey(other), data)
	if _, err := r.GetAction(ctx, other); !isCorrupt(err) {
		t.Errorf("GetAction of a result filed under another key = %v, want corrupt", err)
	}
}

func TestRunRecords(t *testing.T) {
	ctx := context.Background()
	r, dir := newFileRemote(t)
	for _, name := range []string{"00000000000000000002-bbbb.json.zst", "00000000000000000001-aaaa.json.zst"} {
		if err := r.PutRun(ctx, name, []byte(name)); err != nil {
			t.Fatal(err)
		}
	}
	writeObject(t, dir, "runs/00000000000000000003-cccc.json.zst.1a2b.tmp", []byte("partial"))
	names, err := r.RunNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, " ") != "00000000000000000001-aaaa.json.zst 00000000000000000002-bbbb.json.zst" {
		t.Errorf("RunNames = %v, want the two records oldest first, without the temporary file", names)
	}
	if err := r.PutRun(ctx, "../escape.json.zst", nil); err == nil {
		t.Errorf("PutRun with a path for a name: no error")
	}
	if _, err := r.GetRun(ctx, "00000000000000000009-ffff.json.zst"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("GetRun of a missing record = %v, want not found", err)
	}
}

func TestFetchOutputsRejectsUnsafeTree(t *testing.T) {
	ctx := context.Background()
	r, _ := newFileRemote(t)
	src := newStore(t)
	file := putBlob(t, src, "x")
	bad := &cache.Tree{Entries: []cache.TreeEntry{
		{Path: "link", Kind: cache.KindSymlink, Target: "/etc"},
		{Path: "link/passwd", Kind: cache.KindFile, Perm: 0o644, Size: 1, Digest: file},
	}}
	tree := putBlob(t, src, string(bad.Encode()))
	if err := r.Upload(ctx, src, []cache.Digest{file, tree}); err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	err := r.FetchOutputs(ctx, dst, []cache.Output{{Name: "d", Path: "build/d", Kind: cache.KindDir, Digest: tree}})
	if !isCorrupt(err) {
		t.Fatalf("FetchOutputs of a tree with an entry under a symlink = %v, want corrupt", err)
	}
	if dst.HasBlob(file) {
		t.Errorf("the files of an unsafe tree were downloaded")
	}
}

// openURLTest is a case of TestOpenURLs.
type openURLTest struct {
	url     string
	wantErr string // "" for success
}

// s3TestEnv sets the AWS SDK's environment for a server on 127.0.0.1: test
// credentials, and no metadata service or shared configuration, so that no
// request leaves the machine.
func s3TestEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "testaccess")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testsecret123")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

func TestOpenURLs(t *testing.T) {
	ctx := context.Background()
	tests := []openURLTest{
		{"file://" + t.TempDir() + "/r", ""},
		{"file://" + t.TempDir() + "/r?metadata=skip", ""},
		{"file://" + t.TempDir() + "/r?bogus=1", `unknown query parameter "bogus"`},
		{"file://host/r", "a file URL needs an absolute path"},
		{"file:relative/r", "a file URL needs an absolute path"},
		{"ftp://host/r", `invalid remote URL "ftp://host/r": unknown scheme "ftp": use s3://BUCKET[/FOLDER]`},
		{"s3:///folder", "names no bucket"},
		{"s3://AKIAEXAMPLE:hunter2secret@bucket/folder", `invalid remote URL "s3://bucket/folder": contains user info`},
		{"gs://", "names no bucket"},
	}
	tests = append(tests, cloudOpenURLTests...)
	s3TestEnv(t)
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			r, err := Open(ctx, tt.url, Options{})
			if err == nil {
				r.Close()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Open: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Open = %v, want an error containing %q", err, tt.wantErr)
			}
			if err != nil && (strings.Contains(err.Error(), "hunter2secret") || strings.Contains(err.Error(), "AKIAEXAMPLE")) {
				t.Errorf("error shows the URL's user info: %v", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"s3://bucket/folder?endpoint=http://x&region=y": "s3://bucket/folder",
		"s3://user:pass@bucket/folder":                  "s3://bucket/folder",
		"file:///srv/cache":                             "file:///srv/cache",
		"azblob://container?sig=abc#frag":               "azblob://container",
		"s3://user:pass@bad host/%zz":                   "(unparsable URL)",
		"s3://bad host/%zz?sig=abc":                     "(unparsable URL)",
		"s3://bad host/%zz":                             "s3://bad host/%zz",
		"s3://":                                         "s3://",
	}
	for in, want := range tests {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorHidesSecrets(t *testing.T) {
	raw := "s3://bucket/folder?endpoint=http://127.0.0.1:9&region=us-east-1"
	r := &Remote{name: Redact(raw), raw: raw, secrets: []string{"topsecretvalue"}}
	err := r.wrap("get thing", errors.New("request to "+raw+" signed with topsecretvalue failed"))
	msg := err.Error()
	if strings.Contains(msg, "topsecretvalue") || strings.Contains(msg, "endpoint=") {
		t.Errorf("error message shows a secret or the URL's query: %s", msg)
	}
	var re *Error
	if !errors.As(err, &re) {
		t.Errorf("wrap = %T, want *Error", err)
	}
}

func TestEnvSecrets(t *testing.T) {
	got := EnvSecrets([]string{"AWS_SECRET_ACCESS_KEY=s1", "AWS_REGION=us-east-1", "AZURE_STORAGE_KEY=s2", "AWS_SESSION_TOKEN="})
	if strings.Join(got, ",") != "s1,s2" {
		t.Errorf("EnvSecrets = %v, want [s1 s2]", got)
	}
}
