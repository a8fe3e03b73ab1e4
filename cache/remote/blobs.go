package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/blake3"
	"golang.org/x/sync/errgroup"

	"github.com/mlbuild/mlb/cache"
)

// BlobRef names a blob to download and, when known, its size.
type BlobRef struct {
	Digest cache.Digest
	Size   int64 // negative when unknown, as for trees and logs
}

// zstdWindow is the window the encoder uses, zstd's own default at
// SpeedDefault. The decoder accepts windows up to maxZstdWindow, so a
// hostile object cannot make it allocate much more.
const (
	zstdWindow    = 8 << 20
	maxZstdWindow = 64 << 20
)

// Encoders and decoders keep large tables, so pooling them makes a
// transfer of many small blobs cheap. Each serves one transfer at a time.
var (
	encoders = sync.Pool{New: func() any {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithWindowSize(zstdWindow), zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(fmt.Sprintf("zstd encoder options: %v", err))
		}
		return e
	}}
	decoders = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil, zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderConcurrency(1))
		if err != nil {
			panic(fmt.Sprintf("zstd decoder options: %v", err))
		}
		return d
	}}
)

func blobKey(d cache.Digest) string {
	h := d.String()
	return "blobs/" + h[:2] + "/" + h + ".zst"
}

// short abbreviates a digest or key for messages.
func short(s fmt.Stringer) string { return s.String()[:12] }

// Upload copies to the remote each blob in digests that it lacks, several
// at once, reading them from store. A blob the remote already has costs
// one existence check, or nothing when this Remote saw it before. A blob
// that a download found damaged or missing is uploaded again. Upload
// returns the first error, after the transfers already started have ended.
func (r *Remote) Upload(ctx context.Context, store *cache.Store, digests []cache.Digest) error {
	r.stats.pendingUp.Add(int64(len(digests)))
	g, gctx := errgroup.WithContext(ctx)
	for _, d := range digests {
		g.Go(func() error {
			defer r.stats.pendingUp.Add(-1)
			_, err, _ := r.inflight.Do("up "+d.String(), func() (any, error) {
				return nil, r.upload(gctx, store, d)
			})
			return err
		})
	}
	return g.Wait()
}

func (r *Remote) upload(ctx context.Context, store *cache.Store, d cache.Digest) error {
	_, damaged := r.bad.Load(d)
	if _, ok := r.present.Load(d); ok && !damaged {
		return nil
	}
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.release()
	key := blobKey(d)
	op := "upload blob " + short(d)
	bucket, err := r.open(ctx)
	if err != nil {
		return err
	}

	// Check first: most blobs of a build that hit are in the remote.
	// A blob found bad is sent without asking.
	if !damaged {
		watched, _, stop := r.watch(ctx)
		ok, err := bucket.Exists(watched, key)
		err = r.timedOut(watched, err)
		stop()
		if err != nil {
			return r.wrap(op, err)
		}
		if ok {
			r.present.Store(d, true)
			return nil
		}
	}

	f, _, err := store.OpenBlobReader(d)
	if err != nil {
		return fmt.Errorf("upload blob %s: %w", d, err)
	}
	defer f.Close()

	// Compress into the writer while hashing what the local store holds.
	// Any failure cancels the writer's context before Close, which aborts
	// the upload instead of committing a partial object.
	watched, touch, stop := r.watch(ctx)
	defer stop()
	wctx, abort := context.WithCancel(watched)
	defer abort()
	w, err := bucket.NewWriter(wctx, key, zstdContentType)
	if err != nil {
		return r.wrap(op, r.timedOut(watched, err))
	}
	sink := &errWriter{w: &touchWriter{w: w, touch: touch, count: &r.stats.sent}}
	enc := encoders.Get().(*zstd.Encoder)
	enc.Reset(sink)
	h := blake3.New()
	n, err := io.Copy(enc, io.TeeReader(f, h))
	if err == nil {
		err = enc.Close()
	}
	enc.Reset(nil)
	encoders.Put(enc)
	var got cache.Digest
	h.Sum(got[:0])
	if err == nil && got != d {
		err = &cache.CorruptError{What: "blob", Name: d.String(), Reason: "local copy hashes to " + got.String()}
	}
	if err != nil {
		abort()
		_ = w.Close()
		if sink.err != nil {
			return r.wrap(op, r.timedOut(watched, sink.err))
		}
		return fmt.Errorf("upload blob %s: %w", d, err)
	}
	if err := w.Close(); err != nil {
		return r.wrap(op, r.timedOut(watched, err))
	}
	r.present.Store(d, true)
	r.bad.Delete(d)
	r.stats.upBlobs.Add(1)
	r.stats.upBytes.Add(n)
	return nil
}

