package cache

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// memSource hands out segments of an input held in memory.
type memSource []byte

func (m memSource) segment(_ int, i int64) ([]byte, error) {
	return m[i*treeSegment : min(int64(len(m)), (i+1)*treeSegment)], nil
}

func (memSource) hashed(int, int64)          {}
func (memSource) guard(f func() error) error { return f() }

// segmentedBytes returns n bytes in which every segment starts with its
// own number, so that a tree that joins segments in the wrong order gets
// a wrong digest, without generating n random bytes.
func segmentedBytes(n int) []byte {
	seg := randomBytes(treeSegment, 7)
	b := make([]byte, n)
	for off := 0; off < n; off += treeSegment {
		copy(b[off:], seg)
		if n-off >= 8 {
			binary.LittleEndian.PutUint64(b[off:], uint64(off/treeSegment))
		}
	}
	return b
}

// TestHashSegments checks the tree hash against zeebo/blake3 for inputs
// whose last segment ends at or around each boundary of BLAKE3's tree: a
// chunk, the 16 chunks hashed at once, powers of two of chunks, a whole
// segment. A window of segments and more is in TestHashSegmentsWindows.
func TestHashSegments(t *testing.T) {
	var tails []int
	for _, b := range []int{1024, simdBytes, 8 * simdBytes, treeSegment / 2, treeSegment} {
		tails = append(tails, b-1, b, b+1)
	}
	tails = append(tails, 1, 3*1024+7, treeSegment-simdBytes, 777777)
	data := segmentedBytes(3*treeSegment + treeSegment)
	for _, segments := range []int{1, 2, 3} {
		for _, tail := range tails {
			size := segments*treeSegment + tail
			if tail > treeSegment {
				continue
			}
			in := data[:size]
			for _, workers := range []int{1, 2, 3} {
				t.Run(fmt.Sprintf("%d bytes on %d workers", size, workers), func(t *testing.T) {
					got, err := hashSegments(in[:treeSegment], int64(size), memSource(in), workers)
					if err != nil {
						t.Fatal(err)
					}
					if want := SumBytes(in); got != want {
						t.Errorf("digest = %s, want %s", got, want)
					}
				})
			}
		}
	}
}

// TestHashSegmentsWindows checks inputs that span more than one window of
// segments, ending at and around a window's end.
func TestHashSegmentsWindows(t *testing.T) {
	data := segmentedBytes((2*treeWindow + 3) * treeSegment)
	for _, size := range []int{
		(treeWindow+1)*treeSegment - 1,
		(treeWindow + 1) * treeSegment,
		(treeWindow+1)*treeSegment + 1,
		(treeWindow+2)*treeSegment + 12345,
		len(data),
	} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			in := data[:size]
			got, err := hashSegments(in[:treeSegment], int64(size), memSource(in), 2)
			if err != nil {
				t.Fatal(err)
			}
			if want := SumBytes(in); got != want {
				t.Errorf("digest = %s, want %s", got, want)
			}
		})
	}
}

// failingSource fails to give one segment.
type failingSource struct {
	memSource
	bad int64
}

func (f failingSource) segment(w int, i int64) ([]byte, error) {
	if i == f.bad {
		return nil, fmt.Errorf("segment %d unreadable", i)
	}
	return f.memSource.segment(w, i)
}

// TestHashSegmentsError checks that a segment that cannot be read fails
// the hash, wherever it lies.
func TestHashSegmentsError(t *testing.T) {
	data := segmentedBytes(6*treeSegment + 5)
	for _, bad := range []int64{1, 3, 6} {
		t.Run(fmt.Sprint(bad), func(t *testing.T) {
			src := failingSource{memSource(data), bad}
			_, err := hashSegments(data[:treeSegment], int64(len(data)), src, 2)
			if want := fmt.Sprintf("segment %d unreadable", bad); err == nil || err.Error() != want {
				t.Errorf("error = %v, want %q", err, want)
			}
		})
	}
}
