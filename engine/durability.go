package engine

import (
	"fmt"
	"time"
)

// SyncMode is the rule for when a build flushes what it stored to disk
// before it records its run. Every cache read verifies what it reads, so
// an entry that a power cut tore or emptied is a miss, never a wrong
// result. A flush only spares running the stages again after a power
// cut, and it waits for every file the build wrote, outputs included: a
// fifth of a first build of 1,000 small stages.
type SyncMode int

const (
	// SyncAuto flushes when the stages the build executed ran for
	// syncWorth or more in all. After a quicker build, the kernel writes
	// the entries back on its own within half a minute, as it does every
	// output of make or ninja.
	// NOTE: the store fsyncs the first 256 entries of a build that is not
	// a first build one by one in the background, as SyncAlways does,
	// because the verdict comes only at the end of the build.
	SyncAuto SyncMode = iota
	// SyncAlways flushes after every build that stored something.
	SyncAlways
	// SyncNever leaves writeback to the kernel, as on a CI machine whose
	// disk does not outlive the job.
	SyncNever
)

// syncWorth is how long the stages of a build must have run in all for
// SyncAuto to flush: less is cheaper to run again than to wait for the
// disk after every build.
const syncWorth = 10 * time.Second

// SyncEnv is the environment variable that sets the SyncMode.
const SyncEnv = "MLB_SYNC"

// ParseSyncMode parses a value of SyncEnv; empty means auto.
func ParseSyncMode(s string) (SyncMode, error) {
	switch s {
	case "", "auto":
		return SyncAuto, nil
	case "always":
		return SyncAlways, nil
	case "never":
		return SyncNever, nil
	}
	return SyncAuto, fmt.Errorf("invalid %s=%q: use auto, always or never", SyncEnv, s)
}

// flushes reports whether a build in mode m that produced rec flushes the
// cache before recording rec.
func (m SyncMode) flushes(rec *RunRecord) bool {
	switch m {
	case SyncAlways:
		return true
	case SyncNever:
		return false
	}
	var ran time.Duration
	for _, r := range rec.Stages {
		if r.State == StateExecuted {
			ran += r.Duration
		}
	}
	return ran >= syncWorth
}
