package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"testing"
)

// testBucketContract checks the behaviour the Remote relies on from a
// bucket b that holds no objects yet.
func testBucketContract(t *testing.T, b bucket) {
	ctx := context.Background()
	read := func(key string) ([]byte, error) {
		rd, err := b.NewReader(ctx, key)
		if err != nil {
			return nil, err
		}
		defer rd.Close()
		return io.ReadAll(rd)
	}
	list := func(prefix string) []string {
		t.Helper()
		var keys []string
		if err := b.List(ctx, prefix, func(key string) error {
			keys = append(keys, key)
			return nil
		}); err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		slices.Sort(keys)
		return keys
	}

	t.Run("missing object", func(t *testing.T) {
		if ok, err := b.Exists(ctx, "actions/00/missing"); ok || err != nil {
			t.Errorf("Exists of a missing object = %v, %v; want false, nil", ok, err)
		}
		if _, err := read("actions/00/missing"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("NewReader of a missing object = %v, want an error wrapping fs.ErrNotExist", err)
		}
	})

	t.Run("write all", func(t *testing.T) {
		if err := b.WriteAll(ctx, "actions/ab/abcd", []byte("result"), zstdContentType); err != nil {
			t.Fatal(err)
		}
		if ok, err := b.Exists(ctx, "actions/ab/abcd"); !ok || err != nil {
			t.Errorf("Exists after WriteAll = %v, %v; want true, nil", ok, err)
		}
		if got, err := read("actions/ab/abcd"); err != nil || string(got) != "result" {
			t.Errorf("read after WriteAll = %q, %v; want %q", got, err, "result")
		}
	})

	t.Run("writer commits on close", func(t *testing.T) {
		w, err := b.NewWriter(ctx, "blobs/cd/cdef.zst", zstdContentType)
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("blob bytes\n"), 10000)
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if ok, err := b.Exists(ctx, "blobs/cd/cdef.zst"); ok || err != nil {
			t.Errorf("Exists before Close = %v, %v; want false, nil", ok, err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got, err := read("blobs/cd/cdef.zst"); err != nil || !bytes.Equal(got, data) {
			t.Errorf("read after Close = %d bytes, %v; want the %d bytes written", len(got), err, len(data))
		}
	})

	t.Run("cancelled writer stores nothing", func(t *testing.T) {
		wctx, cancel := context.WithCancel(ctx)
		w, err := b.NewWriter(wctx, "blobs/ef/ef01.zst", zstdContentType)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("partial")); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := w.Close(); err == nil {
			t.Errorf("Close after the context was cancelled: no error")
		}
		if ok, err := b.Exists(ctx, "blobs/ef/ef01.zst"); ok || err != nil {
			t.Errorf("Exists after an aborted write = %v, %v; want false, nil", ok, err)
		}
	})

	t.Run("list", func(t *testing.T) {
		for _, key := range []string{"runs/2-b.json.zst", "runs/1-a.json.zst", "runsake/x"} {
			if err := b.WriteAll(ctx, key, []byte(key), zstdContentType); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := list("runs/"), []string{"runs/1-a.json.zst", "runs/2-b.json.zst"}; !slices.Equal(got, want) {
			t.Errorf("List(runs/) = %q, want %q", got, want)
		}
		if got, want := list("blobs/"), []string{"blobs/cd/cdef.zst"}; !slices.Equal(got, want) {
			t.Errorf("List(blobs/) = %q, want %q", got, want)
		}
		if got, want := list("blobs/c"), []string{"blobs/cd/cdef.zst"}; !slices.Equal(got, want) {
			t.Errorf("List(blobs/c) = %q, want %q", got, want)
		}
		if got := list("nothing/"); len(got) != 0 {
			t.Errorf("List(nothing/) = %q, want no keys", got)
		}
	})

	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
