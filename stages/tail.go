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
	if fi, err := f.Stat(); err == nil && fi.Size() > tailBytes {
		_, _ = f.Seek(-tailBytes, io.SeekEnd)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil
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
