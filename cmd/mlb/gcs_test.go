package main

import (
	"bytes"
	"fmt"
	"go/build"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// findFakeGCS returns the path of fake-gcs-server, a Cloud Storage
// emulator, from PATH or from where go install puts it, or "".
func findFakeGCS() string {
	if p, err := exec.LookPath("fake-gcs-server"); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOPATH, "bin", "fake-gcs-server")
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p
	}
	return ""
}

// startFakeGCS starts the emulator on 127.0.0.1 with one empty bucket and
// returns its host:port.
func startFakeGCS(t *testing.T, server, bucket string) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	if err := os.Mkdir(filepath.Join(data, bucket), 0o755); err != nil {
		t.Fatal(err)
	}

	host := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(server, "-backend", "memory", "-scheme", "http", "-host", "127.0.0.1",
		"-port", fmt.Sprint(port), "-public-host", host, "-data", data, "-log-level", "error")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start fake-gcs-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	// Ready once it answers a bucket listing.
	for deadline := time.Now().Add(pollLimit); ; {
		resp, err := http.Get("http://" + host + "/storage/v1/b")
		if err == nil {
			resp.Body.Close()
			return host
		}
		if time.Now().After(deadline) {
			t.Fatalf("fake-gcs-server did not answer on %s: %v\n%s", host, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGCSRemoteHandOver builds mlb and mlb-gcs as a user would, and checks
// that mlb hands a command with a gs:// remote over to mlb-gcs: a build
// uploads to an emulated bucket and a fresh clone restores from it. Without
// mlb-gcs, the same command fails with the way to build it.
func TestGCSRemoteHandOver(t *testing.T) {
	server := findFakeGCS()
	if server == "" {
		t.Skip("fake-gcs-server is not installed: run make test-deps")
	}
	bin := t.TempDir()
	for _, b := range []struct{ out, tags string }{{"mlb", ""}, {"mlb-gcs", "mlb_gcs"}} {
		out, err := exec.Command("go", "build", "-tags", b.tags, "-o", filepath.Join(bin, b.out), ".").CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", b.out, err, out)
		}
	}
	host := startFakeGCS(t, server, "team-cache")

	pipeline := `stage "upper" {
  inputs  = { text = "in.txt" }
  outputs = { text = "out.txt" }
  command = "tr a-z A-Z < ${inputs.text} > ${outputs.text}"
}
`
	newClone := func() string {
		dir := t.TempDir()
		for name, data := range map[string]string{"mlb.hcl": pipeline, "in.txt": "hello\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	// STORAGE_EMULATOR_HOST sends the Cloud Storage client to the emulator
	// without credentials, so nothing looks for a metadata server.
	env := append(os.Environ(), "STORAGE_EMULATOR_HOST="+host)
	mlb := func(dir string, env []string, args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(bin, "mlb"), append([]string{"-C", dir}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	const url = "gs://team-cache/ci"
	out, err := mlb(newClone(), env, "build", "--remote", url)
	if err != nil {
		t.Fatalf("build with %s: %v\n%s", url, err, out)
	}
	if !strings.Contains(out, "1 executed") || !strings.Contains(out, "uploaded 3 blobs") {
		t.Errorf("first build should run the stage and upload its blobs:\n%s", out)
	}
	clone := newClone()
	out, err = mlb(clone, env, "build", "--remote", url)
	if err != nil {
		t.Fatalf("build of a fresh clone with %s: %v\n%s", url, err, out)
	}
	if !strings.Contains(out, "0 executed, 1 restored") {
		t.Errorf("a fresh clone should restore the stage from the bucket:\n%s", out)
	}
	if got, err := os.ReadFile(filepath.Join(clone, "out.txt")); err != nil || string(got) != "HELLO\n" {
		t.Errorf("restored out.txt = %q, %v; want %q", got, err, "HELLO\n")
	}

	// Without the helper beside mlb or on PATH.
	if err := os.Remove(filepath.Join(bin, "mlb-gcs")); err != nil {
		t.Fatal(err)
	}
	noHelper := append(env, "PATH=/usr/bin:/bin")
	out, err = mlb(newClone(), noHelper, "build", "--remote", url)
	if err == nil {
		t.Fatalf("build without mlb-gcs succeeded:\n%s", out)
	}
	want := "remote " + url + " needs mlb-gcs, and there is none in " + bin + " or on PATH: build it with make build"
	if !strings.Contains(out, want) {
		t.Errorf("build without mlb-gcs printed:\n%s\nwant it to contain %q", out, want)
	}
}
