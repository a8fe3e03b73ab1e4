package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/rogpeppe/go-internal/testscript"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // the scripts' direct access to the S3 server

	"github.com/mlbuild/mlb/cache"
)

// The S3 server the remote scripts run against: versitygw with its POSIX
// backend, one instance per script on its own port and folder.
const (
	versitygwInstall = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"
	testBucket       = "mlb-cache"
	testFolder       = "team" // the URL's path, a folder inside the bucket
	testAccessKey    = "testaccess"
	testSecretKey    = "testsecret123"
	testRegion       = "us-east-1"
)

// TestRemoteScripts runs every script in testdata/remote twice: against a
// file:// remote, and against a real S3 server. The S3 run is skipped
// only when the versitygw binary cannot be found. mlb, built without the
// cloud drivers, hands the S3 run's commands over to mlb-cloud, which the
// test builds and puts first on the scripts' PATH.
func TestRemoteScripts(t *testing.T) {
	// The scripts' mlb processes get these through the script environment;
	// this process needs them for the remote commands' own S3 requests.
	// No request ever leaves 127.0.0.1: the metadata service and any
	// shared configuration are switched off.
	for k, v := range s3ClientEnv() {
		t.Setenv(k, v)
	}
	hotel, err := filepath.Abs("../../examples/hotel-bookings")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"file", "s3"} {
		t.Run(kind, func(t *testing.T) {
			vgw, helperDir := "", ""
			if kind == "s3" {
				if vgw = findServer("versitygw"); vgw == "" {
					t.Skipf("versitygw not found on PATH or in $GOPATH/bin; install it with: %s", versitygwInstall)
				}
				helperDir = t.TempDir()
				buildMLB(t, filepath.Join(helperDir, "mlb-cloud"), "mlb_cloud")
			}
			testscript.Run(t, testscript.Params{
				Dir: "testdata/remote",
				Setup: func(env *testscript.Env) error {
					env.Setenv("CI", "true")
					env.Setenv("HOTEL", hotel)
					if helperDir != "" {
						env.Setenv("PATH", helperDir+string(filepath.ListSeparator)+env.Getenv("PATH"))
					}
					for k, v := range s3ClientEnv() {
						env.Setenv(k, v)
					}
					tr, err := newTestRemote(kind, vgw)
					if err != nil {
						return err
					}
					env.Defer(tr.close)
					env.Values[testRemoteKey{}] = tr
					if err := tr.start(); err != nil {
						return err
					}
					tr.export(env.Setenv)
					return nil
				},
				Condition: func(cond string) (bool, error) {
					switch cond {
					case "s3", "file":
						return cond == kind, nil
					case "pyml":
						return exec.Command("/usr/bin/python3", "-c", "import pandas, sklearn").Run() == nil, nil
					}
					return false, fmt.Errorf("unknown condition %q", cond)
				},
				Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
					"remote":     cmdRemote,
					"clone":      cmdClone,
					"downloaded": cmdDownloaded,
					"capture":    cmdCapture,
					"exitcode":   cmdExitCode,
				},
			})
		})
	}
}

func s3ClientEnv() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":           testAccessKey,
		"AWS_SECRET_ACCESS_KEY":       testSecretKey,
		"AWS_REGION":                  testRegion,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	}
}

// findServer returns the path of the test server binary name, from PATH
// or from where go install puts it, or "" when it is in neither.
func findServer(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOPATH, "bin", name)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p
	}
	return ""
}

type testRemoteKey struct{}

// testRemote is the remote cache of one script: a folder for file://, a
// versitygw process for s3://.
type testRemote struct {
	kind string
	dir  string // holds everything the remote stores
	vgw  string // versitygw binary
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited
}

