package cache

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// ScanTree walks the directory dir and returns its tree. File digests come
// from ix where the stat data is unchanged, and the other files are hashed
// and recorded in ix. A dir that is not a directory, even a symlink to
// one, has an empty tree. On an error no tree is returned.
//
// One goroutine per CPU takes jobs from a shared queue: a folder to list,
// or a part of a folder's files to stat through the folder's descriptor.
// The goroutine that finds a small file unknown to the index hashes it at
// once, so a folder of new files is listed and hashed on every core.
// Larger files are hashed after the walk, several at once.
func ScanTree(dir string, ix *Index) (*Tree, error) {
	root := filepath.Clean(dir)
	st, err := lstatPath(root)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", dir, &os.PathError{Op: "lstat", Path: dir, Err: err})
	}
	if !st.mode.IsDir() {
		return &Tree{}, nil
	}
	s := newScanner(root, ix)
	top, workers := s.walk()
	if err := s.firstErr(); err != nil {
		return nil, fmt.Errorf("scan %s: %w", dir, err)
	}

	// Hash the large files that the index does not know, on every core.
	var large []largeFile
	n := 0
	for _, w := range workers {
		large = append(large, w.large...)
		n += w.found
	}
	paths := make([]string, len(large))
	for i, l := range large {
		paths[i] = l.path
	}
	for i, r := range HashFiles(paths, 0) {
		if r.Err != nil {
			return nil, fmt.Errorf("scan %s: %w", dir, r.Err)
		}
		l := large[i]
		l.entry.Digest = r.Digest
		l.key.Digest = r.Digest
		ix.record(l.path, l.key)
	}

	if n == 0 {
		return &Tree{}, nil
	}
	return &Tree{Entries: top.flatten(make([]TreeEntry, 0, n))}, nil
}

// scanQueueSize is the number of jobs that can wait for a worker. A worker
// that finds the queue full does the job itself, and tries the queue again
// for the next one.
const scanQueueSize = 256

// scanPart is the number of files of a folder in one job, so that the
// files of a large folder are statted and hashed on every core.
const scanPart = 256

// scanner is the state of one ScanTree walk shared by its workers.
type scanner struct {
	root   string
	prefix string // root and a separator, to put before a relative path
	ix     *Index

	queue   chan scanJob
	pending atomic.Int64 // jobs queued or being done from the queue

	failed atomic.Bool
	errMu  sync.Mutex
	err    error
}

// scanJob is one job of a walk: a folder to open and list when part is
// nil, else the files part.names[lo:hi] of an open folder to stat.
type scanJob struct {
	dir    scanDir
	part   *openFolder
	lo, hi int
}

// scanDir is a folder to scan: its path, its slash-separated path relative
// to the root with a trailing slash (empty for the root), and where its
// scan goes.
type scanDir struct {
	path, rel string
	out       *dirScan
}

// openFolder is a folder whose files are being statted: its descriptor,
// which the last of its jobs closes, its names in order, and its span of
// the index.
type openFolder struct {
	h     dirHandle
	rel   string
	names []string
	span  indexSpan
	out   *dirScan
	left  atomic.Int32 // the number of its jobs not done
}

// dirScan is the result of scanning one folder: its entries sorted by
// path, and the scans of its sub-folders. Each sub-folder's entries go
// before the entry at its position at.
//
// The tree's order is that of the full paths. Everything under a folder
// "a" starts with "a/", so it comes after every name in the same folder
// that sorts before "a/", such as "a.txt", and before the rest.
type dirScan struct {
	entries []TreeEntry

	mu   sync.Mutex
	subs []subScan
}

type subScan struct {
	at   int
	rel  string
	scan *dirScan
}

// flatten appends the entries of d and of every folder under d to dst in
// path order.
func (d *dirScan) flatten(dst []TreeEntry) []TreeEntry {
	slices.SortFunc(d.subs, func(a, b subScan) int { return strings.Compare(a.rel, b.rel) })
	i := 0
	for _, sub := range d.subs {
		dst = append(dst, d.entries[i:sub.at]...)
		i = sub.at
		dst = sub.scan.flatten(dst)
	}
	return append(dst, d.entries[i:]...)
}

// scanWorker is one worker's state: the number of entries it found, the
// large files it left to hash, and buffers it reuses from job to job.
type scanWorker struct {
	found  int
	large  []largeFile
	hashed []recordedEntry // the files the current job hashed, to record
	names  []string
	buf    []byte
}

// largeFile is a file to hash after the walk: its entry, its path and its
// stat data.
type largeFile struct {
	entry *TreeEntry
	path  string
	key   indexEntry
}

func newScanner(root string, ix *Index) *scanner {
	prefix := root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	return &scanner{root: root, prefix: prefix, ix: ix, queue: make(chan scanJob, scanQueueSize)}
}

// walk scans the root and every folder under it and returns the root's
// scan and the workers' state. It returns when every job is done or,
// after an error, skipped.
func (s *scanner) walk() (*dirScan, []*scanWorker) {
	top := &dirScan{}
	workers := make([]*scanWorker, runtime.GOMAXPROCS(0))
	s.pending.Store(1)
	s.queue <- scanJob{dir: scanDir{path: s.root, out: top}}
	var wg sync.WaitGroup
	for i := range workers {
		w := &scanWorker{buf: make([]byte, 32<<10)}
		workers[i] = w
		wg.Go(func() {
			for j := range s.queue {
				s.do(w, j)
				// The last job closes the queue. A job queues the jobs it
				// makes before it counts as done, so pending reaches zero
				// only when there is nothing left to queue.
				if s.pending.Add(-1) == 0 {
					close(s.queue)
				}
			}
		})
	}
	wg.Wait()
	return top, workers
}

