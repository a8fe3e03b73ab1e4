package cache

import (
	"encoding/hex"
	"fmt"
	"io"
	"sync"

	"github.com/zeebo/blake3"
)

// Digest is the BLAKE3-256 hash of a blob's contents.
type Digest [32]byte

// ActionKey identifies one execution of a stage. It is a digest too, but of
// a canonical description of the work, never of a blob, so it has its own type.
type ActionKey [32]byte

// String returns the digest as 64 lowercase hex characters.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// IsZero reports whether d is the zero value, which means "not computed".
func (d Digest) IsZero() bool { return d == Digest{} }

// MarshalText encodes the digest as hex.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText decodes a hex digest.
func (d *Digest) UnmarshalText(b []byte) error { return decodeHex32((*[32]byte)(d), b) }

// String returns the key as 64 lowercase hex characters.
func (k ActionKey) String() string { return hex.EncodeToString(k[:]) }

// MarshalText encodes the key as hex.
func (k ActionKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes a hex key.
func (k *ActionKey) UnmarshalText(b []byte) error { return decodeHex32((*[32]byte)(k), b) }

// ParseDigest decodes a 64-character hex digest.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	err := d.UnmarshalText([]byte(s))
	return d, err
}

func decodeHex32(dst *[32]byte, b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("invalid digest %q: want 64 hex characters, got %d", b, len(b))
	}
	if _, err := hex.Decode(dst[:], b); err != nil {
		return fmt.Errorf("invalid digest %q: %w", b, err)
	}
	return nil
}

// SumBytes returns the digest of b.
func SumBytes(b []byte) Digest {
	return Digest(blake3.Sum256(b))
}

// hashBufferSize is the read size for hashing files. BLAKE3 in zeebo/blake3
// reaches its full single-core rate with reads of a few hundred KiB; larger
// reads only cost memory. A file shorter than one buffer is hashed in one
// call, without a streaming hasher.
const hashBufferSize = 1 << 20

// hashReadAhead is how many buffers a long input's reader fills ahead of the
// hasher. Two keep both busy; the others absorb uneven read latency from a
// disk.
const hashReadAhead = 4

// hashBuffers recycles read buffers: hashing a tree of many small files would
// otherwise allocate and zero a buffer per file.
var hashBuffers = sync.Pool{New: func() any {
	b := make([]byte, hashBufferSize)
	return &b
}}

// HashReader returns the digest of everything r yields and its length.
// Input longer than one buffer is read on a second goroutine while the
// calling one hashes, so a read from disk overlaps with hashing the bytes
// before it.
func HashReader(r io.Reader) (Digest, int64, error) {
	return hashStream(r, nil)
}

// restHasher hashes a long input whose first buffer, first, is read, by
// a means other than reading the rest from the stream, and returns the
// digest and length of the whole input. With done false it did nothing,
// and hashStream reads the rest from the stream.
type restHasher func(first []byte) (d Digest, n int64, done bool, err error)

// hashStream is HashReader, calling rest, when it is not nil, once the
// input proves longer than one buffer.
func hashStream(r io.Reader, rest restHasher) (Digest, int64, error) {
	bp := hashBuffers.Get().(*[]byte)
	defer hashBuffers.Put(bp)
	n, err := io.ReadFull(r, *bp)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return SumBytes((*bp)[:n]), int64(n), nil
	}
	if err != nil {
		return Digest{}, int64(n), err
	}
	if rest != nil {
		if d, size, done, err := rest(*bp); done {
			return d, size, err
		}
	}

	h := blake3.New()
	_, _ = h.Write(*bp)
	more, err := hashOverlapped(h, r)
	if err != nil {
		return Digest{}, int64(n) + more, err
	}
	var d Digest
	h.Sum(d[:0])
	return d, int64(n) + more, nil
}

// readChunk is one buffer filled by hashOverlapped's reader. A non-nil err
// ends the stream; io.EOF is its normal end.
type readChunk struct {
	buf *[]byte
	n   int
	err error
}

// hashOverlapped feeds h everything r yields until EOF and returns the
// number of bytes. A reader goroutine fills up to hashReadAhead buffers
// while this one hashes. The reader stops after its first short read or
// error, and hashOverlapped always waits for that last chunk, so the
// goroutine never outlives the call. Its sends never block, because there
// are only hashReadAhead buffers and the channel has room for all of them.
func hashOverlapped(h *blake3.Hasher, r io.Reader) (int64, error) {
	free := make(chan *[]byte, hashReadAhead)
	full := make(chan readChunk, hashReadAhead)
	for range hashReadAhead {
		free <- hashBuffers.Get().(*[]byte)
	}
	go func() {
		for {
			bp := <-free
			n, err := io.ReadFull(r, *bp)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			full <- readChunk{bp, n, err}
			if err != nil {
				return
			}
		}
	}()

	var total int64
	for {
		c := <-full
		_, _ = h.Write((*c.buf)[:c.n])
		total += int64(c.n)
		if c.err == nil {
			free <- c.buf
			continue
		}

		// The reader has stopped: every buffer is either this one or
		// back in free.
		hashBuffers.Put(c.buf)
		for len(free) > 0 {
			hashBuffers.Put(<-free)
		}
		if c.err == io.EOF {
			return total, nil
		}
		return total, c.err
	}
}
