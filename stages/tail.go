package stages

import (
	"bytes"
	"io"
	"os"
)

// tailBytes bounds how much of a log Tail reads, so a huge log costs little.
const tailBytes = 64 << 10

// Tail returns the last n lines of the file at path, or nil if it cannot be
// read.
func Tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	seeked := false
	if fi, err := f.Stat(); err == nil && fi.Size() > tailBytes {
		_, err = f.Seek(-tailBytes, io.SeekEnd)
		seeked = err == nil
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil
	}

	// Reading from the middle of the file starts inside a line: drop that
	// part, so that every line returned is whole.
	if seeked {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if len(l) > 0 || len(out) > 0 {
			out = append(out, string(l))
		}
	}
	return out
}
