//go:build mlb_cloud

package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlbuild/mlb/cache"
)

// cloudOpenURLTests are the cases of TestOpenURLs that need the drivers.
var cloudOpenURLTests = []openURLTest{
	{"s3://bucket/folder?endpoint=http://127.0.0.1:1&use_path_style=true&region=us-east-1", ""},
	{"s3://bucket?endpoint=http://127.0.0.1:1&use_path_style=true&region=us-east-1&bogus=1", `unknown query parameter "bogus"`},
}

// TestStalledServer points an S3 remote at a server that accepts
// connections and never responds. The request must end with a timeout
// error, a failure of the remote, instead of hanging.
func TestStalledServer(t *testing.T) {
	// A listener that holds every connection open until the test ends.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				<-stop
				c.Close()
			}()
		}
	}()

	s3TestEnv(t)
	url := "s3://bucket?endpoint=http://" + l.Addr().String() + "&use_path_style=true&region=us-east-1"
	r, err := Open(context.Background(), url, Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	_, err = r.GetAction(context.Background(), cache.ActionKey{})
	var re *Error
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "timed out: no progress for 200ms") {
		t.Fatalf("GetAction from a stalled server = %v, want a timeout *Error", err)
	}
}

// findServer returns the path of a test server's binary, from PATH or
// from where go install puts it, or "".
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

// startServer starts cmd, a server on 127.0.0.1, and waits until a GET of
// readyURL returns a status below 500. The server is killed when the
// test ends.
func startServer(t *testing.T, cmd *exec.Cmd, readyURL string) {
	t.Helper()
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	// The limit only guards against a server that never comes up.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not respond to %s within 30s: %v\n%s", cmd.Path, readyURL, err, log.String())
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestS3BucketContract runs the bucket contract against versitygw, an S3
// server, through a folder inside the bucket as mlb uses it.
func TestS3BucketContract(t *testing.T) {
	server := findServer("versitygw")
	if server == "" {
		t.Skip("versitygw is not installed: run make test-deps")
	}
	s3TestEnv(t)
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "mlb-cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(server, "posix", root)
	cmd.Env = append(os.Environ(),
		"ROOT_ACCESS_KEY=testaccess", "ROOT_SECRET_KEY=testsecret123",
		fmt.Sprintf("VGW_PORT=127.0.0.1:%d", port), "VGW_REGION=us-east-1",
		"VGW_HEALTH=/healthz", "VGW_QUIET=true")
	startServer(t, cmd, fmt.Sprintf("http://127.0.0.1:%d/healthz", port))

	url := fmt.Sprintf("s3://mlb-cache?endpoint=http://127.0.0.1:%d&use_path_style=true&region=us-east-1", port)
	b, err := openCloud(context.Background(), url, "team/")
	if err != nil {
		t.Fatal(err)
	}
	testBucketContract(t, b)
	if _, err := os.Stat(filepath.Join(root, "mlb-cache", "team", "runs", "1-a.json.zst")); err != nil {
		t.Errorf("object not stored under the folder team/: %v", err)
	}
}

// TestGCSBucketContract runs the bucket contract against fake-gcs-server, a
// Cloud Storage emulator, through a folder inside the bucket.
func TestGCSBucketContract(t *testing.T) {
	server := findServer("fake-gcs-server")
	if server == "" {
		t.Skip("fake-gcs-server is not installed: run make test-deps")
	}
	data := t.TempDir()
	if err := os.Mkdir(filepath.Join(data, "mlb-cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	host := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(server, "-backend", "memory", "-scheme", "http", "-host", "127.0.0.1",
		"-port", fmt.Sprint(port), "-public-host", host, "-data", data, "-log-level", "error")
	startServer(t, cmd, "http://"+host+"/storage/v1/b")

	// STORAGE_EMULATOR_HOST sends the client to the emulator without
	// credentials, so nothing looks for a metadata server.
	t.Setenv("STORAGE_EMULATOR_HOST", host)
	b, err := openCloud(context.Background(), "gs://mlb-cache", "team/")
	if err != nil {
		t.Fatal(err)
	}
	testBucketContract(t, b)
}
