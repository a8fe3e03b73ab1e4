package engine

// Events receives progress from a build. Calls may come from several
// goroutines at once; implementations must be safe for that.
type Events interface {
	// StageStarted is called when a stage begins its work: action is
	// "checking", "running", "restoring" or "downloading".
	StageStarted(name, action string)

	// StageFinished is called once per selected stage with its result.
	// A stage whose outputs a build left in the remote cache is the
	// exception: when a later stage needs them and they cannot be
	// downloaded, the stage runs after all, and starts and finishes again.
	StageFinished(r *StageRun)
}

type noEvents struct{}

func (noEvents) StageStarted(string, string) {}
func (noEvents) StageFinished(*StageRun)     {}