// push hands j to an idle worker through the queue, or does it on w if
// the queue is full.
func (s *scanner) push(w *scanWorker, j scanJob) {
	s.pending.Add(1)
	select {
	case s.queue <- j:
	default:
		s.pending.Add(-1)
		s.do(w, j)
	}
}

func (s *scanner) do(w *scanWorker, j scanJob) {
	if j.part == nil {
		s.open(w, j.dir)
	} else {
		s.look(w, j.part, j.lo, j.hi)
	}
}

// open lists the folder d and splits its files into jobs. It does the
// first job itself.
func (s *scanner) open(w *scanWorker, d scanDir) {
	if s.failed.Load() {
		return
	}
	h, err := openDir(d.path)
	if err != nil {
		s.fail(err)
		return
	}
	w.names, err = h.readNames(w.names[:0], w.buf)
	if err != nil || len(w.names) == 0 {
		h.close()
		if err != nil {
			s.fail(err)
		}
		return
	}

	// In name order, the entries come out sorted by path. Each file has
	// its place in entries, which never moves, so large files can point
	// into it.
	f := &openFolder{h: h, rel: d.rel, names: slices.Clone(w.names), out: d.out}
	slices.Sort(f.names)
	f.span = s.ix.span(s.prefix + d.rel)
	d.out.entries = make([]TreeEntry, len(f.names))
	w.found += len(f.names)
	parts := (len(f.names) + scanPart - 1) / scanPart
	f.left.Store(int32(parts))
	for p := parts - 1; p > 0; p-- {
		s.push(w, scanJob{part: f, lo: p * scanPart, hi: min((p+1)*scanPart, len(f.names))})
	}
	s.look(w, f, 0, min(scanPart, len(f.names)))
}

// look fills in the entries of the files f.names[lo:hi], and pushes their
// sub-folders. The last job of f closes its descriptor.
func (s *scanner) look(w *scanWorker, f *openFolder, lo, hi int) {
	var subdirs []scanDir
	for i := lo; i < hi && !s.failed.Load(); i++ {
		if err := s.entry(w, f, i); err != nil {
			s.fail(err)
			break
		}
		if e := &f.out.entries[i]; e.Kind == KindDir {
			rel := e.Path + "/"
			subdirs = append(subdirs, scanDir{path: s.prefix + filepath.FromSlash(rel), rel: rel, out: &dirScan{}})
		}
	}
	if len(w.hashed) > 0 {
		s.ix.recordAll(w.hashed)
		w.hashed = w.hashed[:0]
	}
	if f.left.Add(-1) == 0 {
		f.h.close()
	}

	// Everything under sub-folder "a" goes before the first name that
	// sorts after "a/".
	if len(subdirs) > 0 {
		f.out.mu.Lock()
		for _, sub := range subdirs {
			slash := sub.rel[len(f.rel):]
			at := sort.Search(len(f.names), func(i int) bool { return f.names[i] > slash })
			f.out.subs = append(f.out.subs, subScan{at: at, rel: sub.rel, scan: sub.out})
		}
		f.out.mu.Unlock()
	}
	for _, sub := range subdirs {
		s.push(w, scanJob{dir: sub})
	}
}

// entry fills in the entry of the file f.names[i]. It hashes a small file
// that the index does not know, and leaves a large one to w.
func (s *scanner) entry(w *scanWorker, f *openFolder, i int) error {
	// On Linux the entry's path is the tail of the full one, which saves
	// an allocation per file.
	name := f.names[i]
	path := s.prefix + f.rel + name
	e := &f.out.entries[i]
	e.Path = path[len(s.prefix):]
	if filepath.Separator != '/' {
		e.Path = f.rel + name
		path = s.prefix + filepath.FromSlash(e.Path)
	}

	st, err := f.h.lstat(name)
	if err != nil {
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	e.Perm = st.mode.Perm()
	switch {
	case st.mode.IsDir():
		e.Kind = KindDir
	case st.mode&fs.ModeSymlink != 0:
		e.Kind, e.Perm = KindSymlink, 0
		if e.Target, err = f.h.readlink(name); err != nil {
			return &os.PathError{Op: "readlink", Path: path, Err: err}
		}
	case st.mode.IsRegular():
		e.Kind, e.Size = KindFile, st.key.Size
		return s.fileDigest(w, f, e, name, path, st.key)
	default:
		return fmt.Errorf("%s: unsupported file type %s", path, st.mode.Type())
	}
	return nil
}

// fileDigest sets the digest in e, the entry of the regular file name in f
// with the stat data key, from the index or by hashing the file. It leaves
// a large file that the index does not know to w, to hash after the walk.
func (s *scanner) fileDigest(w *scanWorker, f *openFolder, e *TreeEntry, name, path string, key indexEntry) error {
	if d, ok := s.ix.lookupIn(f.span, path, key); ok {
		e.Digest = d
		return nil
	}
	if key.Size >= hashBufferSize {
		w.large = append(w.large, largeFile{entry: e, path: path, key: key})
		return nil
	}
	d, err := f.h.hashSmall(name, path, key.Size)
	if err != nil {
		return err
	}
	e.Digest, key.Digest = d, d
	w.hashed = append(w.hashed, recordedEntry{path: path, indexEntry: key})
	return nil
}

// fail records err if it is the walk's first error, and stops the walk.
func (s *scanner) fail(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
	s.failed.Store(true)
}

func (s *scanner) firstErr() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// scanStat is the stat data of one directory entry: its mode, and its
// index key, which is its index entry without the digest.
type scanStat struct {
	mode fs.FileMode
	key  indexEntry
}
