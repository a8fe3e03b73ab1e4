package cache

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// FileHash is the result of hashing one file with HashFiles. Err is set
// when the file could not be hashed, and then Digest and Size are zero.
type FileHash struct {
	Path   string
	Digest Digest
	Size   int64
	Err    error
}

// HashFiles hashes the files at paths on up to jobs goroutines and returns
// one result per path, in the order of paths. Zero or a negative jobs means
// one goroutine per CPU. A file that fails does not stop the others: its
// error is in its result.
//
// Small files are bound by system calls, so hashing several at once is
// how a tree of small files uses every core. A large file is split across
// the cores by HashFile itself.
func HashFiles(paths []string, jobs int) []FileHash {
	out := make([]FileHash, len(paths))
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	jobs = min(jobs, len(paths))

	// Workers take the next path by index, so a slow file holds up only
	// its own worker.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(paths) {
					return
				}
				r := &out[i]
				r.Path = paths[i]
				r.Digest, r.Size, r.Err = HashFile(paths[i])
			}
		}()
	}
	wg.Wait()
	return out
}
