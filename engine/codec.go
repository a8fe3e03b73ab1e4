package engine

import (
	"encoding/binary"
	"errors"
	"time"
	"unsafe"

	"github.com/hashicorp/hcl/v2"

	"github.com/mlbuild/mlb/cache"
)

// The encoding of the workspace's cached graph and result memo: a version
// string, then every field in a fixed order, strings and byte slices
// prefixed by their length and numbers as varints. Decoding slices every
// string out of one copy of the file, so a graph of a thousand stages
// costs a few allocations per stage where gob took about seventy.

type encoder struct{ buf []byte }

func (e *encoder) uint(n uint64) { e.buf = binary.AppendUvarint(e.buf, n) }
func (e *encoder) int(n int64)   { e.buf = binary.AppendVarint(e.buf, n) }

// raw writes b as it is; the reader knows its length.
func (e *encoder) raw(b []byte) { e.buf = append(e.buf, b...) }

func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) strs(list []string) {
	e.uint(uint64(len(list)))
	for _, s := range list {
		e.str(s)
	}
}

// strMap writes m's pairs sorted by key, so equal graphs encode alike.
func (e *encoder) strMap(m map[string]string) {
	e.uint(uint64(len(m)))
	for _, k := range sortedKeys(m) {
		e.str(k)
		e.str(m[k])
	}
}

func (e *encoder) rng(r hcl.Range) {
	e.str(r.Filename)
	for _, n := range []int{r.Start.Line, r.Start.Column, r.Start.Byte, r.End.Line, r.End.Column, r.End.Byte} {
		e.int(int64(n))
	}
}

func (e *encoder) refs(list []PathRef) {
	e.uint(uint64(len(list)))
	for _, r := range list {
		e.str(r.Name)
		e.str(r.Path)
		e.rng(r.Range)
	}
}

// encode returns cg in the cached form, version first.
func (cg *compiledGraph) encode() []byte {
	e := &encoder{buf: make([]byte, 0, 256*len(cg.Stages)+1024)}
	e.str(compiledVersion)
	e.buf = append(e.buf, cg.Key[:]...)
	e.str(string(cg.ParamsType))
	e.str(string(cg.Params))
	e.uint(uint64(len(cg.Blocks)))
	for _, b := range cg.Blocks {
		e.str(b.Name)
		e.rng(b.DeclRange)
	}
	e.uint(uint64(len(cg.Stages)))
	for i := range cg.Stages {
		s := &cg.Stages[i]
		e.str(s.Name)
		e.str(s.Description)
		e.refs(s.Inputs)
		e.refs(s.Outputs)
		e.strs(s.Metrics)
		e.strs(s.Argv)
		e.str(s.Shell)
		e.strMap(s.Env)
		e.str(s.Workdir)
		cacheOn := uint64(0)
		if s.Cache {
			cacheOn = 1
		}
		e.uint(cacheOn)
		e.int(int64(s.Timeout))
		e.strMap(s.Params)
		e.strs(s.Deps)
		e.str(s.Block)
	}
	if cg.Cache == nil {
		e.uint(0)
	} else {
		e.uint(1)
		e.str(cg.Cache.Remote)
		e.rng(cg.Cache.Range)
		e.rng(cg.Cache.RemoteRange)
	}
	return e.buf
}

var errBadEncoding = errors.New("damaged state file")

// decoder reads what encoder wrote. The first error sticks and
// every later read returns zero values.
// Its strings point into data, which nothing writes once decoding starts.
type decoder struct {
	data []byte
	err  error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errBadEncoding
	}
	d.data = nil
}

func (d *decoder) uint() uint64 {
	n, k := binary.Uvarint(d.data)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.data = d.data[k:]
	return n
}

func (d *decoder) int() int64 {
	n, k := binary.Varint(d.data)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.data = d.data[k:]
	return n
}

// count reads a length and checks it against what is left, so a damaged
// file cannot ask for a huge allocation.
func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.data)) {
		d.fail()
		return 0
	}
	return int(n)
}

// raw reads n bytes written by encoder.raw into dst.
func (d *decoder) raw(dst []byte) {
	if len(d.data) < len(dst) {
		d.fail()
		return
	}
	copy(dst, d.data)
	d.data = d.data[len(dst):]
}

func (d *decoder) str() string {
	n := d.count()
	if n == 0 {
		return ""
	}
	s := unsafe.String(&d.data[0], n)
	d.data = d.data[n:]
	return s
}

func (d *decoder) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	list := make([]string, n)
	for i := range list {
		list[i] = d.str()
	}
	return list
}

func (d *decoder) strMap() map[string]string {
	n := d.count()
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

func (d *decoder) rng() hcl.Range {
	r := hcl.Range{Filename: d.str()}
	for _, p := range []*int{&r.Start.Line, &r.Start.Column, &r.Start.Byte, &r.End.Line, &r.End.Column, &r.End.Byte} {
		*p = int(d.int())
	}
	return r
}

func (d *decoder) refs() []PathRef {
	n := d.count()
	if n == 0 {
		return nil
	}
	list := make([]PathRef, n)
	for i := range list {
		list[i] = PathRef{Name: d.str(), Path: d.str(), Range: d.rng()}
	}
	return list
}

// decodeCompiled parses data, the contents of a cached graph file. The
// graph's strings share data's memory: the caller must not change data.
func decodeCompiled(data []byte) (*compiledGraph, error) {
	d := &decoder{data: data}
	if d.str() != compiledVersion || len(d.data) < len(cache.Digest{}) {
		return nil, errBadEncoding
	}

	cg := &compiledGraph{}
	copy(cg.Key[:], d.data)
	d.data = d.data[len(cg.Key):]
	cg.ParamsType = []byte(d.str())
	cg.Params = []byte(d.str())
	cg.Blocks = make([]compiledBlock, d.count())
	for i := range cg.Blocks {
		cg.Blocks[i] = compiledBlock{Name: d.str(), DeclRange: d.rng()}
	}

	cg.Stages = make([]compiledStage, d.count())
	for i := range cg.Stages {
		s := &cg.Stages[i]
		s.Name = d.str()
		s.Description = d.str()
		s.Inputs = d.refs()
		s.Outputs = d.refs()
		s.Metrics = d.strs()
		s.Argv = d.strs()
		s.Shell = d.str()
		s.Env = d.strMap()
		s.Workdir = d.str()
		s.Cache = d.uint() == 1
		s.Timeout = time.Duration(d.int())
		s.Params = d.strMap()
		s.Deps = d.strs()
		s.Block = d.str()
	}

	if d.uint() == 1 {
		cg.Cache = &CacheBlock{Remote: d.str(), Range: d.rng(), RemoteRange: d.rng()}
	}
	if d.err != nil || len(d.data) != 0 {
		return nil, errBadEncoding
	}
	return cg, nil
}
