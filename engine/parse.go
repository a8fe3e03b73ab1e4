package engine

import (
	"bytes"
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// parallelParseMin is the size from which parseSplit parses a pipeline
// file in pieces on several cores. Below it one core takes a few
// milliseconds at most.
const parallelParseMin = 64 << 10

// parseSplit parses src, a pipeline file, in pieces on several cores, one
// piece per run of top-level blocks, and joins them into one body. A
// pipeline of 1,000 stages is 700 KB, and parsing it on one core takes
// 0.2 s of the first command after mlb.hcl changes.
//
// A piece starts at a line that begins a top-level item or a comment, when
// the last line before it that is not blank holds only "}". Inside a heredoc, a comment or a nested block
// such a line pair may occur too, but then the piece before it ends in an
// unclosed construct and fails to parse. parseSplit returns ok = false for
// that, for a small file, for any diagnostic, and for an attribute set in
// two pieces. The caller then parses the whole file as one, which reports
// the same diagnostics as always.
//
// The joined file has no navigation data, which only the text of
// diagnostics uses; the caller parses again before it reports any.
func parseSplit(src []byte) (*hcl.File, bool) {
	workers := runtime.GOMAXPROCS(0)
	if len(src) < parallelParseMin || workers < 2 {
		return nil, false
	}
	starts := splitPoints(src, 2*workers)
	if len(starts) < 2 {
		return nil, false
	}

	type piece struct {
		body  *hclsyntax.Body
		diags hcl.Diagnostics
	}
	pieces := make([]piece, len(starts))
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for i, start := range starts {
		end := len(src)
		if i+1 < len(starts) {
			end = starts[i+1].Byte
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f, diags := hclsyntax.ParseConfig(src[start.Byte:end], PipelineFile, start)
			body, _ := f.Body.(*hclsyntax.Body)
			pieces[i] = piece{body, diags}
		}()
	}
	wg.Wait()

	joined := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}}
	for _, p := range pieces {
		if len(p.diags) > 0 || p.body == nil {
			return nil, false
		}
		for name, attr := range p.body.Attributes {
			if _, dup := joined.Attributes[name]; dup {
				return nil, false
			}
			joined.Attributes[name] = attr
		}
		joined.Blocks = append(joined.Blocks, p.body.Blocks...)
	}
	first, last := pieces[0].body, pieces[len(pieces)-1].body
	joined.SrcRange = hcl.RangeBetween(first.SrcRange, last.SrcRange)
	joined.EndRange = last.EndRange
	return &hcl.File{Body: joined, Bytes: src}, true
}

// splitPoints returns the start of src and up to n-1 positions, near
// equal shares of src apart, where a line starts a top-level item or a
// comment and the last line before it that is not blank holds only "}".
func splitPoints(src []byte, n int) []hcl.Pos {
	points := []hcl.Pos{{Line: 1, Column: 1, Byte: 0}}
	next := len(src) / n
	line, afterClose := 1, false
	for off := 0; off < len(src); {
		end := bytes.IndexByte(src[off:], '\n')
		if end < 0 {
			end = len(src)
		} else {
			end += off
		}
		text := bytes.TrimRight(src[off:end], " \t\r")
		if len(text) > 0 {
			if off >= next && afterClose && startsItem(text[0]) {
				points = append(points, hcl.Pos{Line: line, Column: 1, Byte: off})
				next = off + len(src)/n
			}
			afterClose = string(text) == "}"
		}
		line++
		off = end + 1
	}
	return points
}

// startsItem reports whether a line that starts with c starts a block, an
// attribute or a comment.
func startsItem(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '#' || c == '/'
}
