//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/zeebo/blake3"
)

// rawHashBuffer is the in-memory buffer for the single-core BLAKE3 rate: it
// is hashed over and over until as many bytes as the file are done.
const rawHashBuffer = 64 << 20

// memoryFlatLimit is how much more peak RSS hashing the large file may take
// than hashing a 1 MiB file: the read buffers, not the file, set mlb's
// memory.
const memoryFlatLimit = 32 << 20

// hashWorkload times hashing one large file with mlb, b3sum and md5sum,
// with the file in the page cache and with only its pages evicted, and
// two files at once to show mlb hashing files in parallel.
func (b *bench) hashWorkload() (*workloadResult, error) {
	size := int64(2 << 30)
	if b.opts.quick {
		size = 256 << 20
	}
	dir := filepath.Join(b.work, "hash")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	big := filepath.Join(dir, "random.bin")
	halves := []string{filepath.Join(dir, "half-a.bin"), filepath.Join(dir, "half-b.bin")}
	small := filepath.Join(dir, "small.bin")
	logf("  writing %s of random bytes", formatBytes(size*2))
	if err := writeRandomFile(big, size, 1); err != nil {
		return nil, err
	}
	for i, h := range halves {
		if err := writeRandomFile(h, size/2, uint64(2+i)); err != nil {
			return nil, err
		}
	}
	if err := writeRandomFile(small, 1<<20, 4); err != nil {
		return nil, err
	}

	// mlb must print the digest b3sum prints: both are BLAKE3-256.
	var want string
	if b.has("b3sum") {
		out, err := commandOutput(dir, "b3sum", big)
		if err != nil {
			return nil, err
		}
		want, _, _ = strings.Cut(out, " ")
	}
	// Commands name the files relative to dir, where they run.
	bigName, halfNames, smallName := filepath.Base(big), []string{filepath.Base(halves[0]), filepath.Base(halves[1])}, filepath.Base(small)
	mlb := &contender{tool: "mlb", argv: []string{b.mlb, "debug", "hash", bigName}, dir: dir, check: func(out string) error {
		if got, _, _ := strings.Cut(out, " "); want != "" && got != want {
			return fmt.Errorf("mlb digest %s differs from b3sum's %s", got, want)
		}
		return nil
	}}
	peers := b.peerContenders(dir,
		[]string{"b3sum", "b3sum", bigName},
		[]string{"b3sum --num-threads 1", "b3sum", "--num-threads", "1", bigName},
		[]string{"md5sum", "md5sum", bigName},
	)
	raw := &contender{tool: "zeebo/blake3, 1 core, in memory", shown: fmt.Sprintf("(in mlbbench) blake3.Hasher.Write over a %d MiB buffer until %s are hashed", rawHashBuffer>>20, formatBytes(size)), inProcess: rawBLAKE3(size)}

	res := &workloadResult{title: "Hash one large file", about: []string{
		fmt.Sprintf("One file of %s of pseudo-random bytes. mlb hashes it with `mlb debug hash`, a hidden command that runs the file hashing used for stage inputs and outputs, and must print the digest b3sum prints. *Warm*: the file is in the page cache. *Cold*: before every run `posix_fadvise(POSIX_FADV_DONTNEED)` drops that file's pages, and only that file's. The single-core rate of zeebo/blake3, the BLAKE3 library mlb uses, is measured in the same rounds inside mlbbench over a %d MiB buffer.", formatBytes(size), rawHashBuffer>>20),
		fmt.Sprintf("*Two files*: two files of %s each, warm, in one `mlb debug hash` call, which hashes files in parallel, one per core.", formatBytes(size/2)),
	}}

	logf("  warm")
	warm := append([]*contender{mlb, raw}, peers...)
	if err := b.measureCase(res, "warm", warm, size); err != nil {
		return nil, err
	}
	warmCase := res.cases[len(res.cases)-1]

	logf("  cold")
	cold := append([]*contender{mlb}, peers...)
	evict := func(int) error { return evictFromPageCache(big) }
	for _, c := range cold {
		c.setup = evict
	}
	if err := b.measureCase(res, "cold", cold, size); err != nil {
		return nil, err
	}
	coldCase := res.cases[len(res.cases)-1]
	for _, c := range cold {
		c.setup = nil
	}

	logf("  two files")
	two := []*contender{{tool: "mlb, two files", argv: []string{b.mlb, "debug", "hash", halfNames[0], halfNames[1]}, dir: dir}}
	if b.has("b3sum") {
		two = append(two, &contender{tool: "b3sum, two files", argv: []string{"b3sum", halfNames[0], halfNames[1]}, dir: dir})
	}
	if err := b.measureCase(res, "two files, warm", two, size); err != nil {
		return nil, err
	}
	twoCase := res.cases[len(res.cases)-1]

	logf("  a 1 MiB file, for memory")
	one := []*contender{{tool: "mlb, 1 MiB file", argv: []string{b.mlb, "debug", "hash", smallName}, dir: dir}}
	if err := b.measureCase(res, "a 1 MiB file, warm", one, 0); err != nil {
		return nil, err
	}
	smallCase := res.cases[len(res.cases)-1]

	// Targets.
	rawRate := rate(size, warmCase.median(raw.tool))
	res.targets = append(res.targets,
		ratioAtLeast("cold: mlb throughput / b3sum throughput", rate(size, coldCase.median("mlb")), rate(size, coldCase.median("b3sum")), 0.9),
		ratioAtLeast("warm: mlb throughput / single-core zeebo/blake3 in memory", rate(size, warmCase.median("mlb")), rawRate, 0.95),
		ratioAtLeast("warm: mlb throughput / md5sum throughput", rate(size, warmCase.median("mlb")), rate(size, warmCase.median("md5sum")), 3.5),
		ratioAtLeast("two files: mlb throughput / single-core zeebo/blake3 in memory", rate(size, twoCase.median("mlb, two files")), rawRate, 1.5),
		memoryFlat(warmCase.stats["mlb"], smallCase.stats["mlb, 1 MiB file"], size),
	)
	return res, nil
}