func newTestRemote(kind, vgw string) (*testRemote, error) {
	dir, err := os.MkdirTemp("", "mlb-remote-")
	if err != nil {
		return nil, err
	}
	tr := &testRemote{kind: kind, dir: dir, vgw: vgw}
	if kind == "file" {
		// The remote's URL names a symlink to the real folder, so that
		// stopping it is one atomic rename that points the link at a
		// plain file: no upload under way can bring the folder back.
		if err := os.Mkdir(filepath.Join(dir, "store"), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "dead"), nil, 0o644); err != nil {
			return nil, err
		}
		if err := os.Symlink("store", filepath.Join(dir, "cache")); err != nil {
			return nil, err
		}
	}
	if kind == "s3" {
		// Each sub-folder of the POSIX root is a bucket.
		if err := os.Mkdir(filepath.Join(dir, testBucket), 0o755); err != nil {
			return nil, err
		}
		if tr.port, err = freePort(); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

// url returns the remote's URL as a user writes it.
func (tr *testRemote) url() string {
	if tr.kind == "file" {
		return "file://" + filepath.Join(tr.dir, "cache")
	}
	return fmt.Sprintf("s3://%s/%s?%s", testBucket, testFolder, tr.s3Query())
}

func (tr *testRemote) s3Query() string {
	return fmt.Sprintf("endpoint=http://127.0.0.1:%d&use_path_style=true&region=%s", tr.port, testRegion)
}

// export sets the variables scripts use: REMOTE, the URL, and the shell
// commands a stage runs to stop the remote (REMOTE_KILL) or, for S3, to
// freeze it so that requests hang (REMOTE_PAUSE).
func (tr *testRemote) export(setenv func(k, v string)) {
	setenv("REMOTE", tr.url())
	if tr.kind == "file" {
		setenv("REMOTE_KILL", tr.pointCache("dead"))
		setenv("REMOTE_PAUSE", "false")
		return
	}
	setenv("REMOTE_KILL", fmt.Sprintf("kill -KILL %d", tr.cmd.Process.Pid))
	setenv("REMOTE_PAUSE", fmt.Sprintf("kill -STOP %d", tr.cmd.Process.Pid))
}

// start makes the remote reachable. A file remote that was stopped gets
// its folder back; an S3 server starts on the same port and folder.
func (tr *testRemote) start() error {
	if tr.kind == "file" {
		return exec.Command("sh", "-c", tr.pointCache("store")).Run()
	}
	if tr.running() {
		return nil
	}
	cmd := exec.Command(tr.vgw, "posix", tr.dir)
	cmd.Env = append(os.Environ(),
		"ROOT_ACCESS_KEY="+testAccessKey,
		"ROOT_SECRET_KEY="+testSecretKey,
		fmt.Sprintf("VGW_PORT=127.0.0.1:%d", tr.port),
		"VGW_REGION="+testRegion,
		"VGW_HEALTH=/healthz",
		"VGW_QUIET=true",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	tr.cmd, tr.done = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(tr.done)
	}()

	// Poll the health endpoint. The limit only guards against a server
	// that never comes up; nothing here measures time.
	healthz := fmt.Sprintf("http://127.0.0.1:%d/healthz", tr.port)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-tr.done:
			return fmt.Errorf("versitygw exited at start: %s", out.String())
		default:
		}
		resp, err := http.Get(healthz)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("versitygw on port %d not ready after 30s: %s", tr.port, out.String())
}

// pointCache returns the shell command that points a file remote's link
// at target, in one rename.
func (tr *testRemote) pointCache(target string) string {
	link := filepath.Join(tr.dir, "cache")
	return fmt.Sprintf("ln -sfn %s %s.new && mv -T %s.new %s", target, link, link, link)
}

func (tr *testRemote) running() bool {
	if tr.cmd == nil {
		return false
	}
	select {
	case <-tr.done:
		return false
	default:
		return true
	}
}

// stop makes the remote unreachable: the S3 server is killed, and a file
// remote's link points at a plain file, so that every request fails.
func (tr *testRemote) stop() error {
	if tr.kind == "file" {
		return exec.Command("sh", "-c", tr.pointCache("dead")).Run()
	}
	if !tr.running() {
		return nil
	}
	_ = tr.cmd.Process.Signal(syscall.SIGKILL)
	<-tr.done
	return nil
}

func (tr *testRemote) close() {
	_ = tr.stop()
	_ = os.RemoveAll(tr.dir)
}

// objects opens the remote's storage directly, beside mlb, for scripts
// that damage or count what it holds.
func (tr *testRemote) objects(ctx context.Context) (testObjects, error) {
	if tr.kind == "file" {
		return folderObjects(filepath.Join(tr.dir, "store")), nil
	}
	b, err := blob.OpenBucket(ctx, "s3://"+testBucket+"?"+tr.s3Query())
	if err != nil {
		return nil, err
	}
	return bucketObjects{blob.PrefixedBucket(b, testFolder+"/")}, nil
}

