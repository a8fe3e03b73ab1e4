package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mlbuild/mlb/cache"
)

// Defaults for Options.
const (
	// DefaultJobs is how many requests run at once. Transfers wait on the
	// network, not the CPU, so the number does not follow the CPU count.
	// A few requests in flight hide the latency of each without flooding
	// a shared server.
	DefaultJobs = 8

	// DefaultTimeout is how long a request may go without progress: no
	// response to a small request, or no bytes moving in a transfer.
	// Retries inside the cloud SDKs happen within it.
	DefaultTimeout = time.Minute
)

// Options tunes a remote. The zero value means the defaults.
type Options struct {
	Jobs    int           // requests at once; zero means DefaultJobs
	Timeout time.Duration // maximum time without progress; zero means DefaultTimeout

	// Secrets are strings to hide from error messages, such as the values
	// of the credential variables in the environment (see EnvSecrets).
	Secrets []string
}

// Remote is an open remote cache. It is safe for concurrent use.
type Remote struct {
	mu     sync.Mutex
	bucket bucket // nil until the first request opens it

	// The bucket's location: a folder for a file URL, else a cloud URL
	// without its path, which becomes a prefix of every key.
	folder   *fileConfig // nil for a cloud URL
	cloudURL string      // the URL gocloud opens
	prefix   string      // the folder in the bucket, "" or ending in a slash

	name    string   // the URL without user info or query, for messages
	raw     string   // the URL as given, to hide in error messages
	secrets []string // more strings to hide
	timeout time.Duration
	slots   chan struct{} // one token per request in flight

	present sync.Map // cache.Digest -> true: blobs known to be in the remote
	bad     sync.Map // cache.Digest -> true: blobs found damaged or missing in the remote

	// inflight joins concurrent transfers of one blob, as when several
	// stages share a blob, into one.
	inflight singleflight.Group

	stats counters
}

// Open opens the remote cache at rawURL. It checks the URL and sets up the
// client but does not contact the remote, which the first request does. A
// malformed URL returns a *URLError (see parseURL for the forms). A program
// built without the mlb_cloud tag returns a *HelperError for a well-formed
// s3://, gs:// or azblob:// URL. A file:// URL names a folder, created if
// missing (see parseFileURL for its query parameters).
func Open(ctx context.Context, rawURL string, opts Options) (*Remote, error) {
	loc, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if loc.folder == nil && !cloudLinked {
		return nil, &HelperError{URL: loc.name, Helper: CloudHelper}
	}

	r := &Remote{
		folder:   loc.folder,
		cloudURL: loc.cloudURL,
		prefix:   loc.prefix,
		name:     loc.name,
		raw:      rawURL,
		timeout:  opts.Timeout,
	}
	for _, s := range opts.Secrets {
		if s != "" {
			r.secrets = append(r.secrets, s)
		}
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = DefaultJobs
	}
	r.slots = make(chan struct{}, jobs)

	// A cloud client is set up without a request, so a wrong parameter
	// fails here. A folder is opened at the first request instead: a
	// share that is not mounted is a failing remote, not a wrong URL.
	if r.folder != nil {
		return r, nil
	}
	// NOTE: gocloud rejects a query parameter it does not know here, with
	// an untyped error, so such a URL fails as an *Error, not a *URLError.
	if _, err := r.open(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// open returns the bucket, opening it on the first call that succeeds.
func (r *Remote) open(ctx context.Context) (bucket, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bucket != nil {
		return r.bucket, nil
	}
	var b bucket
	var err error
	if r.folder != nil {
		b, err = openFileBucket(*r.folder)
	} else {
		b, err = openCloud(ctx, r.cloudURL, r.prefix)
	}
	if err != nil {
		return nil, r.wrap("open", err)
	}
	r.bucket = b
	return b, nil
}

// EnvSecrets returns the values of the credential variables in env, a list
// of KEY=VALUE strings as os.Environ returns, for Options.Secrets.
func EnvSecrets(env []string) []string {
	names := map[string]bool{
		"AWS_SECRET_ACCESS_KEY":              true,
		"AWS_SESSION_TOKEN":                  true,
		"AZURE_STORAGE_KEY":                  true,
		"AZURE_STORAGE_SAS_TOKEN":            true,
		"AZURE_STORAGE_CONNECTION_STRING":    true,
		"AZURE_STORAGEBLOB_CONNECTIONSTRING": true,
		"AZURE_CLIENT_SECRET":                true,
	}
	var out []string
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && names[k] && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Redact returns rawURL without user info, query and fragment, for
// messages. A URL with none of them is returned as given. A URL that does
// not parse is returned as given when it has no '@', '?' or '#', which
// start the parts that carry credentials, and is replaced by a
// placeholder otherwise.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		if strings.ContainsAny(rawURL, "@?#") {
			return unparsableURL
		}
		return rawURL
	}
	if u.User == nil && !strings.ContainsAny(rawURL, "?#") {
		return rawURL
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment = nil, "", false, ""
	return u.String()
}

// String returns the remote's URL without user info and query.
func (r *Remote) String() string { return r.name }

// Close releases the client.
func (r *Remote) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bucket == nil {
		return nil
	}
	return r.bucket.Close()
}

