package stages

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// A shell command made only of plain words, with at most a redirection of
// its standard output at the end, such as
//
//	head -q -c 16384 a.txt b.txt > out.txt
//
// runs without a shell: Run opens the file and starts the program itself.
// Starting sh costs about a millisecond of CPU per stage, as much as many
// small stage commands themselves, and for such a command the shell does
// nothing the direct start does not do. Anything the shell would expand or
// interpret keeps the shell: quotes, $, globs, ~, comments, pipes, lists,
// other redirections, assignments, builtins and reserved words.
//
// The direct start matches what sh -c does for these commands. It passes
// the same argv and finds the program on the command's own PATH. It sets
// PWD as dash exports it and drops variables whose names sh drops. It
// creates the file with mode 0666 less the umask, and reports a command
// a signal ended as sh does. Where it cannot match, it starts nothing,
// and the command runs under sh, which prints its own message and sets
// its own status. That covers a program not on PATH, a PATH with
// relative entries, a file that cannot be created, and a program that
// exec(2) rejects, such as a script without a #! line that sh reads
// itself.

// directCommand is a shell command that runs without a shell.
type directCommand struct {
	argv   []string
	stdout string // a file to send standard output to, or ""
	append bool   // append to stdout instead of truncating it
}

// plainWordBytes are the bytes a word may hold to need no shell. None of
// them is special to sh anywhere in a word.
var plainWordBytes = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./=:,+%@" {
		t[c] = true
	}
	return t
}()

// shellWords are the builtins and reserved words of POSIX sh and dash. A
// command that starts with one keeps the shell, even when a program of
// that name exists, as for echo, test or pwd, whose builtins differ from
// the programs in small ways.
var shellWords = map[string]bool{
	".": true, ":": true, "alias": true, "bg": true, "break": true, "case": true, "cd": true, "chdir": true,
	"command": true, "continue": true, "do": true, "done": true, "echo": true, "elif": true,
	"else": true, "esac": true, "eval": true, "exec": true, "exit": true, "export": true,
	"false": true, "fc": true, "fg": true, "fi": true, "for": true, "getopts": true,
	"hash": true, "if": true, "in": true, "jobs": true, "kill": true, "local": true,
	"printf": true, "pwd": true, "read": true, "readonly": true, "return": true, "set": true,
	"shift": true, "test": true, "then": true, "times": true, "trap": true, "true": true,
	"type": true, "ulimit": true, "umask": true, "unalias": true, "unset": true,
	"until": true, "wait": true, "while": true,
}

// parseDirect returns the command line as a directCommand, and false when
// it needs a shell.
func parseDirect(line string) (directCommand, bool) {
	var dc directCommand
	fields := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if strings.HasPrefix(f, ">") {
			// Only one redirection, of standard output, as the last
			// element, and not before any word.
			if dc.stdout != "" || len(dc.argv) == 0 {
				return directCommand{}, false
			}
			target := strings.TrimPrefix(f, ">")
			if strings.HasPrefix(target, ">") {
				dc.append = true
				target = target[1:]
			}
			if target == "" {
				if i+1 >= len(fields) {
					return directCommand{}, false
				}
				i++
				target = fields[i]
			}
			if !plainWord(target) || i != len(fields)-1 {
				return directCommand{}, false
			}
			dc.stdout = target
			continue
		}
		if !plainWord(f) {
			return directCommand{}, false
		}
		dc.argv = append(dc.argv, f)
	}
	if len(dc.argv) == 0 || shellWords[dc.argv[0]] || strings.ContainsRune(dc.argv[0], '=') {
		return directCommand{}, false
	}
	return dc, true
}

// plainWord reports whether w is a non-empty word that sh leaves as it is.
func plainWord(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		if !plainWordBytes[w[i]] {
			return false
		}
	}
	return true
}

// findProgram returns the executable regular file that sh would run for
// name on the search path path, and false when there is none or the path
// has entries that are empty or relative, which depend on the working
// directory. A name with a slash is taken as it is. It searches again for
// every command, as sh does, so a program that a stage installs on PATH
// is found by the stages after it.
func findProgram(path, name string) (string, bool) {
	if strings.ContainsRune(name, '/') {
		return name, true
	}
	for _, dir := range strings.Split(path, ":") {
		if !filepath.IsAbs(dir) {
			return "", false
		}
		p := filepath.Join(dir, name)
		var st unix.Stat_t
		if unix.Stat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || unix.Access(p, unix.X_OK) != nil {
			continue
		}
		return p, true
	}
	return "", false
}

