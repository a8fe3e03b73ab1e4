package remote

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// runSuffix ends the name of every run record.
const runSuffix = ".json.zst"

// PutRun uploads a run record, as encoded data, under name. Call it only
// after the blobs and action results the record names are uploaded.
func (r *Remote) PutRun(ctx context.Context, name string, data []byte) error {
	if !validRunName(name) {
		return fmt.Errorf("invalid run record name %q", name)
	}
	if err := r.writeSmall(ctx, "runs/"+name, data); err != nil {
		return r.wrap("put run record "+name, err)
	}
	return nil
}

// RunNames returns the names of the run records in the remote, sorted
// oldest first: names start with the build's start time.
func (r *Remote) RunNames(ctx context.Context) ([]string, error) {
	if err := r.acquire(ctx); err != nil {
		return nil, err
	}
	defer r.release()
	watched, touch, stop := r.watch(ctx)
	defer stop()
	bucket, err := r.open(watched)
	if err != nil {
		return nil, err
	}
	var names []string
	err = bucket.List(watched, "runs/", func(key string) error {
		touch()
		if name := strings.TrimPrefix(key, "runs/"); validRunName(name) {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, r.wrap("list run records", r.timedOut(watched, err))
	}
	sort.Strings(names)
	return names, nil
}

// GetRun returns the encoded run record named name. A missing record
// returns an error wrapping cache.ErrNotFound.
func (r *Remote) GetRun(ctx context.Context, name string) ([]byte, error) {
	if !validRunName(name) {
		return nil, fmt.Errorf("invalid run record name %q", name)
	}
	data, err := r.readSmall(ctx, "runs/"+name, maxSmallObject)
	if errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("remote %s: run record %s: %w", r.name, name, err)
	}
	if err != nil {
		return nil, r.wrapRead("get run record "+name, err)
	}
	return data, nil
}

// validRunName reports whether name is a plain file name ending in
// runSuffix, as opposed to a temporary file or a path.
func validRunName(name string) bool {
	return strings.HasSuffix(name, runSuffix) && len(name) > len(runSuffix) &&
		!strings.ContainsAny(name, "/\\") && !strings.HasPrefix(name, ".")
}