// Error is a failure of the remote itself, such as a network, permission
// or server error, as opposed to a missing or corrupt entry. Its message
// has the URL's user info, query and known secrets removed.
type Error struct {
	Remote string // the redacted URL
	Op     string // the operation, such as "upload blob 1f2e…"
	Err    error
	msg    string
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.Err }

// wrapRead is wrap for an operation that reads an object: an object that
// does not exist is a miss, wrapping cache.ErrNotFound.
func (r *Remote) wrapRead(op string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remote %s: %s: %w", r.name, op, cache.ErrNotFound)
	}
	return r.wrap(op, err)
}

// wrap turns err from an operation into an *Error with the secrets
// scrubbed from its message. A write that reports a missing file, as a
// file remote does when its folder is gone, is a failure like any other.
func (r *Remote) wrap(op string, err error) error {
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	msg := fmt.Sprintf("remote %s: %s: %v", r.name, op, err)
	if r.raw != "" {
		msg = strings.ReplaceAll(msg, r.raw, r.name)
	}
	for _, s := range r.secrets {
		msg = strings.ReplaceAll(msg, s, "[REDACTED]")
	}
	return &Error{Remote: r.name, Op: op, Err: err, msg: msg}
}

// acquire waits for a free request slot.
func (r *Remote) acquire(ctx context.Context) error {
	select {
	case r.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Remote) release() { <-r.slots }

// errStalled is the cause of a request cancelled for lack of progress.
var errStalled = errors.New("no progress")

// watch returns a context that is cancelled when touch is not called for
// r.timeout, and stop, which releases it. Transfers call touch for every
// chunk, so a slow but moving transfer is never cut off.
func (r *Remote) watch(ctx context.Context) (watched context.Context, touch, stop func()) {
	watched, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(r.timeout, func() { cancel(errStalled) })
	touch = func() { t.Reset(r.timeout) }
	stop = func() {
		t.Stop()
		cancel(nil)
	}
	return watched, touch, stop
}

// timedOut replaces err by a timeout error when watched was cancelled for
// lack of progress.
func (r *Remote) timedOut(watched context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(watched), errStalled) {
		return fmt.Errorf("timed out: no progress for %s", r.timeout)
	}
	return err
}

// readSmall reads a whole object of at most limit bytes, such as an action
// result or a run record.
func (r *Remote) readSmall(ctx context.Context, key string, limit int64) ([]byte, error) {
	if err := r.acquire(ctx); err != nil {
		return nil, err
	}
	defer r.release()
	watched, touch, stop := r.watch(ctx)
	defer stop()
	b, err := r.open(watched)
	if err != nil {
		return nil, err
	}
	rd, err := b.NewReader(watched, key)
	if err != nil {
		return nil, r.timedOut(watched, err)
	}
	defer rd.Close()
	data, err := io.ReadAll(&touchReader{r: io.LimitReader(rd, limit+1), touch: touch})
	if err != nil {
		return nil, r.timedOut(watched, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", errTooLarge, key, limit)
	}
	return data, nil
}

// writeSmall writes a whole object from memory.
func (r *Remote) writeSmall(ctx context.Context, key string, data []byte) error {
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.release()
	watched, _, stop := r.watch(ctx)
	defer stop()
	b, err := r.open(watched)
	if err != nil {
		return err
	}
	err = b.WriteAll(watched, key, data, zstdContentType)
	return r.timedOut(watched, err)
}

// touchReader calls touch for every read that returns data.
type touchReader struct {
	r     io.Reader
	touch func()
	count *atomic.Int64 // bytes read, when not nil
}

func (t *touchReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.touch()
		if t.count != nil {
			t.count.Add(int64(n))
		}
	}
	return n, err
}

// touchWriter calls touch for every write.
type touchWriter struct {
	w     io.Writer
	touch func()
	count *atomic.Int64 // bytes written, when not nil
}

func (t *touchWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if n > 0 {
		t.touch()
		if t.count != nil {
			t.count.Add(int64(n))
		}
	}
	return n, err
}
