package stages

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseDirect(t *testing.T) {
	tests := []struct {
		line   string
		ok     bool
		argv   []string
		stdout string
		append bool
	}{
		{line: "head -q -c 16384 a.txt b.txt > out.txt", ok: true, argv: []string{"head", "-q", "-c", "16384", "a.txt", "b.txt"}, stdout: "out.txt"},
		{line: "python3 train.py --lr=0.1 --out=models/m.pkl", ok: true, argv: []string{"python3", "train.py", "--lr=0.1", "--out=models/m.pkl"}},
		{line: "  cat\ta.txt  >>log.txt ", ok: true, argv: []string{"cat", "a.txt"}, stdout: "log.txt", append: true},
		{line: "cat a.txt >out.txt", ok: true, argv: []string{"cat", "a.txt"}, stdout: "out.txt"},
		{line: "./bin/tool x,y:z+1@2%3", ok: true, argv: []string{"./bin/tool", "x,y:z+1@2%3"}},
		{line: ""},
		{line: "   "},
		{line: "echo hi"},
		{line: "cd data"},
		{line: "true"},
		{line: "if"},
		{line: "SEED=1 python3 train.py"},
		{line: "cat 'a b.txt'"},
		{line: `cat "a.txt"`},
		{line: `cat a\ b`},
		{line: "cat $HOME/a"},
		{line: "cat *.txt"},
		{line: "cat a?.txt"},
		{line: "cat [ab].txt"},
		{line: "cat ~/a"},
		{line: "cat a # comment"},
		{line: "cat a | wc"},
		{line: "cat a; cat b"},
		{line: "cat a && cat b"},
		{line: "cat a &"},
		{line: "cat < a"},
		{line: "cat a 2> err"},
		{line: "cat a 2>&1"},
		{line: "cat a > b > c"},
		{line: "cat a > b c"},
		{line: "cat a >"},
		{line: "> out"},
		{line: "cat a >$OUT"},
		{line: "cat a>b"},
		{line: "cat a\ncat b"},
		{line: "(cat a)"},
		{line: "{ cat a; }"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			dc, ok := parseDirect(tt.line)
			if ok != tt.ok {
				t.Fatalf("parseDirect(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			}
			if !ok {
				return
			}
			if !slices.Equal(dc.argv, tt.argv) || dc.stdout != tt.stdout || dc.append != tt.append {
				t.Errorf("parseDirect(%q) = %q > %q (append %v), want %q > %q (append %v)",
					tt.line, dc.argv, dc.stdout, dc.append, tt.argv, tt.stdout, tt.append)
			}
		})
	}
}

// runBoth runs line in a copy of the folder files describes, once through
// sh and once as Run chooses, and returns what each printed, exited with
// and left in the folder, and whether Run started it without a shell.
func runBoth(t *testing.T, line string, env []string, files map[string]string) (viaShell, viaRun ranResult, direct bool) {
	t.Helper()
	run := func(c Command) ranResult {
		dir := t.TempDir()
		for name, content := range files {
			mode := os.FileMode(0o644)
			if strings.HasSuffix(name, ".sh") {
				mode = 0o755
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
				t.Fatal(err)
			}
		}
		var out bytes.Buffer
		c.Dir, c.Env, c.Output = dir, env, &out
		res, err := Run(context.Background(), c)
		if err != nil {
			t.Fatalf("Run %q: %v", line, err)
		}
		left := map[string]string{}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			fi, _ := e.Info()
			left[e.Name()] = fi.Mode().String() + " " + string(b)
		}
		return ranResult{out: strings.ReplaceAll(out.String(), dir, "DIR"), exit: res.ExitCode, files: left}
	}
	viaShell = run(Command{Argv: []string{"sh", "-c", line}})
	before := directStarts.Load()
	viaRun = run(Command{Shell: line})
	return viaShell, viaRun, directStarts.Load() > before
}

type ranResult struct {
	out   string
	exit  int
	files map[string]string
}

