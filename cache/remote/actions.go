package remote

import (
	"context"
	"errors"
	"fmt"

	"github.com/mlbuild/mlb/cache"
)

// maxSmallObject bounds the compressed size of an action result or run
// record read from the remote. Both are kilobytes, so the bound only stops
// a broken remote from filling memory.
const maxSmallObject = 64 << 20

// errTooLarge marks a small object over maxSmallObject.
var errTooLarge = errors.New("object too large")

func actionKey(k cache.ActionKey) string {
	h := k.String()
	return "actions/" + h[:2] + "/" + h
}

// GetAction returns the action result filed under k. A missing result
// returns an error wrapping cache.ErrNotFound, and one that does not
// decode or is filed under another key a *cache.CorruptError: both are
// misses. The caller still has to check that the result fits its stage.
func (r *Remote) GetAction(ctx context.Context, k cache.ActionKey) (*cache.ActionResult, error) {
	op := "get action result " + short(k)
	data, err := r.readSmall(ctx, actionKey(k), maxSmallObject)
	if errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("remote %s: %w", r.name, &cache.CorruptError{What: "action result", Name: k.String(), Reason: err.Error()})
	}
	if err != nil {
		return nil, r.wrapRead(op, err)
	}
	ar, err := cache.DecodeAction(data, k)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", r.name, err)
	}
	return ar, nil
}

// PutAction uploads ar under its key. Call it only after Upload put every
// blob ar names: a reader that finds the action result relies on them.
func (r *Remote) PutAction(ctx context.Context, ar *cache.ActionResult) error {
	data, err := cache.EncodeAction(ar)
	if err != nil {
		return fmt.Errorf("encode action result for %s: %w", ar.Stage, err)
	}
	if err := r.writeSmall(ctx, actionKey(ar.Key), data); err != nil {
		return r.wrap("put action result "+short(ar.Key), err)
	}
	return nil
}

// HasAction reports whether the remote has an action result under k.
// Writers upload a result only after its blobs, so a result that exists
// vouches for them. The exception is a blob a download found bad, which
// Damaged reports.
func (r *Remote) HasAction(ctx context.Context, k cache.ActionKey) (bool, error) {
	if err := r.acquire(ctx); err != nil {
		return false, err
	}
	defer r.release()
	watched, _, stop := r.watch(ctx)
	defer stop()
	bucket, err := r.open(watched)
	if err != nil {
		return false, err
	}
	ok, err := bucket.Exists(watched, actionKey(k))
	if err != nil {
		return false, r.wrap("check action result "+short(k), r.timedOut(watched, err))
	}
	return ok, nil
}
