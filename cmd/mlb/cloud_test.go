package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// buildMLB builds mlb with the given build tags into out, as make build
// does, with the race detector when this test binary has it.
func buildMLB(t *testing.T, out, tags string) {
	t.Helper()
	args := []string{"build", "-tags", tags, "-o", out}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	cmd := exec.Command("go", append(args, ".")...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, b)
	}
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

	// Ready once it responds to a bucket listing.
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

// TestCloudHandOver builds mlb and mlb-cloud as a user would, and checks
// that mlb hands a command with a gs:// remote over to mlb-cloud: a build
// uploads to an emulated bucket and a fresh clone restores from it.
// Without mlb-cloud, or with one built without the cloud drivers, the
// same command fails with the way to build it. TestRemoteScripts covers
// the hand-over of s3:// remotes.
func TestCloudHandOver(t *testing.T) {
	server := findServer("fake-gcs-server")
	if server == "" {
		t.Skip("fake-gcs-server is not installed: run make test-deps")
	}
	bin := t.TempDir()
	buildMLB(t, filepath.Join(bin, "mlb"), "")
	buildMLB(t, filepath.Join(bin, "mlb-cloud"), "mlb_cloud")
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

	// A helper built without the cloud drivers would hand over to itself.
	buildMLB(t, filepath.Join(bin, "mlb-cloud"), "")
	noHelper := append(env, "PATH=/usr/bin:/bin")
	out, err = mlb(newClone(), noHelper, "build", "--remote", url)
	if err == nil {
		t.Fatalf("build with an mlb-cloud that lacks the drivers succeeded:\n%s", out)
	}
	want := "remote " + url + " needs mlb-cloud, but " + filepath.Join(bin, "mlb-cloud") + " was built without the mlb_cloud build tag: rebuild it with make build"
	if !strings.Contains(out, want) {
		t.Errorf("build with an mlb-cloud that lacks the drivers printed:\n%s\nwant it to contain %q", out, want)
	}

	// Without the helper beside mlb or on PATH.
	if err := os.Remove(filepath.Join(bin, "mlb-cloud")); err != nil {
		t.Fatal(err)
	}
	out, err = mlb(newClone(), noHelper, "build", "--remote", url)
	if err == nil {
		t.Fatalf("build without mlb-cloud succeeded:\n%s", out)
	}
	want = "remote " + url + " needs mlb-cloud, and there is none in " + bin + " or on PATH: build it with make build, or with go build -tags mlb_cloud -o mlb-cloud ./cmd/mlb"
	if !strings.Contains(out, want) {
		t.Errorf("build without mlb-cloud printed:\n%s\nwant it to contain %q", out, want)
	}
}