func TestRunDirectMatchesShell(t *testing.T) {
	path := "PATH=" + os.Getenv("PATH")
	tests := []struct {
		name       string
		line       string
		env        []string
		files      map[string]string
		wantDirect bool
		anyOrder   bool // sh orders the environment its own way
	}{
		{name: "redirect", line: "head -c 3 in.txt > out.txt", env: []string{path}, files: map[string]string{"in.txt": "abcdef"}, wantDirect: true},
		{name: "append", line: "cat in.txt >> out.txt", env: []string{path}, files: map[string]string{"in.txt": "new\n", "out.txt": "old\n"}, wantDirect: true},
		{name: "overwrite", line: "cat in.txt > out.txt", env: []string{path}, files: map[string]string{"in.txt": "new\n", "out.txt": "old and longer\n"}, wantDirect: true},
		{name: "output to the log", line: "ls", env: []string{path}, files: map[string]string{"a": "", "b": ""}, wantDirect: true},
		{name: "environment and PWD", line: "env", env: []string{path, "SEED=42", "PWD=/nowhere"}, wantDirect: true, anyOrder: true},
		{name: "exit status and stderr", line: "ls no-such-file", env: []string{path}, wantDirect: true},
		{name: "program not found", line: "no-such-program-mlb arg", env: []string{path}},
		{name: "script without #!", line: "./job.sh", env: []string{path}, files: map[string]string{"job.sh": "echo from the script\n"}},
		{name: "redirect into a missing folder", line: "ls > missing/out.txt", env: []string{path}},
		{name: "relative PATH entry", line: "ls", env: []string{"PATH=bin:" + os.Getenv("PATH")}},
		{name: "no PATH", line: "ls", env: []string{"SEED=1"}},
		{name: "killed by a signal", line: "./die.sh", env: []string{path}, files: map[string]string{"die.sh": "#!/bin/sh\necho started\nkill -KILL $$\n"}, wantDirect: true},
		{name: "names that are not shell names", line: "env", env: []string{path, "spark.driver.memory=4g", "MY-VAR=1", "SEED=1"}, wantDirect: true, anyOrder: true},
		{name: "absolute redirection target", line: "ls > /dev/stdout", env: []string{path}, files: map[string]string{"a": ""}},
		{name: "shell syntax", line: "ls | wc -l", env: []string{path}, files: map[string]string{"a": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh, got, direct := runBoth(t, tt.line, tt.env, tt.files)
			if tt.anyOrder {
				sh.out, got.out = sortedLines(sh.out), sortedLines(got.out)
			}
			if direct != tt.wantDirect {
				t.Errorf("started without a shell = %v, want %v", direct, tt.wantDirect)
			}
			if got.out != sh.out || got.exit != sh.exit {
				t.Errorf("Run printed %q and exited %d; sh -c printed %q and exited %d", got.out, got.exit, sh.out, sh.exit)
			}
			for name, want := range sh.files {
				if got.files[name] != want {
					t.Errorf("file %s: Run left %q, sh -c left %q", name, got.files[name], want)
				}
			}
			if len(got.files) != len(sh.files) {
				t.Errorf("Run left files %v, sh -c left %v", got.files, sh.files)
			}
		})
	}
}

func sortedLines(s string) string {
	lines := strings.Split(s, "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func TestShellPWD(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	physical, err := filepath.EvalSymlinks(real)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		inherited string
		dir       string
		want      string
	}{
		{"inherited names the folder through a link", link, link, link},
		{"inherited names the folder, run through the link", real, link, real},
		{"inherited is elsewhere", t.TempDir(), link, physical},
		{"inherited is relative", "link", link, physical},
		{"nothing inherited", "", link, physical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := []string{"A=1"}
			if tt.inherited != "" {
				env = append(env, "PWD="+tt.inherited)
			}
			got, ok := shellPWD(env, tt.dir)
			if !ok || got != tt.want {
				t.Errorf("shellPWD = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestOpenStdoutRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"fifo", "/dev/stdout", "/proc/self/fd/1"} {
		if f, err := (directCommand{argv: []string{"ls"}, stdout: target}).openStdout(dir); err == nil {
			f.Close()
			t.Errorf("openStdout(%q) opened it, want a refusal that leaves the command to sh", target)
		}
	}
}
