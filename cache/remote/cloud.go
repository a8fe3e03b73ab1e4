//go:build mlb_cloud

package remote

import (
	"context"
	"errors"
	"io"
	"io/fs"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob:// URLs
	_ "gocloud.dev/blob/gcsblob"   // gs:// URLs
	_ "gocloud.dev/blob/s3blob"    // s3:// URLs
	"gocloud.dev/gcerrors"
)

// cloudLinked reports whether this program has the drivers for s3://,
// gs:// and azblob:// remotes.
const cloudLinked = true

// cloudBucket is a bucket of a cloud store, through gocloud.dev/blob.
type cloudBucket struct {
	b *blob.Bucket
}

// openCloud sets up the client for rawURL, a URL without a path, and
// limits it to the keys under prefix ("" or a folder ending in a slash).
// The client contacts the store only at the first request.
func openCloud(ctx context.Context, rawURL, prefix string) (bucket, error) {
	b, err := blob.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	if prefix != "" {
		b = blob.PrefixedBucket(b, prefix)
	}
	return &cloudBucket{b: b}, nil
}

func (c *cloudBucket) Exists(ctx context.Context, key string) (bool, error) {
	return c.b.Exists(ctx, key)
}

func (c *cloudBucket) NewReader(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := c.b.NewReader(ctx, key, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, notFoundError{err}
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (c *cloudBucket) NewWriter(ctx context.Context, key, contentType string) (io.WriteCloser, error) {
	w, err := c.b.NewWriter(ctx, key, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func (c *cloudBucket) WriteAll(ctx context.Context, key string, data []byte, contentType string) error {
	return c.b.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: contentType})
}

func (c *cloudBucket) List(ctx context.Context, prefix string, fn func(key string) error) error {
	it := c.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(obj.Key); err != nil {
			return err
		}
	}
}

func (c *cloudBucket) Close() error { return c.b.Close() }

// notFoundError is gocloud's error for a missing object, marked as
// fs.ErrNotExist as the bucket interface requires.
type notFoundError struct{ err error }

func (e notFoundError) Error() string   { return e.err.Error() }
func (e notFoundError) Unwrap() []error { return []error{e.err, fs.ErrNotExist} }
