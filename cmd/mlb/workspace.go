package main

import (
	"github.com/mlbuild/mlb/engine"
)

// openWorkspace opens the workspace and its cache without loading the
// pipeline, for commands that read run records.
func openWorkspace(g *globalOptions) (*engine.Workspace, error) {
	root, err := engine.FindRoot(g.dir)
	if err != nil {
		return nil, err
	}
	return engine.OpenWorkspace(root, g.cacheDir)
}

// latestOrFind returns the run named by prefix, or the newest run when
// prefix is empty.
func latestOrFind(ws *engine.Workspace, prefix string) (*engine.RunRecord, error) {
	if prefix != "" {
		return engine.FindRun(ws.Store, prefix)
	}
	runs, err := engine.ListRuns(ws.Store)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, errNoRuns
	}
	return runs[0], nil
}

// openRun opens the workspace, takes its build lock when lock is set, and
// finds the run named by prefix, or the newest run when prefix is empty.
// On success the caller closes the workspace.
func openRun(g *globalOptions, prefix string, lock bool) (*engine.Workspace, *engine.RunRecord, error) {
	ws, err := openWorkspace(g)
	if err != nil {
		return nil, nil, err
	}
	if lock {
		if err := ws.Lock(); err != nil {
			ws.Close()
			return nil, nil, err
		}
	}
	rec, err := latestOrFind(ws, prefix)
	if err != nil {
		ws.Close()
		return nil, nil, err
	}
	return ws, rec, nil
}
