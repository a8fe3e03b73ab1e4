package engine

import (
	"bytes"
	"encoding/json"
	"runtime"
	"sync"

	"github.com/mlbuild/mlb/cache"
)

// parallelJSONMin is the length from which a list in a run record is
// encoded in pieces on several cores. The record of a build of 1,000
// stages with 10,000 source inputs is several megabytes of JSON, and its
// encoding was most of the CPU time spent after the last stage finished.
const parallelJSONMin = 512

// stageRuns is the list of a record's stage results.
type stageRuns []*StageRun

// MarshalJSON encodes a long list in pieces on several cores.
func (l stageRuns) MarshalJSON() ([]byte, error) {
	return marshalList([]*StageRun(l))
}

// sourceList is the list of a record's source inputs.
type sourceList []cache.Output

// MarshalJSON encodes a long list in pieces on several cores.
func (l sourceList) MarshalJSON() ([]byte, error) {
	return marshalList([]cache.Output(l))
}

// marshalList encodes list as a JSON array, as json.Marshal would, in one
// piece per core when it is long.
func marshalList[T any](list []T) ([]byte, error) {
	if list == nil {
		return []byte("null"), nil
	}
	workers := runtime.GOMAXPROCS(0)
	if len(list) < parallelJSONMin || workers < 2 {
		return json.Marshal(list)
	}
	pieces := make([][]byte, workers)
	errs := make([]error, workers)
	size := (len(list) + workers - 1) / workers
	var wg sync.WaitGroup
	for i := range workers {
		lo, hi := min(i*size, len(list)), min((i+1)*size, len(list))
		wg.Add(1)
		go func() {
			defer wg.Done()
			pieces[i], errs[i] = json.Marshal(list[lo:hi])
		}()
	}
	wg.Wait()
	var b bytes.Buffer
	b.WriteByte('[')
	for i, p := range pieces {
		if errs[i] != nil {
			return nil, errs[i]
		}
		// Each piece is an array: drop its brackets, keep its elements.
		inner := p[1 : len(p)-1]
		if len(inner) == 0 {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.Write(inner)
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}