// testObjects is direct access to the objects of a test remote.
type testObjects interface {
	// keys returns the keys of the objects under prefix, without the
	// temporary files of writes under way.
	keys(ctx context.Context, prefix string) ([]string, error)
	exists(ctx context.Context, key string) (bool, error)
	read(ctx context.Context, key string) ([]byte, error)
	write(ctx context.Context, key string, data []byte) error
	remove(ctx context.Context, key string) error
	close() error
}

// folderObjects is a file remote's folder, which stores each object in a
// file at its key's path.
type folderObjects string

func (f folderObjects) path(key string) string {
	return filepath.Join(string(f), filepath.FromSlash(key))
}

func (f folderObjects) keys(_ context.Context, prefix string) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(string(f), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(string(f), p)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) && !strings.HasSuffix(key, ".tmp") {
			keys = append(keys, key)
		}
		return nil
	})
	return keys, err
}

func (f folderObjects) exists(_ context.Context, key string) (bool, error) {
	_, err := os.Stat(f.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (f folderObjects) read(_ context.Context, key string) ([]byte, error) {
	return os.ReadFile(f.path(key))
}

// write replaces the object in place, which is enough for a test that
// runs while no mlb writes.
func (f folderObjects) write(_ context.Context, key string, data []byte) error {
	return os.WriteFile(f.path(key), data, 0o644)
}

func (f folderObjects) remove(_ context.Context, key string) error { return os.Remove(f.path(key)) }
func (f folderObjects) close() error                               { return nil }

// bucketObjects is an S3 remote's bucket, through gocloud.dev/blob.
type bucketObjects struct{ b *blob.Bucket }

func (o bucketObjects) keys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	it := o.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return keys, nil
		}
		if err != nil {
			return nil, err
		}
		if !obj.IsDir {
			keys = append(keys, obj.Key)
		}
	}
}

func (o bucketObjects) exists(ctx context.Context, key string) (bool, error) {
	return o.b.Exists(ctx, key)
}

func (o bucketObjects) read(ctx context.Context, key string) ([]byte, error) {
	return o.b.ReadAll(ctx, key)
}

func (o bucketObjects) write(ctx context.Context, key string, data []byte) error {
	return o.b.WriteAll(ctx, key, data, nil)
}

