package remote

import (
	"context"
	"io"
)

// bucket is the part of an object store that a Remote uses: a folder for
// file:// remotes (fileBucket), a bucket of a cloud store for the others
// (cloudBucket, linked only into mlb-cloud). Keys are slash-separated
// paths below the remote's folder, such as "blobs/ab/abcd….zst".
// Implementations are safe for concurrent use.
type bucket interface {
	// Exists reports whether an object is stored under key.
	Exists(ctx context.Context, key string) (bool, error)

	// NewReader opens the object under key for reading. For a missing
	// object it returns an error wrapping fs.ErrNotExist.
	NewReader(ctx context.Context, key string) (io.ReadCloser, error)

	// NewWriter starts an object under key. The object becomes visible
	// only when Close succeeds, and then whole. Cancelling ctx before
	// Close aborts the write: Close returns an error and nothing is
	// stored.
	NewWriter(ctx context.Context, key, contentType string) (io.WriteCloser, error)

	// WriteAll stores data under key, whole or not at all.
	WriteAll(ctx context.Context, key string, data []byte, contentType string) error

	// List calls fn with the key of every object whose key starts with
	// prefix, in no particular order, and stops at the first error fn
	// returns.
	List(ctx context.Context, prefix string, fn func(key string) error) error

	// Close releases the client.
	Close() error
}

// zstdContentType is the content type of every object mlb stores: all of
// them are zstd-compressed.
const zstdContentType = "application/zstd"