// peerContenders returns a contender for each spec whose program is
// installed. A spec is the tool label followed by the argv.
func (b *bench) peerContenders(dir string, specs ...[]string) []*contender {
	var out []*contender
	for _, s := range specs {
		if b.has(s[1]) {
			out = append(out, &contender{tool: s[0], argv: s[1:], dir: dir})
		}
	}
	return out
}

// rawBLAKE3 returns an in-process run that hashes size bytes with one
// zeebo/blake3 hasher, in 1 MiB writes like a file read.
func rawBLAKE3(size int64) func() error {
	buf := make([]byte, rawHashBuffer)
	for i := range buf {
		buf[i] = byte(i * 2654435761 >> 13)
	}
	return func() error {
		h := blake3.New()
		for left := size; left > 0; {
			for off := 0; off < len(buf) && left > 0; off += 1 << 20 {
				n := min(int64(1<<20), left)
				_, _ = h.Write(buf[off : off+int(n)])
				left -= n
			}
		}
		h.Sum(nil)
		return nil
	}
}

// memoryFlat checks that hashing the large file took at most
// memoryFlatLimit more peak RSS than hashing a 1 MiB file.
func memoryFlat(large, small *stats, size int64) *targetCheck {
	c := &targetCheck{what: fmt.Sprintf("peak RSS hashing %s minus peak RSS hashing 1 MiB", formatBytes(size)), target: "≤ " + formatBytes(memoryFlatLimit)}
	if large == nil || small == nil {
		c.skipped = "not measured"
		return c
	}
	diff := large.maxRSS - small.maxRSS
	c.measured = formatBytes(max(diff, 0))
	if diff <= 0 {
		c.measured = "0"
	}
	c.pass = diff <= memoryFlatLimit
	c.value = float64(diff)
	return c
}

// commandOutput runs argv in dir and returns its standard output.
func commandOutput(dir string, argv ...string) (string, error) {
	c := &contender{tool: argv[0], argv: argv, dir: dir}
	_, out, err := runOnce(c, 0)
	return out, err
}