// envValue returns the value of the last entry for name in env, as
// execve hands the last one on.
func envValue(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// shellEnv returns env as sh hands it on: without the variables whose
// names are not shell names, such as "spark.driver.memory", which dash
// drops, and with PWD set to pwd.
func shellEnv(env []string, pwd string) []string {
	out := make([]string, 0, len(env)+1)
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		if name != "PWD" && shellName(name) {
			out = append(out, e)
		}
	}
	return append(out, "PWD="+pwd)
}

// shellName reports whether s is a name sh takes for a variable: a letter
// or underscore, then letters, digits and underscores.
func shellName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// openStdout opens the redirection target of dc relative to dir, as sh
// would. It rejects an absolute path, because a device such as
// /dev/stdout means another file in mlb's process than in the command's.
// It also rejects an existing file that is not regular, such as a FIFO,
// because opening one waits for a reader before the timeout starts.
func (dc directCommand) openStdout(dir string) (*os.File, error) {
	if filepath.IsAbs(dc.stdout) {
		return nil, errors.New("absolute redirection target")
	}
	p := filepath.Join(dir, dc.stdout)
	if fi, err := os.Stat(p); err == nil && !fi.Mode().IsRegular() {
		return nil, errors.New("redirection target is not a regular file")
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if dc.append {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	return os.OpenFile(p, flags, 0o666)
}

// directStarts counts the commands started without a shell, for tests.
var directStarts atomic.Int64

// startDirect starts c's shell command without a shell and returns it, or
// returns nil, having started nothing, when the command needs sh.
func (c Command) startDirect(ctx context.Context) *exec.Cmd {
	if len(c.Argv) != 0 {
		return nil
	}
	dc, ok := parseDirect(c.Shell)
	if !ok {
		return nil
	}
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	path, ok := envValue(env, "PATH")
	if !ok {
		return nil
	}
	prog, ok := findProgram(path, dc.argv[0])
	if !ok {
		return nil
	}

	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return nil
	}
	pwd, ok := shellPWD(env, dir)
	if !ok {
		return nil
	}

	stdout := c.Output
	var f *os.File
	if dc.stdout != "" {
		if f, err = dc.openStdout(dir); err != nil {
			return nil
		}
		stdout = f
	}
	cmd := c.newCmd(ctx, prog, dc.argv, shellEnv(env, pwd), stdout)
	err = cmd.Start()
	if f != nil {
		// The command has its own descriptor of the file now.
		f.Close()
	}
	if err != nil {
		return nil
	}
	directStarts.Add(1)
	return cmd
}

// shellPWD returns the PWD that dash exports when started in the folder
// dir with env: the inherited PWD when it is an absolute path to that
// same folder, else the folder's path with every symlink resolved.
func shellPWD(env []string, dir string) (string, bool) {
	inherited, _ := envValue(env, "PWD")
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return "", false
	}
	pwd := ""
	var ist unix.Stat_t
	if filepath.IsAbs(inherited) && unix.Stat(inherited, &ist) == nil && ist.Dev == st.Dev && ist.Ino == st.Ino {
		pwd = inherited
	} else {
		p, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return "", false
		}
		pwd = p
	}
	return pwd, true
}

// shellStatus returns the exit status sh reports for a command it ran
// that ended as st: 128 plus the signal's number for one a signal ended,
// after writing the signal's name to out as dash does, such as "Killed".
func shellStatus(st *os.ProcessState, out io.Writer) int {
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return st.ExitCode()
	}
	if out != nil && ws.Signal() != syscall.SIGINT && ws.Signal() != syscall.SIGPIPE {
		name := ws.Signal().String()
		line := strings.ToUpper(name[:1]) + name[1:]
		if ws.CoreDump() {
			line += " (core dumped)"
		}
		_, _ = io.WriteString(out, line+"\n")
	}
	return 128 + int(ws.Signal())
}
