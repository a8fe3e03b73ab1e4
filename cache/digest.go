package cache

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"

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
// reads only cost memory.
const hashBufferSize = 1 << 20

// HashReader returns the digest of everything r yields and its length.
func HashReader(r io.Reader) (Digest, int64, error) {
	h := blake3.New()
	buf := make([]byte, hashBufferSize)
	n, err := io.CopyBuffer(h, r, buf)
	if err != nil {
		return Digest{}, n, err
	}
	var d Digest
	h.Sum(d[:0])
	return d, n, nil
}

// HashFile returns the digest and size of the file at path.
func HashFile(path string) (Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return Digest{}, 0, err
	}
	defer f.Close()
	d, n, err := HashReader(f)
	if err != nil {
		return Digest{}, 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return d, n, nil
}
