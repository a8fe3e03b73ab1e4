package engine

import (
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/mlbuild/mlb/stages"
)

// groupFiles hands out the group files in the running folder, one per
// command running at the same time, and keeps them between commands.
type groupFiles struct {
	mu    sync.Mutex
	free  []*stages.GroupFile
	all   []*stages.GroupFile
	count int
}

// get returns a free group file, creating one when none is free, or nil
// when it cannot create one: the record is best effort.
func (p *groupFiles) get(dir string) *stages.GroupFile {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		g := p.free[n-1]
		p.free = p.free[:n-1]
		return g
	}
	p.count++
	g, err := stages.CreateGroupFile(filepath.Join(dir, "worker-"+strconv.Itoa(p.count)))
	if err != nil {
		slog.Debug("no record of running process groups", "err", err)
		return nil
	}
	p.all = append(p.all, g)
	return g
}

// put returns g, which get handed out, for the next command.
func (p *groupFiles) put(g *stages.GroupFile) {
	if g == nil {
		return
	}
	p.mu.Lock()
	p.free = append(p.free, g)
	p.mu.Unlock()
}

// removeAll deletes every group file. No command may be running.
func (p *groupFiles) removeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range p.all {
		_ = g.Remove()
	}
	p.all, p.free = nil, nil
}