// Download copies into store each blob in refs that it lacks, several at
// once, verifying each against its digest and, when known, its size. A
// blob missing from the remote is an error wrapping cache.ErrNotFound; a
// damaged one, or one that does not decompress, a *cache.CorruptError.
// Either is remembered, so that Upload and HasAction repair it.
// Download returns the first error, after the transfers already started
// have ended.
func (r *Remote) Download(ctx context.Context, store *cache.Store, refs []BlobRef) error {
	r.stats.pendingDown.Add(int64(len(refs)))
	g, gctx := errgroup.WithContext(ctx)
	for _, ref := range refs {
		g.Go(func() error {
			defer r.stats.pendingDown.Add(-1)
			_, err, _ := r.inflight.Do("down "+ref.Digest.String(), func() (any, error) {
				return nil, r.download(gctx, store, ref)
			})
			return err
		})
	}
	return g.Wait()
}

func (r *Remote) download(ctx context.Context, store *cache.Store, ref BlobRef) error {
	if store.HasBlob(ref.Digest) {
		return nil
	}
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.release()
	op := "download blob " + short(ref.Digest)
	watched, touch, stop := r.watch(ctx)
	defer stop()
	bucket, err := r.open(watched)
	if err != nil {
		return err
	}
	rd, err := bucket.NewReader(watched, blobKey(ref.Digest))
	if err != nil {
		err = r.wrapRead(op, r.timedOut(watched, err))
		if errors.Is(err, cache.ErrNotFound) {
			r.bad.Store(ref.Digest, true)
			r.present.Delete(ref.Digest)
		}
		return err
	}
	defer rd.Close()

	// Decompress into the store, which keeps the blob only if it hashes
	// to its name. A read error is the remote's; a decoding error means
	// the object is damaged.
	// NOTE: a blob of unknown size (a tree or a log) is read to its end
	// before the digest check rejects it, so a hostile remote can fill
	// the disk with one.
	src := &errReader{r: &touchReader{r: rd, touch: touch, count: &r.stats.received}}
	dec := decoders.Get().(*zstd.Decoder)
	defer decoders.Put(dec)
	if err := dec.Reset(src); err != nil {
		return r.damaged(ref.Digest, src, watched, op, err)
	}
	n, err := store.PutVerified(dec, ref.Digest, ref.Size)
	_ = dec.Reset(nil)
	if err != nil {
		return r.damaged(ref.Digest, src, watched, op, err)
	}
	r.present.Store(ref.Digest, true)
	r.stats.downBlobs.Add(1)
	r.stats.downBytes.Add(n)
	return nil
}

// damaged sorts out why a download failed: the remote's read failed, the
// object is damaged, or the local store failed.
func (r *Remote) damaged(d cache.Digest, src *errReader, watched context.Context, op string, err error) error {
	var ce *cache.CorruptError
	var pathErr *fs.PathError
	var linkErr *os.LinkError
	switch {
	case src.err != nil && src.err != io.EOF:
		return r.wrap(op, r.timedOut(watched, src.err))
	case errors.As(err, &ce):
	case errors.As(err, &pathErr), errors.As(err, &linkErr):
		return fmt.Errorf("store blob %s from remote: %w", d, err)
	default:
		// The remote sent all it had, and the store took it: the
		// decoder rejected the data.
		err = &cache.CorruptError{What: "blob", Name: d.String(), Reason: "not valid zstd data: " + err.Error()}
	}
	r.bad.Store(d, true)
	r.present.Delete(d)
	return fmt.Errorf("remote %s: %w", r.name, err)
}

// FetchOutputs downloads into store every blob needed to restore outputs
// that the store lacks: the trees of directory outputs first, then the
// files. A tree from the remote must pass cache.Tree.Validate, so that
// restoring it cannot write outside its folder; one that does not is a
// *cache.CorruptError.
func (r *Remote) FetchOutputs(ctx context.Context, store *cache.Store, outputs []cache.Output) error {
	var trees []BlobRef
	for _, o := range outputs {
		if o.Kind == cache.KindDir {
			trees = append(trees, BlobRef{Digest: o.Digest, Size: -1})
		}
	}
	if err := r.Download(ctx, store, trees); err != nil {
		return err
	}
	seen := map[cache.Digest]bool{}
	var files []BlobRef
	add := func(d cache.Digest, size int64) {
		if !seen[d] {
			seen[d] = true
			files = append(files, BlobRef{Digest: d, Size: size})
		}
	}
	for _, o := range outputs {
		if o.Kind != cache.KindDir {
			add(o.Digest, o.Size)
			continue
		}
		data, err := store.ReadBlob(o.Digest)
		if err != nil {
			return err
		}
		t, err := cache.DecodeTree(data)
		if err == nil {
			err = t.Validate()
		}
		if err != nil {
			return &cache.CorruptError{What: "tree", Name: o.Digest.String(), Reason: err.Error()}
		}
		for _, e := range t.Entries {
			if e.Kind == cache.KindFile {
				add(e.Digest, e.Size)
			}
		}
	}
	return r.Download(ctx, store, files)
}

// errWriter remembers the first error of the writer it wraps.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

// errReader remembers the first error, io.EOF included, of the reader it
// wraps.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

// Damaged reports whether a download found any of digests damaged or
// missing in the remote.
func (r *Remote) Damaged(digests []cache.Digest) bool {
	for _, d := range digests {
		if _, ok := r.bad.Load(d); ok {
			return true
		}
	}
	return false
}