func (o bucketObjects) remove(ctx context.Context, key string) error { return o.b.Delete(ctx, key) }
func (o bucketObjects) close() error                                 { return o.b.Close() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// cmdRemote acts on the script's remote cache:
//
//	remote start                 make it reachable again
//	remote stop                  make it unreachable
//	remote count                 print how many blobs, actions and runs it holds
//	remote corrupt FILE          replace the blob of FILE's contents by other bytes of the same size
//	remote garble FILE           replace the blob of FILE's contents by bytes that are not zstd
//	remote delete FILE           delete the blob of FILE's contents
//	remote rewrite-action OLD NEW
//	                             change output path OLD to NEW in every action result
//	remote seturl FILE           replace @REMOTE@ in FILE by the remote's URL
func cmdRemote(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: remote start|stop|count|corrupt FILE|garble FILE|delete FILE|rewrite-action OLD NEW|seturl FILE")
	}
	tr := ts.Value(testRemoteKey{}).(*testRemote)
	ctx := context.Background()
	switch args[0] {
	case "start":
		ts.Check(tr.start())
		tr.export(ts.Setenv)
		return
	case "stop":
		ts.Check(tr.stop())
		return
	case "seturl":
		path := ts.MkAbs(args[1])
		data, err := os.ReadFile(path)
		ts.Check(err)
		ts.Check(os.WriteFile(path, bytes.ReplaceAll(data, []byte("@REMOTE@"), []byte(tr.url())), 0o644))
		return
	}

	objs, err := tr.objects(ctx)
	ts.Check(err)
	defer objs.close()
	switch args[0] {
	case "count":
		for _, prefix := range []string{"blobs/", "actions/", "runs/"} {
			keys, err := objs.keys(ctx, prefix)
			ts.Check(err)
			fmt.Fprintf(ts.Stdout(), "%s %d\n", strings.TrimSuffix(prefix, "/"), len(keys))
		}
	case "corrupt", "garble", "delete":
		if len(args) != 2 {
			ts.Fatalf("usage: remote %s FILE", args[0])
		}
		data, err := os.ReadFile(ts.MkAbs(args[1]))
		ts.Check(err)
		key := blobKeyOf(cache.SumBytes(data))
		if ok, err := objs.exists(ctx, key); err != nil || !ok {
			ts.Fatalf("remote has no blob for %s (%s): %v", args[1], key, err)
		}
		switch args[0] {
		case "delete":
			ts.Check(objs.remove(ctx, key))
		case "garble":
			ts.Check(objs.write(ctx, key, []byte("these bytes are not zstd")))
		case "corrupt":
			bad := append([]byte(nil), data...)
			bad[0] ^= 0xff
			enc, err := zstd.NewWriter(nil)
			ts.Check(err)
			ts.Check(objs.write(ctx, key, enc.EncodeAll(bad, nil)))
		}
	case "rewrite-action":
		if len(args) != 3 {
			ts.Fatalf("usage: remote rewrite-action OLD NEW")
		}
		keys, err := objs.keys(ctx, "actions/")
		ts.Check(err)
		n := 0
		for _, key := range keys {
			data, err := objs.read(ctx, key)
			ts.Check(err)
			var ar cache.ActionResult
			ts.Check(cache.DecodeCompressed(data, &ar))
			changed := false
			for i := range ar.Outputs {
				if ar.Outputs[i].Path == args[1] {
					ar.Outputs[i].Path = args[2]
					changed = true
				}
			}
			if changed {
				data, err := cache.EncodeAction(&ar)
				ts.Check(err)
				ts.Check(objs.write(ctx, key, data))
				n++
			}
		}
		if n == 0 {
			ts.Fatalf("no action result has output path %s", args[1])
		}
	default:
		ts.Fatalf("unknown remote command %q", args[0])
	}
}

// blobKeyOf is where a remote keeps the blob with digest d.
func blobKeyOf(d cache.Digest) string {
	h := d.String()
	return "blobs/" + h[:2] + "/" + h + ".zst"
}

// cmdClone copies a workspace as a fresh clone would have it: without
// the .mlb state folder and without build outputs.
//
//	clone SRC DST
func cmdClone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: clone SRC DST")
	}
	src, dst := ts.MkAbs(args[0]), ts.MkAbs(args[1])
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() && (rel == ".mlb" || rel == "build") {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, fi.Mode().Perm())
	})
	ts.Check(err)
}

var downloadedRE = regexp.MustCompile(`downloaded (\d+) blobs?, (\d+) bytes`)

// cmdDownloaded checks the remote summary in the last command's stdout:
// the bytes downloaded must equal the total size of the named files. A
// name tree:DIR stands for the manifest of directory DIR, a blob too.
//
//	downloaded [FILE|tree:DIR]...
func cmdDownloaded(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("usage: downloaded [FILE|tree:DIR]...")
	}
	m := downloadedRE.FindStringSubmatch(ts.ReadFile("stdout"))
	if m == nil {
		ts.Fatalf("no remote summary line in stdout")
	}
	got, _ := strconv.ParseInt(m[2], 10, 64)
	var want int64
	for _, a := range args {
		if dir, ok := strings.CutPrefix(a, "tree:"); ok {
			t, err := cache.ScanTree(ts.MkAbs(dir), cache.LoadIndex(filepath.Join(ts.Getenv("WORK"), ".scratch-index")))
			ts.Check(err)
			want += int64(len(t.Encode()))
			continue
		}
		fi, err := os.Stat(ts.MkAbs(a))
		ts.Check(err)
		want += fi.Size()
	}
	if got != want {
		ts.Fatalf("downloaded %d bytes, want %d, the size of %s", got, want, strings.Join(args, " "))
	}
}

// cmdCapture sets an environment variable to the first group that a
// regular expression matches in the last command's stdout:
//
//	capture VAR REGEXP
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: capture VAR REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile("stdout"))
	if len(m) < 2 {
		ts.Fatalf("no match for %s in stdout", args[1])
	}
	ts.Setenv(args[0], m[1])
}
