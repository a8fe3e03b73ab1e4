package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// gcFloor is the heap size below which the collector does not run, unless
// GOGC is set. Most commands finish with a live heap of a few MiB. A
// no-op build of a thousand stages keeps about 20 MiB. With Go's default
// of collecting at twice the live heap, it spent a tenth of its CPU time
// in four or five collections that freed little.
const gcFloor = 48 << 20

// minHeap is the live heap the runtime assumes before the first
// collection: its first goal is minHeap×GOGC/100.
const minHeap = 4 << 20

// tuneGC lets the heap grow to gcFloor before the first collection and
// to max(gcFloor, 2×live) after each one. Above gcFloor the rule is Go's
// default, so peak memory of large builds does not change. An explicit
// GOGC turns the tuning off.
func tuneGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(gcPercentFor(minHeap))
	// A finalizer runs once after each collection that finds its object
	// unreachable; setting it again on a new object keeps it running after
	// every cycle.
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var rearm func(*gcSentinel)
	rearm = func(*gcSentinel) {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetGCPercent(gcPercentFor(sample[0].Value.Uint64()))
		}
		runtime.SetFinalizer(&gcSentinel{}, rearm)
	}
	runtime.SetFinalizer(&gcSentinel{}, rearm)
}

// gcSentinel is allocated only to learn, through its finalizer, that a
// collection finished. Its pointer field keeps it out of the allocator's
// tiny blocks, which hold small objects without pointers several to a
// block and may never run their finalizers.
type gcSentinel struct{ _ *byte }

// gcPercentFor returns the GOGC value that puts the next collection at
// max(gcFloor, 2×live).
func gcPercentFor(live uint64) int {
	if live == 0 || live >= gcFloor/2 {
		return 100
	}
	return int(gcFloor*100/live) - 100
}
